// A node in a big cluster: K other nodes (500 by default) each announce their block over iBGP, and
// the node under test (once Gingham's speaker, once BIRD 2, same seat, same peers, same run) must
// end with every block in its kernel while every other node gets what it should from it:
//   mesh: the node-to-node mesh as Calico runs it, the node under test one of K+1 full-mesh
//         nodes: it takes K blocks and sends its own to each of the K.
//   rr:   the node under test is the route reflector of K clients: each client must get every
//         other client's block (K-1) and the reflector's own, K×K routes sent in all.
// Calico advises route reflectors above 50-100 nodes and saw a 1000-node mesh stall near 700
// (projectcalico/calico#1579): this shows where one Gingham node of such a mesh stands.
//
// The K nodes are simulated by one process in one namespace (bench/support/simulated-nodes.ts: one
// address and session each, the speaker's codec), not K daemons: what is measured is the node
// under test (time from its start until all is in place, its CPU and peak RSS, and its CPU in
// the 10 s after, when only keepalives flow). The simulated nodes peer only with it (the mesh's
// other K×(K-1)/2 sessions do not involve it).
//
// Run as root: npx tsx bench/bgp-mesh.ts [--nodes 100,500] [--modes mesh,rr] [--runs 1]
//   [--only gingham,bird] [--agent out/agent/gingham-agent | --tsx] [--timeout 300] [--out file.md]
// Gingham is the built executable's speaker (`gingham-agent bgp`), or with --tsx the checkout's.
import { existsSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BirdDaemon, GinghamDaemon } from '../agent/bgp/testing/daemons.ts';
import { type LabNode, NetnsLab, waitFor } from '../lab/testing/netns-lab.ts';
import { run } from '../lab/sh.ts';
import { KubeConfig } from '@kubernetes/client-node';
import { mintAgentCredential } from '../agent/manifests/credential.ts';
import { agentManifests } from '../agent/manifests/manifests.ts';
import { ipPool, nodeObject, startTestCluster, type TestCluster } from '../lab/testing/test-cluster.ts';
import { ginghamRouteProtocol } from '../shared/dataplane-plan/index.ts';
import { formatCidr, formatIPv4, parseIPv4 } from '../shared/net/index.ts';
import { BenchAgent } from './support/agent-process.ts';
import { clearRoutes, mainTablePrefixes } from './support/kernel-table.ts';
import { cpuSeconds, peakRssMb } from './support/process-stats.ts';
import type { SimulatedNodesConfig } from './support/simulated-nodes.ts';
import { loadText, median, ratio } from './support/summary.ts';
import { benchArgs } from './support/options.ts';

/** gingham: the speaker alone (`gingham-agent bgp`); agent: the whole agent (`gingham-agent run`, mesh only). */
type Seat = 'gingham' | 'agent' | 'bird';
type Mode = 'mesh' | 'rr';

interface Result {
  k: number;
  mode: Mode;
  seat: Seat;
  /** Ms from the start of the node under test until all K sessions were up / all was in place (undefined: never). */
  upMs?: number;
  doneMs?: number;
  /** What was in place when it ended: simulated nodes complete, blocks in the kernel. */
  complete: number;
  installed: number;
  cpuSeconds: number;
  /** CPU seconds used in the 10 s after convergence (keepalives only). */
  idleCpuSeconds: number;
  peakRssMb: number;
  load: string;
}

const cli = benchArgs(
  {
    nodes: { type: 'string', default: '100,500' },
    modes: { type: 'string', default: 'mesh,rr' },
    only: { type: 'string', default: 'gingham,agent,bird' },
    runs: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '300' },
    tsx: { type: 'boolean', default: false },
    agent: { type: 'string' },
    out: { type: 'string' },
  },
  'npx tsx bench/bgp-mesh.ts [--nodes 100,500] [--modes mesh,rr] [--only gingham,agent,bird] [--runs 1] [--timeout S] [--tsx | --agent FILE] [--out FILE]',
);
const sizes = cli.numbers('nodes');
const modes = cli.values.modes.split(',') as Mode[];
const seats = cli.values.only.split(',') as Seat[];
const runs = cli.number('runs');
const timeoutMs = cli.number('timeout') * 1000;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const useTsx = cli.values.tsx;
const agentExecutable = path.resolve(cli.values.agent ?? path.join(repoRoot, 'out/agent/gingham-agent'));
const GINGHAM_PROTOCOL = 72;
const AGENT_PROTOCOL = ginghamRouteProtocol;
const BIRD_PROTOCOL = 12;

/** The node under test and the simulated nodes share 10.200.0.0/16 on the lab's bridge. */
const NUT_ADDRESS = '10.200.255.1';
const simAddress = (i: number) => formatIPv4(parseIPv4('10.200.0.10') + i);
/** Blocks of /26 from 192.168.128.0; the node under test's is the K-th (the agent claims its own, 192.168.0.0/26, from IPAM). */
const block = (i: number) => formatCidr({ address: parseIPv4('192.168.128.0') + i * 64, prefixLength: 26 });

function birdConfig(k: number, mode: Mode): string {
  const peers: string[] = [];
  for (let i = 0; i < k; i++) peers.push(`protocol bgp n${i} from node { neighbor ${simAddress(i)} as 64512; }`);
  return `router id ${NUT_ADDRESS};
log stderr { error, fatal };
protocol device {}
protocol kernel { ipv4 { export where source = RTS_BGP; }; }
protocol static own { ipv4; route ${block(k)} blackhole; }
template bgp node {
  local ${NUT_ADDRESS} as 64512;
  ipv4 { import all; export all; };
  ${mode === 'rr' ? 'rr client;' : ''}
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 2;
}
${peers.join('\n')}
`;
}

function ginghamConfig(k: number, mode: Mode): Record<string, unknown> {
  const peers = [];
  for (let i = 0; i < k; i++) peers.push({ address: simAddress(i), asn: 64512, ...(mode === 'rr' ? { routeReflectorClient: true } : {}) });
  return { routerId: NUT_ADDRESS, asn: 64512, listen: NUT_ADDRESS, connectRetryTime: 1, peers, announce: [block(k)], kernel: true };
}

/** What each simulated node must be sent: the node under test's block, and in rr mode every other node's too. */
function expected(k: number, mode: Mode): Record<string, string[]> {
  const all = Array.from({ length: k + 1 }, (_, i) => block(i));
  return Object.fromEntries(Array.from({ length: k }, (_, i) => [simAddress(i), mode === 'mesh' ? [block(k)] : all.filter((_, j) => j !== i)]));
}

async function addAddresses(node: LabNode, addresses: string[]): Promise<void> {
  const batch = path.join(node.lab.dir, `${node.name}-addresses.batch`);
  writeFileSync(batch, addresses.map((a) => `addr add ${a}/16 dev eth0\n`).join(''));
  await run('ip', ['-n', node.ns, '-batch', batch]);
}

/** The control plane the whole agent runs against (started when the agent seat is measured). */
interface AgentCluster {
  cluster: TestCluster;
  kubeconfig: string;
}

async function startAgentCluster(lab: NetnsLab): Promise<AgentCluster> {
  const cluster = await startTestCluster({ address: lab.hostAddress, crds: [] });
  await cluster.apply(agentManifests());
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  // IPIP Always: the agent claims a block for its tunnel address, so it has a block to announce.
  await cluster.apply([nodeObject('nut', `${NUT_ADDRESS}/16`), ipPool('default-ipv4-ippool', { cidr: '192.168.0.0/16', ipipMode: 'Always', vxlanMode: 'Never' })]);
  const admin = new KubeConfig();
  admin.loadFromFile(cluster.plane.kubeconfig);
  const kubeconfig = path.join(lab.dir, 'agent.kubeconfig');
  writeFileSync(kubeconfig, (await mintAgentCredential(admin, 24 * 3600)).kubeconfig, { mode: 0o600 });
  return { cluster, kubeconfig };
}

async function measure(sims: LabNode, nut: LabNode, k: number, mode: Mode, seat: Seat, agentCluster?: AgentCluster): Promise<Result> {
  const configFile = path.join(sims.lab.dir, 'simulated-nodes.json');
  // The whole agent announces the block IPAM gives it: each node must get one prefix more than listed.
  const config: SimulatedNodesConfig = { nodes: Array.from({ length: k }, (_, i) => ({ address: simAddress(i), block: block(i) })), expected: seat === 'agent' ? Object.fromEntries(Array.from({ length: k }, (_, i) => [simAddress(i), []])) : expected(k, mode), ...(seat === 'agent' ? { extra: 1 } : {}) };
  writeFileSync(configFile, JSON.stringify(config));
  const baseline = await mainTablePrefixes(nut);
  const simulated = sims.spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'bench/support/simulated-nodes.ts'), configFile], { cwd: repoRoot });
  let latest = { up: 0, complete: 0 };
  let pending = '';
  simulated.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    if (lines.length) latest = JSON.parse(lines[lines.length - 1]!) as typeof latest;
  });
  let listening = false;
  simulated.stderr!.on('data', (chunk: Buffer) => {
    if (chunk.toString().includes('listening')) listening = true;
  });
  await waitFor('the simulated nodes to listen', () => listening || (simulated.exitCode !== null ? Promise.reject(new Error('simulated nodes exited')) : false), 60_000, 100);
  let pid: number | undefined;
  let stop: () => Promise<void>;
  /** Routes of its own besides the K blocks: the whole agent's blackhole for its block. */
  let own = 0;
  if (seat === 'agent') {
    // The other nodes as Node objects with Calico's address annotation: the agent meshes with each.
    await agentCluster!.cluster.apply(Array.from({ length: k }, (_, i) => ({ ...nodeObject(`sim-${i}`, `${simAddress(i)}/16`), metadata: { ...nodeObject(`sim-${i}`, `${simAddress(i)}/16`).metadata, labels: { bench: 'sim' } } })));
  }
  const t0 = Date.now();
  if (seat === 'agent') {
    const a = new BenchAgent(nut, nut.lab.dir, agentCluster!.kubeconfig, { nodeName: 'nut', autodetect: `can-reach=${simAddress(0)}`, ...(useTsx ? {} : { executable: agentExecutable }) });
    a.start();
    await waitFor('the agent to answer on its control socket', () => a.status().then(() => true), 120_000, 100);
    pid = a.pid;
    own = 1;
    stop = async () => {
      // SIGUSR2: a node leaving, the agent removes what it made (its block's blackhole, tunl0's routes).
      await a.stop('SIGUSR2');
      await agentCluster!.cluster.kubectl(['delete', 'nodes', '-l', 'bench=sim', '--wait=false']);
      if (process.env.BENCH_DEBUG) console.error(a.log.slice(-5000));
    };
  } else if (seat === 'gingham') {
    const g = new GinghamDaemon(nut, 'mesh', useTsx ? undefined : agentExecutable);
    await g.start(ginghamConfig(k, mode));
    pid = g.process?.pid;
    stop = () => g.stop('SIGTERM');
  } else {
    const b = new BirdDaemon(nut);
    await b.start(birdConfig(k, mode));
    pid = b.process?.pid;
    stop = () => b.stop();
  }
  let upMs: number | undefined;
  let doneMs: number | undefined;
  let installed = 0;
  try {
    for (;;) {
      installed = (await mainTablePrefixes(nut)) - baseline;
      if (upMs === undefined && latest.up >= k) upMs = Date.now() - t0;
      if (latest.complete >= k && installed >= k + own) {
        doneMs = Date.now() - t0;
        break;
      }
      if (Date.now() - t0 > timeoutMs) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const cpu = await cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, 10_000));
    const idle = (await cpuSeconds(pid)) - cpu;
    return { k, mode, seat, ...(upMs !== undefined ? { upMs } : {}), ...(doneMs !== undefined ? { doneMs } : {}), complete: latest.complete, installed, cpuSeconds: cpu, idleCpuSeconds: idle, peakRssMb: await peakRssMb(pid), load: loadText() };
  } finally {
    await stop();
    simulated.kill('SIGKILL');
    await clearRoutes(nut, [GINGHAM_PROTOCOL, AGENT_PROTOCOL, BIRD_PROTOCOL], baseline, 20_000).catch(async (error: Error) => {
      console.error(`  ${error.message}:\n${await nut.exec('ip', ['route', 'show'])}`);
    });
  }
}

function describe(r: Result): string {
  const s = (ms: number | undefined) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(2)} s`);
  const done = r.doneMs !== undefined ? `all in place in ${s(r.doneMs)}` : `gave up: ${r.complete} of ${r.k} nodes complete, ${r.installed} of ${r.k} blocks in the kernel`;
  return `${r.seat}: sessions up in ${s(r.upMs)}, ${done}, CPU ${r.cpuSeconds.toFixed(2)} s (then ${r.idleCpuSeconds.toFixed(2)} s in 10 s), peak RSS ${r.peakRssMb.toFixed(0)} MiB (load ${r.load})`;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the benchmark builds network namespaces');
  if (!useTsx && !existsSync(agentExecutable)) throw new Error(`no agent executable at ${agentExecutable}: build it (npm run build:agent), name it with --agent, or run the checkout with --tsx`);
  console.error(`load average at start: ${loadText()}; Gingham: ${useTsx ? 'checkout through tsx' : agentExecutable}`);
  const results: Result[] = [];
  if (Math.max(...sizes) > 510) throw new Error('at most 510 other nodes: their blocks are /26s of 192.168.128.0/17');
  const lab = await NetnsLab.create(22);
  let agentCluster: AgentCluster | undefined;
  try {
    const sims = await lab.node('sims', 2);
    const nut = await lab.node('nut', 3);
    await addAddresses(nut, [NUT_ADDRESS]);
    await addAddresses(sims, Array.from({ length: Math.max(...sizes) }, (_, i) => simAddress(i)));
    for (const k of sizes) for (const mode of modes) for (let run = 0; run < runs; run++) for (const seat of seats) {
      // The whole agent runs the node-to-node mesh; as a route reflector it would need Calico's
      // routeReflectorClusterID and BGPPeer selectors: its reflecting is the speaker's (seat gingham).
      if (seat === 'agent' && mode !== 'mesh') continue;
      if (seat === 'agent' && !agentCluster) agentCluster = await startAgentCluster(lab);
      const r = await measure(sims, nut, k, mode, seat, agentCluster).catch((error: Error) => {
        console.error(`  K=${k} ${mode} ${seat}: FAILED: ${error.message}`);
        return undefined;
      });
      if (!r) continue;
      console.error(`  K=${k} ${mode}${runs > 1 ? ` run ${run + 1}` : ''} ${describe(r)}`);
      results.push(r);
    }
  } finally {
    await agentCluster?.cluster.down();
    await lab.destroy();
  }
  const pick = (k: number, mode: Mode, seat: Seat) => results.filter((r) => r.k === k && r.mode === mode && r.seat === seat);
  const med = (rs: Result[], f: (r: Result) => number | undefined) => {
    const v = rs.map(f);
    return v.some((x) => x === undefined) ? NaN : median(v as number[]);
  };
  const secs = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : 'never');
  const lines = [`| K other nodes | mode | node under test | sessions up (s) | all in place (s) | nodes complete | CPU (s) | CPU in 10 s after (s) | peak RSS (MiB) |${runs > 1 ? ` (median of ${runs})` : ''}`, '|---|---|---|---|---|---|---|---|---|'];
  for (const k of sizes) for (const mode of modes) for (const seat of seats) {
    const rs = pick(k, mode, seat);
    if (rs.length === 0) continue;
    lines.push(`| ${k} | ${mode} | ${seat === 'gingham' ? 'Gingham speaker' : seat === 'agent' ? 'Gingham agent' : 'BIRD 2'} | ${secs(med(rs, (r) => r.upMs))} | ${secs(med(rs, (r) => r.doneMs))} | ${Math.min(...rs.map((r) => r.complete))} of ${k} | ${med(rs, (r) => r.cpuSeconds).toFixed(2)} | ${med(rs, (r) => r.idleCpuSeconds).toFixed(2)} | ${med(rs, (r) => r.peakRssMb).toFixed(0)} |`);
  }
  lines.push('', '| K | mode | Gingham | time Gingham/BIRD | CPU Gingham/BIRD | peak RSS Gingham/BIRD |', '|---|---|---|---|---|---|');
  for (const k of sizes) for (const mode of modes) for (const seat of ['gingham', 'agent'] as const) {
    const g = pick(k, mode, seat), b = pick(k, mode, 'bird');
    if (g.length === 0 || b.length === 0) continue;
    lines.push(`| ${k} | ${mode} | ${seat === 'gingham' ? 'speaker' : 'agent'} | ${ratio(med(g, (r) => r.doneMs), med(b, (r) => r.doneMs))} | ${ratio(med(g, (r) => r.cpuSeconds), med(b, (r) => r.cpuSeconds))} | ${ratio(med(g, (r) => r.peakRssMb), med(b, (r) => r.peakRssMb))} |`);
  }
  lines.push('', `Load average (1, 5, 15 min) at the end of each measurement: ${[...new Set(results.map((r) => r.load))].join(' / ')} (${os.cpus().length} cores).`);
  const table = lines.join('\n');
  console.log(table);
  const out = cli.values.out;
  if (out) await writeFile(out, table + '\n');
}

await main();
