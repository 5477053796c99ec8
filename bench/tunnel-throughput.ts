// The user-space tunl0 against the kernel's own devices (#20 part 2): TCP throughput with one
// stream and with four (iperf3), and request/response latency (the agent's own `measure` client,
// TCP_RR as netperf runs it, and ICMP echo at 2 ms intervals), pod to pod on the seed's cluster in
// namespaces, with the agents programming each mode as users run them (`dataplane apply --watch
// --userspace-ipip`):
//   tunl0 helper          pod-1 -> pod-3 across subnets, through gingham-tunl0 on both nodes with
//                         its kernel fast path (BPF), as it runs wherever the kernel has tcx
//   tunl0 helper, pump    the same with GINGHAM_TUNL0_FASTPATH=off: every packet through the
//                         helper's user-space pump, as on kernels without BPF
//   kernel VXLAN          pod-1 -> pod-3, the same path through vxlan.calico
//   veth (direct)         pod-1 -> pod-2 in one subnet, no encapsulation: the wire's own speed
// Modes alternate round by round, so that a change of load falls on all of them alike; the
// medians and the ratios to kernel VXLAN are printed. Run it alone: two cores shared with a build
// give figures that swing 5-10x.
//
//   npx tsx bench/tunnel-throughput.ts [--rounds 3] [--seconds 5] [--mtu 1500]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { converged } from '../agent/dataplane/testing/convergence.ts';
import { SeedTopology, inNs, waitFor, type PoolMode, type SeedNode } from '../lab/testing/seed-topology.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    mtu: { type: 'string', default: '1500' },
    only: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const mtu = Number(values.mtu);

interface Path { name: string; mode: PoolMode; from: SeedNode; to: SeedNode; fastPath?: 'off' }
interface Figures { single: number; four: number; rrPerSecond: number; rrP50Us: number; rrP99Us: number; pingP50Us: number; pingP99Us: number }

const topology = new SeedTopology('t', mtu === 1500 ? {} : { mtu });
const [worker1, worker2, worker3] = topology.nodes as [SeedNode, SeedNode, SeedNode];
const all: Path[] = [
  { name: 'tunl0 helper', mode: 'IPIP Always', from: worker1, to: worker3 },
  { name: 'tunl0 helper, pump', mode: 'IPIP Always', from: worker1, to: worker3, fastPath: 'off' },
  { name: 'kernel VXLAN', mode: 'VXLAN Always', from: worker1, to: worker3 },
  { name: 'veth (direct)', mode: 'Never', from: worker1, to: worker2 },
];
const paths = all.filter((p) => !values.only || values.only.split(',').some((o) => p.name.startsWith(o)));
const repo = path.resolve(import.meta.dirname, '..');
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function background(netns: string, args: string[]) {
  const child = spawn('ip', ['netns', 'exec', netns, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  return Object.assign(child, { output: () => out });
}

async function iperf(p: Path, streams: number): Promise<number> {
  const server = background(p.to.pod.netns, ['iperf3', '-s', '-1', '-p', '5301', '--forceflush']);
  try {
    await waitFor('iperf3 to listen', () => server.output().includes('listening'), 20_000);
    const report = JSON.parse(inNs(p.from.pod.netns, ['iperf3', '-c', p.to.pod.ip, '-p', '5301', '-t', String(seconds), '-P', String(streams), '-J'])) as {
      end: { sum_received: { bits_per_second: number } };
    };
    return report.end.sum_received.bits_per_second / 1e9;
  } finally {
    server.kill('SIGKILL');
  }
}

/** The agent's own request/response test (what the console's Measure page runs), pod to pod. */
async function requestResponse(p: Path): Promise<{ perSecond: number; p50Us: number; p99Us: number }> {
  const agent = [process.execPath, '--import', 'tsx', path.join(repo, 'agent/cli/bin.ts'), 'measure'];
  const server = background(p.to.pod.netns, [...agent, 'serve', '--here', '--port', '5302', '--lifetime', String(seconds + 30)]);
  try {
    await waitFor('the measuring server', () => server.output().includes('measuring server'), 30_000);
    const out = inNs(p.from.pod.netns, [...agent, 'run', '--here', '--to', p.to.pod.ip, '--port', '5302', '--seconds', String(seconds), '--streams', '1', '--json']);
    const { requestResponse: rr } = JSON.parse(out) as { requestResponse: { perSecond: number; p50Us: number; p99Us: number } };
    return rr;
  } finally {
    server.kill('SIGKILL');
  }
}

function ping(p: Path): { p50Us: number; p99Us: number } {
  const count = Math.round((seconds * 1000) / 2);
  const out = inNs(p.from.pod.netns, ['ping', '-n', '-i', '0.002', '-c', String(count), '-W', '1', p.to.pod.ip], { allowFail: true });
  const times = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
  if (times.length < count * 0.9) throw new Error(`ping ${p.name}: ${times.length} of ${count} answered`);
  return { p50Us: times[Math.floor(times.length / 2)]!, p99Us: times[Math.floor(times.length * 0.99)]! };
}

let agents: 'fast path' | 'pump' | undefined;

/** The agents (and with them their helpers) started anew when the path wants the other kind. */
async function agentsFor(p: Path): Promise<void> {
  const want = p.fastPath === 'off' ? 'pump' : 'fast path';
  if (agents === want) return;
  await topology.stopAgents();
  agents = want;
  if (want === 'pump') process.env.GINGHAM_TUNL0_FASTPATH = 'off';
  else delete process.env.GINGHAM_TUNL0_FASTPATH;
  topology.setMode(p.mode);
  for (const node of topology.nodes) topology.startAgent(node, ['--userspace-ipip']);
}

async function measure(p: Path): Promise<Figures> {
  await agentsFor(p);
  topology.setMode(p.mode);
  await converged(topology, p.mode, 60_000);
  const single = await iperf(p, 1);
  const four = await iperf(p, 4);
  const rr = await requestResponse(p);
  const icmp = ping(p);
  return { single, four, rrPerSecond: rr.perSecond, rrP50Us: rr.p50Us, rrP99Us: rr.p99Us, pingP50Us: icmp.p50Us, pingP99Us: icmp.p99Us };
}

async function main(): Promise<void> {
  topology.up();
  // No source/destination checks: the direct path sends pod addresses on the wire, which AWS's
  // checks (on by default in the seed) drop; the encapsulated paths do not care.
  topology.setSrcDstChecks(new Set());
  const results = new Map<string, Figures[]>(paths.map((p) => [p.name, []]));
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const p of paths) {
        const f = await measure(p);
        results.get(p.name)!.push(f);
        console.log(`round ${round} ${p.name.padEnd(20)} 1 stream ${f.single.toFixed(2)} Gbit/s, 4 streams ${f.four.toFixed(2)} Gbit/s, ` +
          `RR ${Math.round(f.rrPerSecond)}/s p50 ${f.rrP50Us.toFixed(0)} us p99 ${f.rrP99Us.toFixed(0)} us, ping p50 ${f.pingP50Us.toFixed(0)} us p99 ${f.pingP99Us.toFixed(0)} us (load ${load()})`);
      }
    }
  } finally {
    await topology.stopAgents();
    topology.cleanup();
  }
  const med = (name: string, key: keyof Figures) => median(results.get(name)!.map((f) => f[key]));
  const vxlan = 'kernel VXLAN';
  console.log(`\nmedians of ${rounds} rounds, ${seconds} s each, MTU ${mtu}:`);
  console.log('| path | 1 stream Gbit/s | 4 streams Gbit/s | RR/s | RR p50 us | RR p99 us | ping p50 us | ping p99 us |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const p of paths) {
    const keys: Array<keyof Figures> = ['single', 'four', 'rrPerSecond', 'rrP50Us', 'rrP99Us', 'pingP50Us', 'pingP99Us'];
    console.log(`| ${p.name} | ${keys.map((k) => (k === 'single' || k === 'four' ? med(p.name, k).toFixed(2) : med(p.name, k).toFixed(0))).join(' | ')} |`);
  }
  for (const u of ['tunl0 helper', 'tunl0 helper, pump']) {
    if (!results.has(vxlan) || !results.has(u)) continue;
    const ratio = (k: keyof Figures) => (med(u, k) / med(vxlan, k)).toFixed(2);
    console.log(`${u} / kernel VXLAN: 1 stream ${ratio('single')}x (goal >= 0.35), 4 streams ${ratio('four')}x (goal >= 0.6), ` +
      `RR p99 ${ratio('rrP99Us')}x, ping p99 ${ratio('pingP99Us')}x (goal <= 1.3)`);
  }
}

await main();
