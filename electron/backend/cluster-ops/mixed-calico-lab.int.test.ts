// A mixed cluster on the lab (topology mixed-calico): master and worker-1 on the Gingham agent,
// worker-2 and worker-3 on Project Calico's own calico-node v3.31.0 (Felix, confd, BIRD 1.6, pods
// through Calico's CNI plugin), one IPPool. In each mode that can run here, pods on either kind
// reach pods on the other both ways; calicoctl ipam check is clean with blocks from both; the
// console's read-only views read a calico-node node; and the time each node takes to program the
// new mode after a pool patch is measured, calico-node's against Gingham's in the same run.
//
// calico-node is built on first use (about 5 minutes on two cores from an empty Go cache, 30 s
// with a warm one) before the lab is taken: run `npx tsx lab/calico-node/cli.ts build` first to
// keep the lab's lock short. The kernel here has no ipip module: calico-node cannot make tunl0, so
// IP-in-IP to or from a calico-node node is not tested (docs/mixed-clusters.md).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDefaultsFrom } from '../lab/lab-defaults.ts';
import { ConsoleBackend, type AttachedClient } from '../console-backend.ts';
import { formatIPv4, parseIPv4 } from '../../../shared/net/index.ts';
import { calicoctl } from '../../../lab/calicoctl/calicoctl.ts';
import { kubectlOk, poolName } from '../../../lab/cluster/objects.ts';
import { labSrcdst } from '../../../lab/lab.ts';
import { sleep } from '../../../lab/sh.ts';
import { useLab, type LabLease } from '../../../lab/testing/lab-fixture.ts';
import { curlFrom, routesOf, type Route } from '../../../lab/testing/probes.ts';
import { topologyFileFor } from '../../../lab/topology/topology.ts';
import { ensureCalicoNode } from '../../../lab/calico-node/build.ts';

let lab: LabLease;
let kubeconfig: string;
let consoleDir: string;
let backend: ConsoleBackend;
let client: AttachedClient;
let context: string;
const figures: string[] = [];

const calicoNodes = ['worker-2', 'worker-3'];
const nodes = ['master', 'worker-1', 'worker-2', 'worker-3'];
const subnetOf = (node: string) => (node === 'worker-3' ? 'subnet-2' : 'subnet-1');
const pods = () => lab.status.pods;
const podIp = (name: string) => pods().find((p) => p.name === name)!.ip;
/** The /26 block of a pod's address (the pool's blockSize). */
const blockOf = (ip: string) => `${formatIPv4((parseIPv4(ip) & ~63) >>> 0)}/26`;
const nodeAddress = (node: string) => lab.status.nodes.find((n) => n.name === node)!.address;

async function patchPool(spec: Record<string, unknown>): Promise<number> {
  await kubectlOk(kubeconfig, ['patch', 'ippools.crd.projectcalico.org', poolName, '--type=merge', '-p', JSON.stringify({ spec })]);
  return Date.now();
}

type Mode = 'vxlan-always' | 'vxlan-crosssubnet' | 'never' | 'ipip-crosssubnet';

/** The route a node must have to another node's pod block in `mode`, or why none can be checked. */
function expectedRoute(mode: Mode, from: string, to: string): ((r: Route) => boolean) | undefined {
  const same = subnetOf(from) === subnetOf(to);
  const direct = (r: Route) => r.gateway === nodeAddress(to) && r.dev === 'ens5';
  const viaGateway = (r: Route) => r.gateway === (subnetOf(from) === 'subnet-2' ? '10.240.2.1' : '10.240.1.1') && r.dev === 'ens5';
  const vxlan = (r: Route) => r.dev === 'vxlan.calico';
  if (mode === 'vxlan-always') return vxlan;
  if (mode === 'vxlan-crosssubnet') return same ? direct : vxlan;
  if (mode === 'never') return same ? direct : viaGateway;
  // IP-in-IP CrossSubnet: direct within the subnet; across it, IP-in-IP needs tunl0 on
  // calico-node's side, which this kernel lacks, so nothing is checked there.
  return same ? direct : undefined;
}

/**
 * After a patch at `patchedAt`: for each node, when every route it must have to the pod blocks of
 * the other workers was there (polled every 200 ms), in ms from the patch.
 */
async function convergence(mode: Mode, patchedAt: number, timeoutMs = 90_000): Promise<Record<string, number>> {
  const done: Record<string, number> = {};
  const targets = pods().map((p) => ({ node: p.node, block: blockOf(p.ip) }));
  while (Object.keys(done).length < nodes.length) {
    if (Date.now() - patchedAt > timeoutMs) {
      const missing = nodes.filter((n) => done[n] === undefined);
      const tables = await Promise.all(missing.map(async (n) => `${n}: ${(await routesOf(n)).map((r) => `${r.dst} ${r.gateway ?? ''} ${r.dev ?? r.type ?? ''}`).join('; ')}`));
      throw new Error(`${mode}: ${missing.join(', ')} did not converge within ${timeoutMs / 1000} s:\n${tables.join('\n')}`);
    }
    await Promise.all(
      nodes
        .filter((n) => done[n] === undefined)
        .map(async (node) => {
          const routes = await routesOf(node);
          const ok = targets
            .filter((t) => t.node !== node)
            .every((t) => {
              const want = expectedRoute(mode, node, t.node);
              return !want || routes.some((r) => r.dst === t.block && want(r));
            });
          if (ok) done[node] = Date.now() - patchedAt;
        }),
    );
    await sleep(200);
  }
  const kind = (n: string) => (calicoNodes.includes(n) ? 'calico-node' : 'Gingham');
  figures.push(`${mode}: ${nodes.map((n) => `${n} (${kind(n)}) ${(done[n]! / 1000).toFixed(1)} s`).join(', ')}`);
  return done;
}

/** curl between every ordered pair of pods in `pairs`, retried for a while (a pool change takes a moment to reach every node). */
async function reachable(pairs: Array<[string, string]>, deadlineMs = 60_000): Promise<string[]> {
  const deadline = Date.now() + deadlineMs;
  let failing = pairs;
  while (failing.length > 0 && Date.now() < deadline) {
    const results = await Promise.all(failing.map(async ([from, to]) => ({ from, to, r: await curlFrom(from, podIp(to), 3) })));
    failing = results.filter(({ to, r }) => r.code !== 0 || !r.body.includes(to)).map(({ from, to }) => [from, to]);
    if (failing.length > 0) await sleep(1000);
  }
  return failing.map(([from, to]) => `${from} -> ${to}`);
}

const everyPair = (names: string[]): Array<[string, string]> => names.flatMap((a) => names.filter((b) => b !== a).map((b) => [a, b] as [string, string]));

beforeAll(async () => {
  const started = Date.now();
  await ensureCalicoNode((line) => console.log(`[calico-node] ${line}`));
  figures.push(`calico-node build (or cache): ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const up = Date.now();
  lab = await useLab({ topologyFile: topologyFileFor('mixed-calico'), exclusive: true, fresh: true, waitMs: 1_200_000, progress: (line) => console.log(`[lab] ${line}`) });
  figures.push(`mixed lab up: ${((Date.now() - up) / 1000).toFixed(0)} s`);
  kubeconfig = lab.status.kubeconfig!;
  consoleDir = mkdtempSync(path.join(tmpdir(), 'gingham-mixed-console-'));
  const defaults = labDefaultsFrom(lab.status)!;
  context = defaults.context!;
  backend = new ConsoleBackend({ configDir: consoleDir, lab: defaults });
  client = backend.attach(() => {});
}, 2_400_000);

afterAll(async () => {
  client?.detach();
  if (lab) {
    await labSrcdst('all', true).catch(() => {});
    await lab.release();
  }
  if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
  console.log(`mixed-lab figures (load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}):\n  ${figures.join('\n  ')}`);
}, 300_000);

describe('a mixed cluster: Gingham agents and calico-node, one pool', () => {
  it('VXLAN Always: every pod reaches every other, across the two kinds, both ways', async () => {
    expect(await reachable(everyPair(['pod-1', 'pod-2', 'pod-3']))).toEqual([]);
    // Felix's VTEP on each calico-node node is a neighbour on the Gingham nodes, and the reverse.
    const [felixMac, ginghamRoutes] = await Promise.all([routesOf('worker-2'), routesOf('worker-1')]);
    expect(ginghamRoutes.some((r) => r.dst === blockOf(podIp('pod-2')) && r.dev === 'vxlan.calico')).toBe(true);
    expect(felixMac.some((r) => r.dst === blockOf(podIp('pod-1')) && r.dev === 'vxlan.calico')).toBe(true);
  }, 120_000);

  it('calicoctl ipam check finds 0 problems with blocks and affinities from both kinds', async () => {
    const check = await calicoctl(kubeconfig, ['ipam', 'check'], { asAdmins: true });
    expect(check.code, check.stderr + check.stdout).toBe(0);
    expect(check.stdout).toMatch(/found 0 problems/i);
    const blocks = await calicoctl(kubeconfig, ['ipam', 'show', '--show-blocks'], { asAdmins: true });
    for (const pod of ['pod-1', 'pod-2', 'pod-3']) expect(blocks.stdout).toContain(blockOf(podIp(pod)));
    const affinities = JSON.parse(await kubectlOk(kubeconfig, ['get', 'blockaffinities.crd.projectcalico.org', '-o', 'json'])) as { items: Array<{ spec: { node: string; state: string } }> };
    expect(new Set(affinities.items.filter((a) => a.spec.state === 'confirmed').map((a) => a.spec.node))).toEqual(new Set(['worker-1', 'worker-2', 'worker-3', 'master']));
  }, 120_000);

  it("the console's read-only views of a calico-node node: routes with Felix's and BIRD's protocols named, BIRD's sessions, Felix's health", async () => {
    const nodeId = 'lab-worker-2';
    await client.handlers['ssh.connect']({ nodeId });
    const routes = await client.handlers['node.routes']({ nodeId });
    expect(routes).toMatchObject({ source: 'kernel', readOnly: true });
    const blackhole = routes.routes.find((r) => r.destination === blockOf(podIp('pod-2')).split('/')[0] && r.genmask === '255.255.255.192');
    expect(blackhole).toMatchObject({ protocol: 80, owner: { kind: 'felix' } });
    const peers = await client.handlers['node.peers']({ nodeId });
    expect(peers).toMatchObject({ source: 'bird', readOnly: true, running: true });
    expect(peers.peers.find((p) => p.address === nodeAddress('worker-3'))).toMatchObject({ type: 'node-to-node mesh', state: 'up' });
    const overview = await client.handlers['cluster.overview']({ context });
    const worker2 = overview.nodes.find((n) => n.name === 'worker-2')!;
    expect(worker2.agent.message).toMatch(/calico-node.*Felix ready/);
    expect(worker2.bgp.state).toBe('running');
  }, 120_000);

  it("the doctor across the two kinds: traces both ways reachable, the node-pair table symmetric, the scan without false route findings on calico-node's nodes", async () => {
    for (const [source, destination] of [['pod-1', 'pod-2'], ['pod-3', 'pod-1'], ['pod-2', 'pod-3']] as const) {
      const trace = await client.handlers['doctor.trace']({ context, source, destination, port: 80 });
      expect(trace.verdict, `${source} -> ${destination}: ${trace.verdict.message}`).toMatchObject({ ok: true, code: 'reachable' });
      expect(trace.encapsulation).toBe('VXLAN');
    }
    const pairs = await client.handlers['doctor.pairs']({ context });
    expect(pairs.pairs).toHaveLength(12);
    expect(pairs.pairs.filter((p) => p.asymmetric)).toEqual([]);
    const scan = await client.handlers['doctor.scan']({ context });
    const wrong = scan.findings.filter((f) => f.severity === 'error' || /^(route|stale)-/.test(f.code));
    expect(wrong.map((f) => `${f.code} ${f.id}: ${f.message}`)).toEqual([]);
  }, 180_000);

  it('VXLAN CrossSubnet: direct within subnet-1, VXLAN to and from worker-3, pods reach each other both ways', async () => {
    // Direct routes carry pod addresses on the subnet: the fabric's source/destination checks go
    // off, as on a cloud where CrossSubnet and Never are used.
    await labSrcdst('all', false);
    const at = await patchPool({ ipipMode: 'Never', vxlanMode: 'CrossSubnet' });
    await convergence('vxlan-crosssubnet', at);
    expect(await reachable(everyPair(['pod-1', 'pod-2', 'pod-3']))).toEqual([]);
  }, 180_000);

  it('VXLAN Always again, measured from CrossSubnet', async () => {
    const at = await patchPool({ ipipMode: 'Never', vxlanMode: 'Always' });
    await convergence('vxlan-always', at);
    expect(await reachable(everyPair(['pod-1', 'pod-2', 'pod-3']))).toEqual([]);
  }, 180_000);

  it('no encapsulation: BIRD and the Gingham speaker in one mesh, routes by BGP both ways within subnet-1', async () => {
    const at = await patchPool({ ipipMode: 'Never', vxlanMode: 'Never' });
    await convergence('never', at);
    // Across the subnets the VPC router has no route to the pods' blocks (the seed's finding, docs/lab.md): within subnet-1 only.
    expect(await reachable(everyPair(['pod-1', 'pod-2']))).toEqual([]);
    const peers = await client.handlers['node.peers']({ nodeId: 'lab-worker-2' });
    for (const gingham of ['master', 'worker-1']) expect(peers.peers.find((p) => p.address === nodeAddress(gingham))?.state, JSON.stringify(peers.peers)).toBe('up');
  }, 180_000);

  it('ipipMode CrossSubnet: direct within subnet-1 between the kinds (IP-in-IP to worker-3 would need tunl0 on calico-node, which this kernel cannot make)', async () => {
    const at = await patchPool({ ipipMode: 'CrossSubnet', vxlanMode: 'Never' });
    await convergence('ipip-crosssubnet', at);
    expect(await reachable(everyPair(['pod-1', 'pod-2']))).toEqual([]);
  }, 180_000);
});
