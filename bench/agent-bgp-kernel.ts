// The agent's own path: how long until N routes a BGP peer sends are in the kernel through the
// whole agent (`gingham-agent run`: datastore on a real kube-apiserver, a BGPPeer resource naming
// the sender, the speaker, the desired state and the dataplane's reconciler), against BIRD 2 with
// its kernel protocol taking the same routes from the same sender in the same run.
//
// One BIRD 2 sender announces N /24s over eBGP (AS 65001) to the agent's node and to a BIRD
// receiver, each in its own namespace, measured one at a time (interleaved over --runs). The clock
// starts when the receiver says its session is Established and stops when the N routes are in its
// namespace's main table (counted from /proc/net/fib_triestat, bench/support/kernel-table.ts). A
// receiver that stops gaining routes for --stall seconds, or passes --timeout, is reported as
// "installed X of N" (the agent's path read at most 10,000 learned routes at first); its time is then
// not a result and no ratio is printed for it.
//
// Run as root: npx tsx bench/agent-bgp-kernel.ts [--sizes 10000,100000,1000000] [--runs 1]
//   [--timeout 600] [--stall 30] [--only agent,bird] [--agent out/agent/gingham-agent | --tsx] [--out file.md] [--hold S]
// The agent is the built executable (npm run build:agent), or with --tsx the checkout through tsx.
// `--only agent,executable,bird` measures both in one run: `agent` as --tsx says, `executable`
// the built one (--agent): tsx's compiling holds about 110 MiB of the agent's RSS, the same in
// every measurement, which the executable's figures are without. `--hold S` keeps the agent S s
// after all are installed and reports its peak then too (S > 90: its resync, a full pass that
// reads the whole kernel table, falls in it). Each RSS is split into anonymous and file-backed
// pages (the executable's own, 60 MiB of the agent's), with the agent's V8 heap and array buffers
// (#14). BENCH_HEAP_SNAPSHOTS=DIR: a heap snapshot of the agent once all are in;
// BENCH_AGENT_NODE_OPTIONS: Node options for the agent alone; BENCH_SMAPS: its biggest mappings.
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { BirdDaemon } from '../agent/bgp/testing/daemons.ts';
import { type LabNode, NetnsLab, waitFor } from '../lab/testing/netns-lab.ts';
import { mintAgentCredential } from '../agent/manifests/credential.ts';
import { agentManifests } from '../agent/manifests/manifests.ts';
import { ipPool, startTestCluster, type TestCluster } from '../lab/testing/test-cluster.ts';
import { ginghamRouteProtocol } from '../shared/dataplane-plan/index.ts';
import { BenchAgent } from './support/agent-process.ts';
import { birdEstablishedAt, birdImported, birdReceiverConfig, senderConfig } from './support/bird-configs.ts';
import { clearRoutes, mainTablePrefixes, protocolRoutes } from './support/kernel-table.ts';
import { cpuSeconds, peakRssMb, residentMappings, residentSplitMb, rssMb } from './support/process-stats.ts';
import { loadText, median, ratio } from './support/summary.ts';
import { benchArgs } from './support/options.ts';

type Receiver = 'agent' | 'executable' | 'bird';

/** process.memoryUsage() in MiB, as the agent's bgp.status reports it. */
interface HeapFigures { heapUsed: number; heapTotal: number; external: number; arrayBuffers: number }

interface Result {
  n: number;
  receiver: Receiver;
  /** Ms from Established until all N were received (in the RIB); undefined if they never were. */
  receivedMs?: number;
  /** Ms from Established until all N were in the kernel; undefined if they never were. */
  installedMs?: number;
  /** Routes in the kernel when the measurement ended. */
  installed: number;
  peakRssMb: number;
  /** The agent's RSS once running, before the sender's routes: what the routes add is peak - this. */
  idleRssMb?: number;
  /** With --hold: the peak RSS once the agent has run --hold seconds more (its 90 s resync reads the whole table). */
  heldPeakRssMb?: number;
  /**
   * The agent's resident pages split (smaps_rollup): anonymous and file-backed (the executable's
   * pages of Node and the bundle it touched), before the routes, the most anonymous seen while
   * they came (sampled every poll) and once all were in; and its V8 heap then (process.memoryUsage()).
   */
  memory?: {
    idle?: { anon: number; file: number };
    peakAnonMb: number;
    end?: { anon: number; file: number };
    idleHeap?: HeapFigures;
    endHeap?: HeapFigures;
    /** The most array buffers and V8 heap (heapTotal) any poll's bgp.status answer gave. */
    peakArrayBuffersMb?: number;
    peakHeapTotalMb?: number;
  };
  /** CPU seconds from the receiver's start until the end of the measurement. */
  cpuSeconds: number;
  load: string;
}

const cli = benchArgs(
  {
    sizes: { type: 'string', default: '10000,100000,1000000' },
    runs: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '600' },
    stall: { type: 'string', default: '30' },
    only: { type: 'string', default: 'agent,bird' },
    tsx: { type: 'boolean', default: false },
    agent: { type: 'string' },
    out: { type: 'string' },
    hold: { type: 'string', default: '0' },
  },
  'npx tsx bench/agent-bgp-kernel.ts [--sizes N,N] [--runs 1] [--timeout S] [--stall S] [--only agent,executable,bird] [--tsx] [--agent FILE] [--hold S] [--out FILE]',
);
const sizes = cli.numbers('sizes');
const runs = cli.number('runs');
const timeoutMs = cli.number('timeout') * 1000;
const stallMs = cli.number('stall') * 1000;
const holdMs = cli.number('hold') * 1000;
const receivers = cli.values.only.split(',') as Receiver[];
const SENDER_AS = 65001;
const BIRD_PROTOCOL = 12;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const useTsx = cli.values.tsx;
const agentExecutable = path.resolve(cli.values.agent ?? path.join(repoRoot, 'out/agent/gingham-agent'));

/** The node's main table before any receiver ran, by node. */
const pristine = new Map<LabNode, number>();

async function cleanTable(node: LabNode): Promise<number> {
  const before = pristine.get(node) ?? (await mainTablePrefixes(node));
  pristine.set(node, before);
  await clearRoutes(node, [ginghamRouteProtocol, BIRD_PROTOCOL], before);
  return before;
}

/**
 * Polls the kernel table (and the receiver's own count of received routes) until N are in, the
 * count stops growing for --stall, or --timeout passes. Returns the times from `t0` and the count.
 */
async function watch(node: LabNode, baseline: number, n: number, t0: number, received: () => Promise<number>, sample?: () => Promise<void>): Promise<{ receivedMs?: number; installedMs?: number; installed: number }> {
  let receivedMs: number | undefined;
  let installed = 0;
  let lastGrowth = Date.now();
  for (;;) {
    await sample?.();
    if (receivedMs === undefined && (await received().catch(() => 0)) >= n) receivedMs = Date.now() - t0;
    const now = (await mainTablePrefixes(node)) - baseline;
    if (now > installed) lastGrowth = Date.now();
    installed = now;
    if (installed >= n) {
      const installedMs = Date.now() - t0;
      // All installed before a poll saw all received: received by then.
      return { receivedMs: receivedMs ?? ((await received().catch(() => 0)) >= n ? installedMs : undefined), installedMs, installed } as { receivedMs?: number; installedMs: number; installed: number };
    }
    if (Date.now() - t0 > timeoutMs || Date.now() - lastGrowth > stallMs) return { ...(receivedMs !== undefined ? { receivedMs } : {}), installed };
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function measureBird(node: LabNode, sender: LabNode, n: number): Promise<Result> {
  const baseline = await cleanTable(node);
  const b = new BirdDaemon(node);
  await b.start(birdReceiverConfig(node, sender, true, SENDER_AS));
  const pid = b.process?.pid;
  const cpu0 = await cpuSeconds(pid);
  const t0 = await waitFor('BIRD established', async () => birdEstablishedAt(await b.birdc('show protocols all sender'), 'sender'), 60_000, 20);
  const memory: NonNullable<Result['memory']> = { peakAnonMb: 0 };
  const sample = async () => {
    const now = await residentSplitMb(pid);
    if (now) memory.peakAnonMb = Math.max(memory.peakAnonMb, now.anon);
  };
  const seen = await watch(node, baseline, n, t0, async () => birdImported(await b.birdc('show protocols all sender')), sample);
  const result: Result = { n, receiver: 'bird', ...seen, peakRssMb: await peakRssMb(pid), cpuSeconds: (await cpuSeconds(pid)) - cpu0, load: loadText(), memory };
  await sample();
  const end = await residentSplitMb(pid);
  if (end) memory.end = end;
  if (seen.installedMs !== undefined) {
    const own = await protocolRoutes(node, BIRD_PROTOCOL);
    if (own < n) throw new Error(`BIRD: ${own} routes of protocol ${BIRD_PROTOCOL} in the kernel, expected ${n}`);
  }
  await b.stop();
  await cleanTable(node);
  return result;
}

const bgpPeer = (sender: LabNode) => ({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name: 'bench-sender' }, spec: { peerIP: sender.address, asNumber: SENDER_AS } });

async function measureAgent(cluster: TestCluster, node: LabNode, sender: LabNode, n: number, dir: string, kubeconfig: string, tsx: boolean): Promise<Result> {
  await cleanTable(node);
  const agent = new BenchAgent(node, dir, kubeconfig, { nodeName: 'agent', autodetect: 'interface=eth0', ...(tsx ? {} : { executable: agentExecutable }) });
  agent.start();
  try {
    await waitFor('the agent to answer on its control socket', () => agent.status().then(() => true), 120_000, 200);
    const pid = agent.pid;
    const cpu0 = await cpuSeconds(pid);
    // Its own routes (its block's blackhole) first, so that only the sender's are counted.
    await new Promise((r) => setTimeout(r, 3000));
    const baseline = await mainTablePrefixes(node);
    const idleRssMb = await rssMb(pid);
    const heap = async (): Promise<HeapFigures | undefined> => {
      const m = (await agent.bgp().catch(() => undefined))?.memory;
      const mib = (b: number) => b / 1048576;
      return m ? { heapUsed: mib(m.heapUsed), heapTotal: mib(m.heapTotal), external: mib(m.external), arrayBuffers: mib(m.arrayBuffers) } : undefined;
    };
    const idle = await residentSplitMb(pid);
    const memory: NonNullable<Result['memory']> = { ...(idle ? { idle } : {}), peakAnonMb: idle?.anon ?? 0 };
    const idleHeap = await heap();
    if (idleHeap) memory.idleHeap = idleHeap;
    const sample = async () => {
      const now = await residentSplitMb(pid);
      if (now) memory.peakAnonMb = Math.max(memory.peakAnonMb, now.anon);
    };
    await cluster.apply([bgpPeer(sender)]);
    // Every poll's answer carries the agent's memoryUsage(): the most array buffers and V8 heap seen.
    const peer = async () => {
      const status = await agent.bgp();
      memory.peakArrayBuffersMb = Math.max(memory.peakArrayBuffersMb ?? 0, status.memory.arrayBuffers / 1048576);
      memory.peakHeapTotalMb = Math.max(memory.peakHeapTotalMb ?? 0, status.memory.heapTotal / 1048576);
      return status.peers.find((p) => p.address === sender.address);
    };
    const t0 = await waitFor('the agent established with the sender', async () => {
      const p = await peer();
      return p?.info === 'Established' ? Date.parse(p.since) : undefined;
    }, 120_000, 20);
    const seen = await watch(node, baseline, n, t0, async () => (await peer())?.accepted ?? 0, sample);
    const result: Result = { n, receiver: tsx ? 'agent' : 'executable', ...seen, peakRssMb: await peakRssMb(pid), idleRssMb, cpuSeconds: (await cpuSeconds(pid)) - cpu0, load: loadText(), memory };
    await sample();
    const end = await residentSplitMb(pid);
    if (end) memory.end = end;
    const endHeap = await heap();
    if (endHeap) memory.endHeap = endHeap;
    // BENCH_SMAPS: the agent's biggest mappings once all are in (which anonymous, which of its file).
    if (process.env.BENCH_SMAPS) console.error(`    mappings (MiB): ${(await residentMappings(pid)).join('; ')}`);
    await snapshotHeap(pid, `${n}`);
    if (seen.installedMs !== undefined) {
      const own = await protocolRoutes(node, ginghamRouteProtocol);
      if (own < n) throw new Error(`agent: ${own} routes of protocol ${ginghamRouteProtocol} in the kernel, expected ${n}`);
    }
    if (holdMs > 0) {
      await new Promise((r) => setTimeout(r, holdMs));
      result.heldPeakRssMb = await peakRssMb(pid);
    }
    return result;
  } finally {
    // SIGTERM leaves the routes (a restart) and the flush below removes them: quicker than the
    // agent removing a million routes one by one, which the next measurement would wait for.
    await agent.stop('SIGTERM');
    await cluster.kubectl(['delete', 'bgppeers.crd.projectcalico.org', 'bench-sender', '--ignore-not-found']).catch(() => '');
    // BENCH_DEBUG: the agent's recomputations and passes (how many, and what each cost), then its last lines.
    if (process.env.BENCH_DEBUG) console.error(agent.log.split('\n').filter((l) => /desired state changed|dataplane reconciled/.test(l)).map((l) => l.replace(/"commands":\[[^\]]*\],?/, '')).join('\n'), agent.log.slice(-5_000));
    if (agent.log.includes('"level":50')) console.error(`  agent errors:\n${agent.log.split('\n').filter((l) => l.includes('"level":50')).slice(-5).join('\n')}`);
    await cleanTable(node);
  }
}

/**
 * BENCH_HEAP_SNAPSHOTS=DIR: a V8 heap snapshot of the agent once the routes are in, written by the
 * agent itself on SIGURG (BenchAgent gives it --heapsnapshot-signal then). The figures are read
 * before it, since a snapshot costs memory of its own (one before the routes would raise the peak).
 */
async function snapshotHeap(pid: number | undefined, what: string): Promise<void> {
  const dir = process.env.BENCH_HEAP_SNAPSHOTS;
  if (!dir || !pid) return;
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGURG');
  const file = await waitFor(`the agent's heap snapshot (${what})`, async () => {
    const made = readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    // Written once its size stops changing.
    if (!made) return undefined;
    const size = statSync(path.join(dir, made)).size;
    await new Promise((r) => setTimeout(r, 1000));
    return size > 0 && statSync(path.join(dir, made)).size === size ? made : undefined;
  }, 300_000, 500);
  renameSync(path.join(dir, file), path.join(dir, `agent-${what}-${file}`));
}

function mib(x: number | undefined): string {
  return x === undefined ? '-' : x.toFixed(0);
}

/** The memory figures of one agent measurement, for the log. */
function describeMemory(r: Result): string {
  const m = r.memory;
  if (!m) return '';
  const split = (s?: { anon: number; file: number }) => (s ? `${mib(s.anon)} anon + ${mib(s.file)} file` : '-');
  const heap = (h?: HeapFigures) => (h ? `heap ${mib(h.heapUsed)} used of ${mib(h.heapTotal)}, external ${mib(h.external)} (array buffers ${mib(h.arrayBuffers)})` : '-');
  const polled = m.peakArrayBuffersMb !== undefined ? `; most seen while they came: heap ${mib(m.peakHeapTotalMb)}, array buffers ${mib(m.peakArrayBuffersMb)}` : '';
  return `\n    resident MiB: before the routes ${split(m.idle)}; peak anon ${mib(m.peakAnonMb)}; all in ${split(m.end)}\n    V8 MiB: before ${heap(m.idleHeap)}; all in ${heap(m.endHeap)}${polled}`;
}

function describe(r: Result): string {
  const s = (ms: number | undefined) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(2)} s`);
  const done = r.installedMs !== undefined ? `installed in ${s(r.installedMs)}` : `installed ${r.installed} of ${r.n} (gave up)`;
  const idle = (r.idleRssMb !== undefined ? ` (${r.idleRssMb.toFixed(0)} MiB before the routes)` : '') + (r.heldPeakRssMb !== undefined ? `, peak ${r.heldPeakRssMb.toFixed(0)} MiB after ${holdMs / 1000} s more` : '');
  return `${r.receiver}: received in ${s(r.receivedMs)}, ${done}, CPU ${r.cpuSeconds.toFixed(2)} s, peak RSS ${r.peakRssMb.toFixed(0)} MiB${idle} (load ${r.load})${describeMemory(r)}`;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the benchmark builds network namespaces');
  if ((!useTsx || receivers.includes('executable')) && !existsSync(agentExecutable)) throw new Error(`no agent executable at ${agentExecutable}: build it (npm run build:agent), name it with --agent, or run the checkout with --tsx`);
  console.error(`load average at start: ${loadText()}; agent: ${useTsx ? 'checkout through tsx' : agentExecutable}`);
  const results: Result[] = [];
  const lab = await NetnsLab.create(21);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gingham-bench-agent-'));
  let cluster: TestCluster | undefined;
  try {
    const sender = await lab.node('sender', 2);
    const agentNode = await lab.node('agent', 3);
    const birdNode = await lab.node('bird', 4);
    cluster = await startTestCluster({ address: lab.hostAddress, crds: [] });
    await cluster.apply(agentManifests());
    await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
    await cluster.apply([
      { apiVersion: 'v1', kind: 'Node', metadata: { name: 'agent', labels: { 'kubernetes.io/hostname': 'agent' } } },
      ipPool('default-ipv4-ippool', { cidr: '192.168.0.0/16', ipipMode: 'Never', vxlanMode: 'Never' }),
      // The agent routes only what lies in a pool (shared/dataplane-plan/plan.ts; a route outside
      // every pool is a warning): the sender's prefixes (16.0.0.0/4) get a pool no node takes blocks from.
      ipPool('bench-routes', { cidr: '16.0.0.0/4', blockSize: 24, ipipMode: 'Never', vxlanMode: 'Never', nodeSelector: '!all()' }),
    ]);
    const admin = new KubeConfig();
    admin.loadFromFile(cluster.plane.kubeconfig);
    const kubeconfig = path.join(dir, 'agent.kubeconfig');
    writeFileSync(kubeconfig, (await mintAgentCredential(admin, 24 * 3600)).kubeconfig, { mode: 0o600 });
    for (const n of sizes) {
      const senderBird = new BirdDaemon(sender);
      const started = performance.now();
      await senderBird.start(senderConfig(sender, n, [agentNode, birdNode], { asn: SENDER_AS }), { timeoutMs: 300_000 });
      await waitFor('the sender to load its routes', async () => new RegExp(`^${n} of ${n} routes`, 'm').test(await senderBird.birdc('show route count')), 600_000, 500);
      console.error(`N=${n}: sender ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      for (let run = 0; run < runs; run++) {
        for (const receiver of receivers) {
          const r = await (receiver === 'bird' ? measureBird(birdNode, sender, n) : measureAgent(cluster, agentNode, sender, n, dir, kubeconfig, receiver === 'agent' && useTsx)).catch((error: Error) => {
            console.error(`  ${receiver}: FAILED: ${error.message}`);
            return undefined;
          });
          if (!r) continue;
          console.error(`  ${runs > 1 ? `run ${run + 1}: ` : ''}${describe(r)}`);
          results.push(r);
        }
      }
      await senderBird.stop();
    }
  } finally {
    await cluster?.down();
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  const label: Record<Receiver, string> = { agent: useTsx ? 'Gingham agent (tsx)' : 'Gingham agent', executable: 'Gingham agent (executable)', bird: 'BIRD 2 + kernel' };
  const lines = [`| N | receiver | received (s) | installed (s) | in the kernel at the end | CPU (s) | peak RSS (MiB) | RSS before the routes (MiB) | peak anonymous (MiB) | file-backed, all in (MiB) |${runs > 1 ? ` (median of ${runs})` : ''}`, '|---|---|---|---|---|---|---|---|---|---|'];
  const pick = (n: number, who: Receiver) => results.filter((r) => r.n === n && r.receiver === who);
  const med = (rs: Result[], f: (r: Result) => number | undefined) => {
    const v = rs.map(f);
    return v.some((x) => x === undefined) ? NaN : median(v as number[]);
  };
  const secs = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : 'never');
  for (const n of sizes) for (const who of receivers) {
    const rs = pick(n, who);
    if (rs.length === 0) continue;
    lines.push(`| ${n} | ${label[who]} | ${secs(med(rs, (r) => r.receivedMs))} | ${secs(med(rs, (r) => r.installedMs))} | ${Math.min(...rs.map((r) => r.installed))} of ${n} | ${med(rs, (r) => r.cpuSeconds).toFixed(2)} | ${med(rs, (r) => r.peakRssMb).toFixed(0)} | ${who === 'bird' ? '-' : med(rs, (r) => r.idleRssMb).toFixed(0)} | ${med(rs, (r) => r.memory?.peakAnonMb).toFixed(0)} | ${med(rs, (r) => r.memory?.end?.file).toFixed(0)} |`);
  }
  lines.push('', '| N | agent | installed time agent/BIRD | CPU agent/BIRD | peak RSS agent/BIRD | peak anonymous agent/BIRD |', '|---|---|---|---|---|---|');
  for (const n of sizes) for (const who of ['agent', 'executable'] as const) {
    const a = pick(n, who), b = pick(n, 'bird');
    if (a.length === 0 || b.length === 0) continue;
    lines.push(`| ${n} | ${label[who]} | ${ratio(med(a, (r) => r.installedMs), med(b, (r) => r.installedMs))} | ${ratio(med(a, (r) => r.cpuSeconds), med(b, (r) => r.cpuSeconds))} | ${ratio(med(a, (r) => r.peakRssMb), med(b, (r) => r.peakRssMb))} | ${ratio(med(a, (r) => r.memory?.peakAnonMb), med(b, (r) => r.memory?.peakAnonMb))} |`);
  }
  lines.push('', `Load average (1, 5, 15 min) at the end of each measurement: ${[...new Set(results.map((r) => r.load))].join(' / ')} (${os.cpus().length} cores).`);
  const table = lines.join('\n');
  console.log(table);
  const out = cli.values.out;
  if (out) await writeFile(out, table + '\n');
}

await main();
