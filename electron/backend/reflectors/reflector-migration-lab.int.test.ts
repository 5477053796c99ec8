// The migration from the node-to-node mesh to route reflectors (master and worker-3: one per
// subnet, as the advice proposes) and back on the lab, through the console's API as the GUI
// calls it, in the lab's IPIP Always pool (BGP carries every node's block). Throughout, every
// node's kernel routes are read over and over (one `ip route` per node after another, about every
// 100 ms each on this machine) and every node must always have a route to every other node's pod
// block; a ping every 10 ms on each ordered pair of pods must lose nothing. Between the two ways,
// the sessions are the reflectors' (worker-1 and worker-2 peer with master and worker-3 only) and
// worker-1's route to worker-2's block is the reflected one. And once from the command line
// (`npm run -s doctor -- --lab reflectors ...`).
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ReflectorAdvice, ReflectorMigrationReport } from '../../../shared/api/reflectors-contract.ts';
import { reflectorLabel, reflectorPeerName } from '../../../shared/api/reflectors-contract.ts';
import { kubectl } from '../../../lab/controlplane/kubectl.ts';
import { sleep } from '../../../lab/sh.ts';
import { useLab, type LabLease } from '../../../lab/testing/lab-fixture.ts';
import { agentStatus, bgpStatus, pingFrom, routesOf, type PingFigures, type PingRun } from '../../../lab/testing/probes.ts';
import { callAgent } from '../agent-rpc/agent-rpc.ts';
import { ConsoleBackend, type AttachedClient } from '../console-backend.ts';
import { labDefaultsFrom } from '../lab/lab-defaults.ts';
import { main } from '../migration/migration-cli.ts';
import { clusterNodeClient } from '../ssh/cluster-node-client.ts';

let lab: LabLease;
let dir: string;
let backend: ConsoleBackend;
let client: AttachedClient;
let context: string;
const progress: ReflectorMigrationReport[] = [];
const figures: string[] = [];

/** Back to the lab's own BGP (mesh on, no reflector, no BGPPeer) whatever a run left. */
async function restoreMesh(kubeconfig: string) {
  await kubectl(kubeconfig, ['patch', 'bgpconfigurations.crd.projectcalico.org', 'default', '--type', 'merge', '-p', '{"spec":{"nodeToNodeMeshEnabled":true}}']);
  for (const node of lab.status.nodes) {
    await kubectl(kubeconfig, ['annotate', 'node', node.name, 'projectcalico.org/RouteReflectorClusterID-']);
    await kubectl(kubeconfig, ['label', 'node', node.name, `${reflectorLabel}-`]);
  }
  await kubectl(kubeconfig, ['delete', 'bgppeers.crd.projectcalico.org', reflectorPeerName, '--ignore-not-found']);
}

beforeAll(async () => {
  lab = await useLab({ exclusive: true, waitMs: 1_800_000, progress: (line) => console.log(`[lab] ${line}`) });
  dir = mkdtempSync(path.join(tmpdir(), 'gingham-reflectors-'));
  const defaults = labDefaultsFrom(lab.status)!;
  context = defaults.context!;
  await restoreMesh(lab.status.kubeconfig!);
  backend = new ConsoleBackend({ configDir: path.join(dir, 'console'), lab: defaults });
  client = backend.attach((event, payload) => {
    if (event === 'reflectors.progress') progress.push(payload as ReflectorMigrationReport);
  });
}, 2_400_000);

afterAll(async () => {
  client?.detach();
  backend?.close();
  if (lab) {
    await restoreMesh(lab.status.kubeconfig!).catch((error: Error) => console.error(`restoring the mesh: ${error.message}`));
    await lab.release();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  console.log(`reflector migration figures (load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}):\n  ${figures.join('\n  ')}`);
}, 300_000);

/** Every node's routes read one after another until stopped: each read must hold every other node's blocks. */
function watchRoutes(blocksOf: Map<string, string[]>) {
  const holes: string[] = [];
  const reads = new Map<string, number[]>();
  let running = true;
  const loops = [...blocksOf.keys()].map(async (node) => {
    const wanted = [...blocksOf].filter(([owner]) => owner !== node).flatMap(([owner, blocks]) => blocks.map((b) => [owner, b] as const));
    while (running) {
      const at = Date.now();
      const routes = await routesOf(node);
      const have = new Set(routes.filter((r) => r.type !== 'blackhole' && r.type !== 'unreachable').map((r) => r.dst));
      for (const [owner, block] of wanted) if (!have.has(block)) holes.push(`${new Date(at).toISOString()} ${node} had no route to ${owner}'s ${block}`);
      reads.set(node, [...(reads.get(node) ?? []), at]);
      await sleep(50);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      const gaps = [...reads.values()].flatMap((times) => times.slice(1).map((t, i) => t - times[i]!)).sort((a, b) => a - b);
      return { holes, reads: gaps.length + reads.size, medianGapMs: gaps[Math.floor(gaps.length / 2)] ?? 0, maxGapMs: gaps.at(-1) ?? 0 };
    },
  };
}

async function migrate(to: 'reflectors' | 'mesh', nodes?: string[]): Promise<ReflectorMigrationReport> {
  progress.length = 0;
  const report = await client.handlers['reflectors.migrate']({ context, to, id: `lab-${to}`, ...(nodes ? { nodes } : {}) });
  figures.push(`to ${to}: ${report.state} in ${(report.ms / 1000).toFixed(1)} s; ${report.steps.map((s) => `${s.id} ${((s.ms ?? 0) / 1000).toFixed(1)} s`).join(', ')}`);
  expect(report.state, `${report.message}\n${report.log.join('\n')}`).toBe('done');
  expect(progress.length).toBeGreaterThan(report.steps.length);
  expect(progress.at(-1)?.state).toBe('done');
  return report;
}

const peersOf = async (node: string) => (await bgpStatus(lab.stateDir, node)).peers.map((p) => `${p.address} ${p.state}`).sort();
const addressOf = (node: string) => lab.status.nodes.find((n) => n.name === node)!.address.split('/')[0]!;

describe('from the node-to-node mesh to route reflectors and back on the lab', () => {
  it('advises master and worker-3 (one per subnet) for a 4-node mesh it calls fine', async () => {
    const advice = await client.handlers['reflectors.advice']({ context });
    expect(advice).toMatchObject({ topology: 'mesh', level: 'mesh-fine', meshSessions: 6, reflectorSessions: 5 });
    expect(advice.candidates.map((c) => c.node)).toEqual(['master', 'worker-3']);
    expect(advice.nodes.every((n) => n.role === 'mesh')).toBe(true);
    expect(advice.problems).toEqual([]);
  });

  it('does the same from the command line: the advice as JSON, to reflectors and back with exit 0', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
    try {
      expect(await main(['--lab', 'reflectors', '--json'])).toBe(0);
      const advice = JSON.parse(out.join('')) as ReflectorAdvice;
      expect(advice.candidates.map((c) => c.node)).toEqual(['master', 'worker-3']);
      out.length = 0;
      expect(await main(['--lab', 'reflectors', 'migrate', '--to', 'reflectors', '--nodes', 'master,worker-3'])).toBe(0);
      expect(out.join('')).toMatch(/^reflectors on .*: to reflectors master, worker-3: DONE in/);
      expect(await main(['--lab', 'reflectors', 'migrate', '--to', 'mesh'])).toBe(0);
      // Bad input changes nothing: a node that is not one, refused at the check.
      expect(await main(['--lab', 'reflectors', 'migrate', '--to', 'reflectors', '--nodes', 'worker-9'])).toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(await peersOf('worker-1')).toHaveLength(3);
  }, 600_000);

  it('migrates both ways with every node routing every other node’s block at every read, and no ping lost', async () => {
    const nodes = lab.status.nodes.map((n) => n.name);
    const blocksOf = new Map(await Promise.all(nodes.map(async (n) => [n, (await agentStatus(lab.stateDir, n)).state?.blocks ?? []] as const)));
    expect([...blocksOf.values()].every((b) => b.length > 0), JSON.stringify([...blocksOf])).toBe(true);
    const pods = lab.status.pods;
    expect(pods.length).toBeGreaterThanOrEqual(3);
    const pings: Array<{ from: string; to: string; run: PingRun }> = [];
    for (const a of pods) for (const b of pods) if (a.node !== b.node) pings.push({ from: a.name, to: b.name, run: pingFrom(a.name, b.ip) });
    const watch = watchRoutes(blocksOf);
    let loss: Array<{ from: string; to: string; figures: PingFigures }> = [];
    try {
      await sleep(1000);
      const there = await migrate('reflectors', ['master', 'worker-3']);
      expect(there.reflectors).toEqual(['master', 'worker-3']);
      // The clients peer with the reflectors only; the reflectors with everyone.
      expect(await peersOf('worker-1')).toEqual([`${addressOf('master')} up`, `${addressOf('worker-3')} up`].sort());
      expect(await peersOf('master')).toHaveLength(3);
      const advice = await client.handlers['reflectors.advice']({ context });
      expect(advice.topology).toBe('reflectors');
      expect(advice.problems).toEqual([]);
      expect(Object.fromEntries(advice.nodes.map((n) => [n.name, n.role]))).toEqual({ master: 'reflector', 'worker-1': 'client', 'worker-2': 'client', 'worker-3': 'reflector' });
      // worker-1's paths to worker-2's block come from the reflectors, with worker-2's next hop kept:
      // BGP carries it, not the agent's stand-in from IPAM (which stops once a reflector is complete).
      const rib = await callAgent(await clusterNodeClient(backend.ssh, backend.nodes, 'worker-1'), 'bgp.routes', {});
      const worker2Block = blocksOf.get('worker-2')![0]!;
      const paths = rib.routes.find((r) => r.prefix === worker2Block)?.paths ?? [];
      expect(paths.map((p) => [p.from.split(':')[0], p.nextHop]).sort()).toEqual([[addressOf('master'), addressOf('worker-2')], [addressOf('worker-3'), addressOf('worker-2')]]);
      const kernel = (await routesOf('worker-1')).find((r) => r.dst === worker2Block);
      expect(kernel).toMatchObject({ gateway: addressOf('worker-2'), dev: 'tunl0' });
      await sleep(2000); // a while on the reflectors
      await migrate('mesh');
      expect(await peersOf('worker-1')).toHaveLength(3);
      await sleep(1000);
    } finally {
      const watched = await watch.stop();
      loss = await Promise.all(pings.map(async (p) => ({ from: p.from, to: p.to, figures: await p.run.stop() })));
      figures.push(`route reads: ${watched.reads} (median ${watched.medianGapMs} ms apart per node, longest ${watched.maxGapMs} ms); holes: ${watched.holes.length}`);
      figures.push(`pings: ${loss.map((l) => `${l.from}->${l.to} ${l.figures.lost}/${l.figures.transmitted}`).join(', ')}`);
      expect(watched.holes, watched.holes.slice(0, 10).join('\n')).toEqual([]);
    }
    for (const l of loss) {
      // At least a second of pings at 10 ms: each ping ran through both migrations.
      expect(l.figures.transmitted, `${l.from} -> ${l.to}`).toBeGreaterThanOrEqual(100);
      expect(l.figures.lost, `${l.from} -> ${l.to}: ${JSON.stringify(l.figures)}`).toBe(0);
    }
  }, 900_000);
});
