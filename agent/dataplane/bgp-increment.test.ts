import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planDataplane, type DesiredRoute } from '../../shared/dataplane-plan/index.ts';
import type { BgpRoute } from '../../shared/dataplane-plan/desired-state.ts';
import { dataplaneStateSchema, type DataplaneState } from '../../shared/model/dataplane-state.ts';
import { BgpIncrement } from './bgp-increment.ts';
import { BgpPlanner, planBgpTable } from './bgp-plan.ts';
import { BgpRouteTable } from './bgp-route-table.ts';

const host = { mtu: 1500, gateway: '10.0.0.254' };
const modes = ['Never', 'Always', 'CrossSubnet'] as const;

/** A node with pools of each mode, own blocks and a pod, peers on and off its subnet (one accepting only VXLAN). */
function state(poolModes: { ipip: (typeof modes)[number]; vxlan: (typeof modes)[number] }, bgpRoutes: BgpRoute[]): DataplaneState {
  return dataplaneStateSchema.parse({
    node: { name: 'me', interface: 'eth0', address: '10.0.0.1/24', tunnelAddressesAllocated: true, ipipTunnelAddress: '192.168.0.1', vxlanTunnelAddress: '172.16.0.1' },
    pools: [
      { name: 'a', cidr: '192.168.0.0/16', ipipMode: poolModes.ipip },
      { name: 'v', cidr: '172.16.0.0/16', vxlanMode: poolModes.vxlan },
      { name: 'plain', cidr: '16.0.0.0/8', blockSize: 24 },
    ],
    blocks: ['192.168.0.0/26', '16.0.0.0/24'],
    endpoints: [{ name: 'ns/pod', ip: '192.168.0.5', interface: 'cali0123456789a' }],
    peers: [
      { name: 'near', address: '10.0.0.2/24', blocks: ['192.168.1.0/26', '172.16.1.0/26'], vxlanTunnelAddress: '172.16.1.0' },
      { name: 'far', address: '10.9.0.2/24', blocks: ['192.168.2.0/26'], accepts: ['VXLAN'] },
    ],
    hosts: ['10.0.0.1', '10.0.0.2', '10.9.0.2'],
    bgpRoutes,
  });
}

/** BGP routes: in each pool, outside every pool, on own blocks and the pod's /32, via each peer or an unknown next hop. */
const routeArb = fc.record({
  cidr: fc.constantFrom('192.168.1.0/26', '192.168.2.0/26', '192.168.3.0/26', '172.16.1.0/26', '172.16.2.0/26', '16.0.1.0/24', '16.0.2.0/24', '16.0.0.0/24', '192.168.0.0/26', '192.168.0.5/32', '10.50.0.0/16', '16.0.3.0/24'),
  nextHop: fc.constantFrom('10.0.0.2', '10.9.0.2', '10.0.0.7', '10.20.0.1'),
});
const routesArb = fc.uniqueArray(routeArb, { selector: (r) => r.cidr, maxLength: 12 });
const modeArb = fc.record({ ipip: fc.constantFrom(...modes), vxlan: fc.constantFrom(...modes) });

const byDst = (routes: readonly DesiredRoute[]) => new Map(routes.map((r) => [r.dst, r]));
/** What the kernel holds of a route: all but its owner. */
const inKernel = (routes: ReadonlyMap<string, DesiredRoute>) => new Map([...routes].map(([dst, { owner: _owner, ...route }]) => [dst, route]));

/** A pass's plan as the reconciler makes it: everything but the BGP routes as a document, the BGP routes as numbers. */
function compactPlan(full: DataplaneState) {
  const plan = planDataplane({ ...full, bgpRoutes: [] }, host);
  const planner = new BgpPlanner(full, host, byDst(plan.routes), plan.warnings);
  const bgp = planBgpTable(planner, BgpRouteTable.fromRoutes(full.bgpRoutes!).table);
  return { plan: { ...plan, warnings: planner.finish() }, bgp, planner };
}

describe('BgpIncrement: a step of BGP routes only', () => {
  it('leaves the kernel and the plan as the full plan of the new state has them, with its warnings', () => {
    fc.assert(fc.property(modeArb, routesArb, routesArb, (poolModes, before, after) => {
      const first = state(poolModes, before);
      const second = state(poolModes, after);
      const increment = new BgpIncrement();
      const planned = compactPlan(first);
      // The compact plan of a full pass is the full plan.
      expect(byDst([...planned.plan.routes, ...planned.bgp.routes()])).toEqual(byDst(planDataplane(first, host).routes));
      increment.remember(first, planned, host, [], new Set(['eth0', 'tunl0', 'vxlan.calico', 'cali0123456789a']), planned.plan.warnings, true);
      const step = increment.step({ ...second, bgpRoutes: [] }, BgpRouteTable.fromRoutes(second.bgpRoutes!).table);
      expect(step).toBeDefined();
      const full = planDataplane(second, host);
      expect(byDst([...step!.plan.routes, ...step!.bgp.routes()])).toEqual(byDst(full.routes));
      // The kernel: the first plan with the step's changes applied.
      const kernel = byDst([...planned.plan.routes, ...planned.bgp.routes()]);
      for (const batch of step!.changes.steps()) {
        if (!('routes' in batch)) continue;
        for (const change of batch.routes.toArray()) {
          if (change.op === 'del') {
            expect(kernel.has(change.dst)).toBe(true);
            kernel.delete(change.dst);
          } else {
            expect(kernel.has(change.route.dst)).toBe(change.op === 'replace');
            kernel.set(change.route.dst, change.route);
          }
        }
      }
      expect(inKernel(kernel)).toEqual(inKernel(byDst(full.routes)));
      for (const warning of full.warnings) expect(step!.plan.warnings).toContain(warning);
    }), { numRuns: 500 });
  });

  it('needs a full pass for a new route where another protocol has one, or on a device the kernel lacks', () => {
    const first = state({ ipip: 'Always', vxlan: 'Never' }, []);
    const planned = compactPlan(first);
    const foreign = { dst: '192.168.1.0/26', type: 'unicast', dev: 'eth0', onlink: false, scope: 0, protocol: 12, metric: 0, flags: [] };
    const route = [{ cidr: '192.168.1.0/26', nextHop: '10.0.0.2' }];
    const table = BgpRouteTable.fromRoutes(route).table;
    const increment = new BgpIncrement();
    increment.remember(first, planned, host, [foreign], new Set(['eth0', 'tunl0']), planned.plan.warnings, true);
    expect(increment.step(first, table)).toBeUndefined();
    increment.remember(first, planned, host, [], new Set(['eth0']), planned.plan.warnings, true);
    expect(increment.step(first, table)).toBeUndefined(); // via tunl0, which is not there
    increment.remember(first, planned, host, [], new Set(['eth0', 'tunl0']), planned.plan.warnings, true);
    expect(increment.step(first, table)!.changes.lines.switch).toEqual(['route add 192.168.1.0/26 via 10.0.0.2 dev tunl0 proto 71 onlink mtu 1480']);
  });
});
