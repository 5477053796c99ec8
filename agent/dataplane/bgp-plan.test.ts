// The BGP routes' plan as numbers (bgp-plan.ts) and what reads it (the routes' diff, the owners
// file), against the planner's own objects for the same state: the same routes, changes, warnings
// and owners, with one route object per kind (pool, next hop) instead of one per route.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { planDataplane, type DesiredRoute } from '../../shared/dataplane-plan/index.ts';
import type { BgpRoute } from '../../shared/dataplane-plan/desired-state.ts';
import { dataplaneStateSchema, type DataplaneState } from '../../shared/model/dataplane-state.ts';
import { BgpPlanner, planBgpTable } from './bgp-plan.ts';
import { BgpRouteTable } from './bgp-route-table.ts';
import { ChangeSet } from './changes.ts';
import { KernelBgpRoutes } from './kernel/kernel-bgp-routes.ts';
import { normaliseRoute, type KernelRoute } from './kernel/snapshot.ts';
import { diffRoutes } from './route-manager.ts';
import { ownersFile, writeOwners } from './route-owners.ts';

const host = { mtu: 1500, gateway: '10.0.0.254' };

function state(bgpRoutes: BgpRoute[]): DataplaneState {
  return dataplaneStateSchema.parse({
    node: { name: 'me', interface: 'eth0', address: '10.0.0.1/24', tunnelAddressesAllocated: true, ipipTunnelAddress: '192.168.0.1', vxlanTunnelAddress: '172.16.0.1' },
    pools: [
      { name: 'a', cidr: '192.168.0.0/16', ipipMode: 'CrossSubnet' },
      { name: 'v', cidr: '172.16.0.0/16', vxlanMode: 'Always' },
      { name: 'plain', cidr: '16.0.0.0/8', blockSize: 24 },
    ],
    blocks: ['192.168.0.0/26'],
    endpoints: [{ name: 'ns/pod', ip: '192.168.0.5', interface: 'cali0123456789a' }],
    peers: [
      { name: 'near', address: '10.0.0.2/24', blocks: ['192.168.1.0/26', '172.16.1.0/26'], vxlanTunnelAddress: '172.16.1.0' },
      { name: 'far', address: '10.9.0.2/24', blocks: ['192.168.2.0/26'] },
    ],
    hosts: ['10.0.0.1', '10.0.0.2', '10.9.0.2'],
    bgpRoutes,
  });
}

/** As the reconciler plans a state: everything but the BGP routes as a document, they as numbers. */
function compact(full: DataplaneState) {
  const plan = planDataplane({ ...full, bgpRoutes: [] }, host);
  const planner = new BgpPlanner(full, host, new Map(plan.routes.map((r) => [r.dst, r])), plan.warnings);
  const { table, duplicates } = BgpRouteTable.fromRoutes(full.bgpRoutes!);
  const bgp = planBgpTable(planner, table);
  return { plan, bgp, warnings: planner.finish(duplicates) };
}

/** A route as `ip -json route` reads it back once programmed (protocol 71 unless given). */
function inKernel(r: DesiredRoute, protocol = '71', gateway = r.gateway): KernelRoute {
  return normaliseRoute({
    ...(r.type === 'blackhole' ? { type: '6' } : {}),
    dst: r.dst.endsWith('/32') ? r.dst.slice(0, -3) : r.dst,
    ...(gateway ? { gateway } : {}),
    ...(r.dev ? { dev: r.dev } : {}),
    protocol,
    ...(r.scope === 'link' ? { scope: '253' } : {}),
    flags: r.onlink ? ['onlink'] : [],
    ...(r.mtu ? { metrics: [{ mtu: r.mtu }] } : {}),
  });
}

const routeArb = fc.record({
  cidr: fc.constantFrom('192.168.1.0/26', '192.168.2.0/26', '192.168.3.0/26', '172.16.2.0/26', '16.0.1.0/24', '16.0.2.0/24', '192.168.0.0/26', '192.168.0.5/32', '10.50.0.0/16'),
  nextHop: fc.constantFrom('10.0.0.2', '10.9.0.2', '10.0.0.7', '10.20.0.1'),
});

const dir = mkdtempSync(path.join(os.tmpdir(), 'gingham-bgp-plan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the BGP routes planned as numbers', () => {
  it('plans one route per pool and next hop, each prefix its kind with its own destination and block, as the full plan has them', () => {
    const routes = Array.from({ length: 1000 }, (_, i) => ({ cidr: `16.${(i >> 8) + 1}.${i & 255}.0/24`, nextHop: i % 2 ? '10.0.0.2' : '10.9.0.2' }));
    const full = state(routes);
    const { bgp, warnings } = compact(full);
    expect(bgp.kinds).toHaveLength(2);
    const planned = planDataplane(full, host);
    expect(bgp.routes()).toEqual(planned.routes.filter((r) => r.dst.startsWith('16.') && r.dst !== '16.0.0.0/24'));
    expect(bgp.ownerOf('16.1.3.0/24')).toEqual({ kind: 'remote-block', block: '16.1.3.0/24', pool: 'plain', mode: 'Never', node: 'near', path: 'direct' });
    expect(bgp.ownerOf('16.9.0.0/24')).toBeUndefined();
    expect(warnings).toEqual(planned.warnings);
  });

  it('diffs against the kernel as the planner\'s objects do: the same changes and warnings', () => {
    const kernelArb = fc.array(fc.record({ pick: fc.nat(20), how: fc.constantFrom('same', 'other hop', 'foreign') }), { maxLength: 8 });
    fc.assert(fc.property(fc.uniqueArray(routeArb, { selector: (r) => r.cidr, maxLength: 9 }), kernelArb, fc.boolean(), fc.uniqueArray(routeArb, { selector: (r) => r.cidr, maxLength: 9 }), (routes, kernelPicks, withTunl0, earlier) => {
      const full = state(routes);
      const everything = planDataplane(full, host).routes;
      // The kernel: some planned routes as planned, with another next hop, or another protocol's
      // in their place, and a stale route of ours the plan no longer has.
      const stale = (dst: string): KernelRoute => inKernel({ dst, type: 'unicast', dev: 'eth0', gateway: '10.0.0.2', onlink: true, scope: 'global', owner: { kind: 'endpoint', endpoint: 'x' } });
      // Stale routes of ours: at a prefix no state has, and at prefixes an earlier state's BGP routes had.
      const kernel: KernelRoute[] = [stale('16.0.9.0/24'), ...earlier.filter((r) => !everything.some((e) => e.dst === r.cidr)).map((r) => stale(r.cidr))];
      const taken = new Set<string>(kernel.map((r) => r.dst));
      for (const { pick, how } of kernelPicks) {
        const r = everything[pick % Math.max(1, everything.length)];
        if (!r || taken.has(r.dst)) continue;
        taken.add(r.dst);
        kernel.push(how === 'same' ? inKernel(r) : how === 'other hop' ? inKernel(r, '71', '10.0.0.99') : inKernel(r, '12'));
      }
      const devices = new Set(['eth0', 'vxlan.calico', 'cali0123456789a', ...(withTunl0 ? ['tunl0'] : [])]);
      const objects = new ChangeSet();
      const objectWarnings = diffRoutes(everything, kernel, { devices }, objects);
      const { plan, bgp } = compact(full);
      const numbers = new ChangeSet();
      const numberWarnings = diffRoutes(plan.routes, kernel, { devices, bgp }, numbers);
      const lines = (c: ChangeSet) => Object.fromEntries(Object.entries(c.lines).map(([phase, l]) => [phase, [...l].sort()]));
      expect(lines(numbers)).toEqual(lines(objects));
      expect([...numberWarnings].sort()).toEqual([...objectWarnings].sort());
      // The kernel read with ours at BGP prefixes kept as numbers: against this state's table, or
      // an earlier one's (a state that came during the read), the same again.
      for (const readWith of [bgp.table, BgpRouteTable.fromRoutes(earlier).table]) {
        const asNumbers = new KernelBgpRoutes(readWith);
        const rest = kernel.filter((route) => !asNumbers.take(route));
        const read = new ChangeSet();
        const readWarnings = diffRoutes(plan.routes, rest, { devices, bgp, kernelBgp: asNumbers }, read);
        expect(lines(read)).toEqual(lines(objects));
        expect([...readWarnings].sort()).toEqual([...objectWarnings].sort());
      }
      // A state without BGP routes now (BGP off) after a read that kept ours as numbers: the same
      // as the objects' diff of that state (the routes at BGP prefixes go, or are others' now).
      const off = { ...full, bgpRoutes: undefined };
      const offPlan = planDataplane(off, host).routes;
      const offObjects = new ChangeSet();
      const offWarnings = diffRoutes(offPlan, kernel, { devices }, offObjects);
      const asNumbers = new KernelBgpRoutes(bgp.table);
      const offRead = new ChangeSet();
      const offReadWarnings = diffRoutes(offPlan, kernel.filter((route) => !asNumbers.take(route)), { devices, kernelBgp: asNumbers }, offRead);
      expect(lines(offRead)).toEqual(lines(offObjects));
      expect([...offReadWarnings].sort()).toEqual([...offWarnings].sort());
    }), { numRuns: 300 });
  });

  it('writes the owners file as JSON.stringify of the whole record would', () => {
    process.env.GINGHAM_RUN_DIR = dir;
    const full = state([
      { cidr: '16.0.1.0/24', nextHop: '10.0.0.2' },
      { cidr: '192.168.2.0/26', nextHop: '10.9.0.2' },
      { cidr: '192.168.0.5/32', nextHop: '10.0.0.2' }, // the pod's: its endpoint route is kept
      { cidr: '172.16.2.0/26', nextHop: '10.0.0.2' }, // a VXLAN pool's: no BGP route
    ]);
    const { plan, bgp } = compact(full);
    writeOwners(plan.routes, bgp);
    const record = JSON.parse(readFileSync(ownersFile(), 'utf8')) as { routes: Record<string, unknown> };
    expect(record.routes).toEqual(Object.fromEntries(planDataplane(full, host).routes.map((r) => [r.dst, r.owner])));
  });
});
