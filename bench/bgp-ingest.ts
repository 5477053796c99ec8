// How fast does a receiver take in a full table? One BIRD 2 sender announces N prefixes over eBGP;
// Gingham, BIRD 2 and FRR receive them, each in its own network namespace, one after the other in
// the same run (same sender, same N, same machine; one at a time so that they do not compete for
// the cores). Measured: time from Established until all N are received (and, in the kernel
// variant, until all N are in the receiver's kernel table), and the receiver's peak RSS.
//
// Run as root: npx tsx bench/bgp-ingest.ts [--sizes 100000,1000000] [--no-kernel] [--only gingham,bird,frr]
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { BirdDaemon, FrrDaemon, GinghamDaemon } from '../agent/bgp/testing/daemons.ts';
import { type LabNode, NetnsLab, sh, waitFor } from '../agent/bgp/testing/netns-lab.ts';
import { frrConfig } from '../agent/bgp/testing/peer-configs.ts';

/** gingham: run through tsx, as `npm run agent -- bgp` does; gingham-bundled: one esbuild file on plain node, as an installed agent runs. */
type Receiver = 'gingham' | 'gingham-bundled' | 'bird' | 'frr';

interface Result {
  n: number;
  receiver: Receiver;
  kernel: boolean;
  receivedMs: number;
  installedMs?: number;
  peakRssMb: number;
}

const args = process.argv.slice(2);
const option = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const sizes = (option('--sizes') ?? '100000,1000000').split(',').map(Number);
const receivers = (option('--only') ?? 'gingham,gingham-bundled,bird,frr').split(',') as Receiver[];
const variants = args.includes('--no-kernel') ? [false] : args.includes('--only-kernel') ? [true] : [false, true];
const SENDER_AS = 65001;
const PROTOCOLS: Record<Receiver, number> = { gingham: 72, 'gingham-bundled': 72, bird: 12, frr: 186 };
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = path.join(repoRoot, '.cache', 'bench', 'gingham-agent.mjs');

/** Bundles the agent's command line into one file, as a release build would ship it. */
async function bundleAgent(): Promise<void> {
  await mkdir(path.dirname(BUNDLE), { recursive: true });
  await sh(path.join(repoRoot, 'node_modules', '.bin', 'esbuild'), [path.join(repoRoot, 'agent/cli/bin.ts'), '--bundle', '--platform=node', '--format=esm', `--outfile=${BUNDLE}`, '--log-level=error',
    "--banner:js=import { createRequire as __ginghamRequire } from 'module'; const require = __ginghamRequire(import.meta.url);"]);
}

function prefix(i: number): string {
  const a = 0x10000000 + i * 256;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.0/24`;
}

function senderConfig(node: LabNode, n: number, peers: LabNode[]): string {
  const routes: string[] = [];
  for (let i = 0; i < n; i++) routes.push(`  route ${prefix(i)} blackhole;`);
  return `router id ${node.address};
log stderr { error, fatal };
protocol device {}
protocol static feed {
  ipv4;
${routes.join('\n')}
}
${peers.map((p) => `protocol bgp to_${p.name} {
  local ${node.address} as ${SENDER_AS};
  neighbor ${p.address} as 64512;
  ipv4 { import none; export all; next hop self; };
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 2;
}`).join('\n')}
`;
}

function birdReceiverConfig(node: LabNode, sender: LabNode, kernel: boolean): string {
  return `router id ${node.address};
timeformat protocol "%F %T.%6f";
log stderr { error, fatal };
protocol device {}
${kernel ? 'protocol kernel { ipv4 { export all; }; }' : ''}
protocol bgp sender {
  local ${node.address} as 64512;
  neighbor ${sender.address} as ${SENDER_AS};
  ipv4 { import all; export none; };
}
`;
}

async function peakRssMb(p: ChildProcess | undefined): Promise<number> {
  if (!p?.pid) return 0;
  const status = await readFile(`/proc/${p.pid}/status`, 'utf8').catch(() => '');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function kernelCount(node: LabNode, protocol: number): Promise<number> {
  const out = await node.exec('ip', ['-4', 'route', 'show', 'proto', String(protocol)], { timeoutMs: 120_000 });
  let lines = 0;
  for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n', i + 1)) lines++;
  return lines;
}

async function measure(lab: NetnsLab, sender: LabNode, node: LabNode, receiver: Receiver, n: number, kernel: boolean): Promise<Result> {
  /** When the receiver says its session became Established (ms since the epoch), or undefined. */
  let established: () => Promise<number | undefined>;
  let count: () => Promise<number>;
  let stop: () => Promise<void>;
  let rss: () => Promise<number>;
  if (receiver === 'gingham' || receiver === 'gingham-bundled') {
    const g = new GinghamDaemon(node, 'bench', receiver === 'gingham-bundled' ? BUNDLE : undefined);
    await g.start({ routerId: node.address, listen: node.address, connectRetryTime: 1, peers: [{ address: sender.address, asn: SENDER_AS, import: 'all', export: 'none' }], ...(kernel ? { kernel: true } : {}) });
    established = async () => {
      const p = (await g.status()).peers[0]!;
      return p.info === 'Established' ? Date.parse(p.since) : undefined;
    };
    count = async () => (await g.status()).peers[0]!.accepted;
    rss = () => peakRssMb(g.process);
    stop = () => g.stop('SIGUSR2');
  } else if (receiver === 'bird') {
    const b = new BirdDaemon(node);
    await b.start(birdReceiverConfig(node, sender, kernel));
    established = async () => {
      const out = await b.birdc('show protocols all sender');
      const since = /sender\s+BGP\s+\S+\s+up\s+(\S+ \S+)\s+Established/.exec(out)?.[1];
      return since ? new Date(since.replace(' ', 'T')).getTime() : undefined;
    };
    count = async () => Number(/Routes:\s+(\d+) imported/.exec(await b.birdc('show protocols all sender'))?.[1] ?? 0);
    rss = () => peakRssMb(b.process);
    stop = () => b.stop();
  } else {
    const f = new FrrDaemon(node);
    await f.start(frrConfig(node, [{ address: sender.address, asn: SENDER_AS }], []), { zebra: kernel });
    const peer = async () => (JSON.parse(await f.vtysh(['show bgp summary json'])) as { ipv4Unicast?: { peers?: Record<string, { state: string; pfxRcd: number }> } }).ipv4Unicast?.peers?.[sender.address];
    established = async () => {
      const n = (JSON.parse(await f.vtysh([`show bgp neighbors ${sender.address} json`])) as Record<string, { bgpState?: string; bgpTimerUpMsec?: number }>)[sender.address];
      return n?.bgpState === 'Established' && n.bgpTimerUpMsec !== undefined ? Date.now() - n.bgpTimerUpMsec : undefined;
    };
    count = async () => (await peer())?.pfxRcd ?? 0;
    rss = async () => (await peakRssMb(f.process)) + (await peakRssMb(f.zebra));
    stop = () => f.stop();
  }
  // The clock starts when the receiver itself says Established (polling for that state would
  // lag behind a receiver busy taking in routes); it stops at the first poll that sees all N.
  const t0 = await waitFor(`${receiver} established`, established, 60_000, 20);
  await waitFor(`${receiver} to receive ${n} prefixes`, async () => (await count()) >= n, 600_000, 50);
  const receivedMs = Date.now() - t0;
  let installedMs: number | undefined;
  if (kernel) {
    // Counting means dumping the table, which holds the kernel's routing lock that installers
    // need too: poll sparingly (1 s for a million routes), so the measurement does not slow them.
    await waitFor(`${receiver} to install ${n} kernel routes`, async () => (await kernelCount(node, PROTOCOLS[receiver])) >= n, 900_000, n >= 500_000 ? 1000 : 250);
    installedMs = Date.now() - t0;
  }
  const peakRssMbValue = await rss();
  await stop();
  await node.exec('ip', ['route', 'flush', 'proto', String(PROTOCOLS[receiver])], { allowFail: true });
  void lab;
  return { n, receiver, kernel, receivedMs, ...(installedMs !== undefined ? { installedMs } : {}), peakRssMb: peakRssMbValue };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the benchmark builds network namespaces');
  const results: Result[] = [];
  if (receivers.includes('gingham-bundled')) {
    await bundleAgent();
    process.env.GINGHAM_BGP_NATIVE_DIR = path.join(repoRoot, 'agent', 'bgp', 'native', 'build', 'Release');
  }
  for (const n of sizes) {
    const lab = await NetnsLab.create(20);
    try {
      const sender = await lab.node('sender', 2);
      const nodes: Record<Receiver, LabNode> = {
        gingham: await lab.node('gingham', 3), 'gingham-bundled': await lab.node('gbundled', 6), bird: await lab.node('bird', 4), frr: await lab.node('frr', 5),
      };
      const senderBird = new BirdDaemon(sender);
      const started = performance.now();
      await senderBird.start(senderConfig(sender, n, Object.values(nodes)));
      await waitFor('the sender to load its routes', async () => new RegExp(`^${n} of ${n} routes`, 'm').test(await senderBird.birdc('show route count')), 600_000, 500);
      console.error(`N=${n}: sender ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      for (const kernel of variants) {
        for (const receiver of receivers) {
          const r = await measure(lab, sender, nodes[receiver], receiver, n, kernel);
          console.error(`  ${receiver}${kernel ? ' +kernel' : ''}: received in ${(r.receivedMs / 1000).toFixed(2)} s${r.installedMs !== undefined ? `, installed in ${(r.installedMs / 1000).toFixed(2)} s` : ''}, peak RSS ${r.peakRssMb.toFixed(0)} MB`);
          results.push(r);
        }
      }
    } finally {
      await lab.destroy();
    }
  }
  const lines: string[] = ['| N | variant | receiver | received (s) | installed (s) | peak RSS (MB) |', '|---|---|---|---|---|---|'];
  for (const r of results) {
    lines.push(`| ${r.n} | ${r.kernel ? 'kernel' : 'receive'} | ${r.receiver} | ${(r.receivedMs / 1000).toFixed(2)} | ${r.installedMs !== undefined ? (r.installedMs / 1000).toFixed(2) : '-'} | ${r.peakRssMb.toFixed(0)} |`);
  }
  lines.push('', '| N | variant | Gingham run | time Gingham/BIRD | time Gingham/FRR | RSS Gingham/BIRD | RSS Gingham/FRR |', '|---|---|---|---|---|---|---|');
  for (const n of sizes) {
    for (const kernel of variants) for (const who of ['gingham', 'gingham-bundled'] as const) {
      const pick = (x: Receiver) => results.find((r) => r.n === n && r.kernel === kernel && r.receiver === x);
      const g = pick(who), b = pick('bird'), f = pick('frr');
      if (!g) continue;
      const t = (r?: Result) => (r ? (kernel ? r.installedMs! : r.receivedMs) : NaN);
      const ratio = (x: number, y: number) => (Number.isFinite(x / y) ? (x / y).toFixed(2) : '-');
      lines.push(`| ${n} | ${kernel ? 'kernel (installed)' : 'receive'} | ${who === 'gingham' ? 'tsx' : 'bundled'} | ${ratio(t(g), t(b))} | ${ratio(t(g), t(f))} | ${ratio(g?.peakRssMb ?? NaN, b?.peakRssMb ?? NaN)} | ${ratio(g?.peakRssMb ?? NaN, f?.peakRssMb ?? NaN)} |`);
    }
  }
  const table = lines.join('\n');
  console.log(table);
  const out = option('--out');
  if (out) await writeFile(out, table + '\n');
  void sh;
}

await main();
