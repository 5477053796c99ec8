// How fast does a receiver take in a full table? One BIRD 2 sender announces N prefixes over eBGP;
// Gingham, BIRD 2 and FRR receive them, each in its own network namespace, one after the other in
// the same run (same sender, same N, same machine; one at a time so that they do not compete for
// the cores). Measured: time from Established until all N are received (and, in the kernel
// variant, until all N are in the receiver's kernel table), and the receiver's peak RSS.
//
// Each receiver is measured --runs times (interleaved: Gingham, BIRD, FRR, Gingham, ...); the
// summary gives the median of each figure and ratios of medians, with the range of the per-run
// time ratios (runs on a shared machine vary).
//
// Run as root: npx tsx bench/bgp-ingest.ts [--sizes 100000,1000000] [--no-kernel] [--only gingham,gingham-bundled,bird,frr]
//   [--runs 3] [--agent out/agent/gingham-agent (adds the built executable as receiver gingham-executable)]
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BirdDaemon, FrrDaemon, GinghamDaemon } from '../agent/bgp/testing/daemons.ts';
import { type LabNode, NetnsLab, waitFor } from '../lab/testing/netns-lab.ts';
import { run } from '../lab/sh.ts';
import { frrConfig } from '../agent/bgp/testing/peer-configs.ts';
import { birdEstablishedAt, birdImported, birdReceiverConfig, senderConfig } from './support/bird-configs.ts';
import { clearRoutes as clearKernelRoutes, mainTablePrefixes, protocolRoutes } from './support/kernel-table.ts';
import { cpuSeconds, peakRssMb } from './support/process-stats.ts';
import { median, ratio } from './support/summary.ts';
import { benchArgs } from './support/options.ts';

/**
 * gingham: run through tsx, as `npm run agent -- bgp` does; gingham-bundled: one esbuild file on
 * plain node, bundled as the agent's build bundles the BGP commands; gingham-executable: the built
 * agent (npm run build:agent), given with --agent.
 */
type Receiver = 'gingham' | 'gingham-bundled' | 'gingham-executable' | 'bird' | 'frr';
const isGingham = (r: Receiver) => r.startsWith('gingham');

interface Result {
  n: number;
  receiver: Receiver;
  kernel: boolean;
  receivedMs: number;
  installedMs?: number;
  peakRssMb: number;
  /** CPU seconds the receiver used from started (idle) until all were received: on a shared machine steadier than the wall clock. */
  cpuSeconds: number;
  /** The machine's 1-minute load average when the measurement ended (others' work included). */
  load: number;
}

const cli = benchArgs(
  {
    sizes: { type: 'string', default: '100000,1000000' },
    agent: { type: 'string' },
    only: { type: 'string', default: 'gingham,gingham-bundled,bird,frr' },
    runs: { type: 'string', default: '1' },
    'no-kernel': { type: 'boolean', default: false },
    'only-kernel': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
  'npx tsx bench/bgp-ingest.ts [--sizes N,N] [--runs 1] [--no-kernel | --only-kernel] [--only gingham,gingham-bundled,bird,frr] [--agent FILE] [--out FILE]',
);
const sizes = cli.numbers('sizes');
const agentExecutable = cli.values.agent ? path.resolve(cli.values.agent) : undefined;
const receivers = [...cli.values.only.split(','), ...(agentExecutable ? ['gingham-executable'] : [])] as Receiver[];
const runs = cli.number('runs');
const variants = cli.values['no-kernel'] ? [false] : cli.values['only-kernel'] ? [true] : [false, true];
const SENDER_AS = 65001;
const PROTOCOLS: Record<Receiver, number> = { gingham: 72, 'gingham-bundled': 72, 'gingham-executable': 72, bird: 12, frr: 186 };
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = path.join(repoRoot, '.cache', 'bench', 'gingham-agent.mjs');

/**
 * Bundles the BGP commands into one file, as the built executable holds them (it runs `bgp` from
 * its BGP-only bundle, agent/cli/bgp-bin.ts, not from the whole agent's; scripts/build-agent.ts).
 */
async function bundleAgent(): Promise<void> {
  await mkdir(path.dirname(BUNDLE), { recursive: true });
  await run(path.join(repoRoot, 'node_modules', '.bin', 'esbuild'), [path.join(repoRoot, 'agent/cli/bgp-bin.ts'), '--bundle', '--platform=node', '--format=esm', `--outfile=${BUNDLE}`, '--log-level=error', '--minify-whitespace', '--legal-comments=none',
    "--banner:js=import { createRequire as __ginghamRequire } from 'module'; const require = __ginghamRequire(import.meta.url);"]);
  // As scripts/build-agent.ts does: no whitespace or comments, no character above U+00FF (V8 holds the source one byte per character).
  await writeFile(BUNDLE, (await readFile(BUNDLE, 'utf8')).replace(/[^\u0000-\u00ff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/** The node's main table before any receiver ran (its connected route), by node. */
const pristine = new Map<LabNode, number>();

/** Removes every receiver's routes, back to what the node's table held before any receiver ran. */
async function clearRoutes(node: LabNode): Promise<void> {
  const before = pristine.get(node) ?? await mainTablePrefixes(node);
  pristine.set(node, before);
  await clearKernelRoutes(node, Object.values(PROTOCOLS), before);
}

async function measure(lab: NetnsLab, sender: LabNode, node: LabNode, receiver: Receiver, n: number, kernel: boolean): Promise<Result> {
  /** When the receiver says its session became Established (ms since the epoch), or undefined. */
  let established: () => Promise<number | undefined>;
  let count: () => Promise<number>;
  let stop: () => Promise<void>;
  let rss: () => Promise<number>;
  let cpu: () => Promise<number>;
  // The table before the receiver starts (its connected route only), so that only its routes are counted.
  if (kernel) await clearRoutes(node);
  const baseline = kernel ? pristine.get(node)! : 0;
  if (isGingham(receiver)) {
    const g = new GinghamDaemon(node, 'bench', receiver === 'gingham-bundled' ? BUNDLE : receiver === 'gingham-executable' ? agentExecutable : undefined);
    await g.start({ routerId: node.address, listen: node.address, connectRetryTime: 1, peers: [{ address: sender.address, asn: SENDER_AS, import: 'all', export: 'none' }], ...(kernel ? { kernel: true } : {}) });
    established = async () => {
      const p = (await g.status()).peers[0]!;
      return p.info === 'Established' ? Date.parse(p.since) : undefined;
    };
    count = async () => (await g.status()).peers[0]!.accepted;
    rss = () => peakRssMb(g.process?.pid);
    cpu = () => cpuSeconds(g.process?.pid);
    stop = () => g.stop('SIGUSR2');
  } else if (receiver === 'bird') {
    const b = new BirdDaemon(node);
    await b.start(birdReceiverConfig(node, sender, kernel, SENDER_AS));
    established = async () => birdEstablishedAt(await b.birdc('show protocols all sender'), 'sender');
    count = async () => birdImported(await b.birdc('show protocols all sender'));
    rss = () => peakRssMb(b.process?.pid);
    cpu = () => cpuSeconds(b.process?.pid);
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
    rss = async () => (await peakRssMb(f.process?.pid)) + (await peakRssMb(f.zebra?.pid));
    cpu = async () => (await cpuSeconds(f.process?.pid)) + (await cpuSeconds(f.zebra?.pid));
    stop = () => f.stop();
  }
  // The clock starts when the receiver itself says Established (polling for that state would
  // lag behind a receiver busy taking in routes); it stops at the first poll that sees all N.
  // CPU is counted from here, the receiver started, until all are received (reading it at
  // Established would come too late: a receiver busy taking in routes answers its status late).
  // The sender may connect before this: at 100k a fast receiver can be done by then, so the CPU
  // figure means something only for large N. It includes answering the status polls.
  const cpu0 = await cpu();
  const t0 = await waitFor(`${receiver} established`, established, 60_000, 20);
  await waitFor(`${receiver} to receive ${n} prefixes`, async () => (await count()) >= n, 600_000, 50);
  const receivedMs = Date.now() - t0;
  const cpuUsed = (await cpu()) - cpu0;
  let installedMs: number | undefined;
  if (kernel) {
    await waitFor(`${receiver} to install ${n} kernel routes`, async () => (await mainTablePrefixes(node)) - baseline >= n, 900_000, 100);
    installedMs = Date.now() - t0;
    // Then (not timed) the routes are checked to be the receiver's own, by its protocol number.
    const own = await protocolRoutes(node, PROTOCOLS[receiver]);
    if (own < n) throw new Error(`${receiver}: ${own} routes of protocol ${PROTOCOLS[receiver]} in the kernel, expected ${n}`);
  }
  const peakRssMbValue = await rss();
  await stop();
  if (kernel) await clearRoutes(node);
  void lab;
  return { n, receiver, kernel, receivedMs, ...(installedMs !== undefined ? { installedMs } : {}), peakRssMb: peakRssMbValue, cpuSeconds: cpuUsed, load: loadavg()[0]! };
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
        gingham: await lab.node('gingham', 3), 'gingham-bundled': await lab.node('gbundled', 6), 'gingham-executable': await lab.node('gexe', 7),
        bird: await lab.node('bird', 4), frr: await lab.node('frr', 5),
      };
      const senderBird = new BirdDaemon(sender);
      const started = performance.now();
      await senderBird.start(senderConfig(sender, n, Object.values(nodes), { asn: SENDER_AS }), { timeoutMs: 300_000 });
      await waitFor('the sender to load its routes', async () => new RegExp(`^${n} of ${n} routes`, 'm').test(await senderBird.birdc('show route count')), 600_000, 500);
      console.error(`N=${n}: sender ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      for (const kernel of variants) {
        for (let run = 0; run < runs; run++) {
          for (const receiver of receivers) {
            // A failed measurement is reported and the run goes on (the others' figures stay).
            const r = await measure(lab, sender, nodes[receiver], receiver, n, kernel).catch((error: Error) => {
              console.error(`  ${runs > 1 ? `run ${run + 1}: ` : ''}${receiver}${kernel ? ' +kernel' : ''}: FAILED: ${error.message}`);
              return undefined;
            });
            if (!r) continue;
            console.error(`  ${runs > 1 ? `run ${run + 1}: ` : ''}${receiver}${kernel ? ' +kernel' : ''}: received in ${(r.receivedMs / 1000).toFixed(2)} s (CPU ${r.cpuSeconds.toFixed(2)} s)${r.installedMs !== undefined ? `, installed in ${(r.installedMs / 1000).toFixed(2)} s` : ''}, peak RSS ${r.peakRssMb.toFixed(0)} MB (load ${r.load.toFixed(1)})`);
            results.push(r);
          }
        }
      }
    } finally {
      await lab.destroy();
    }
  }
  const pick = (n: number, kernel: boolean, who: Receiver) => results.filter((r) => r.n === n && r.kernel === kernel && r.receiver === who);
  const time = (r: Result) => (r.kernel ? r.installedMs! : r.receivedMs);
  const lines: string[] = [`| N | variant | receiver | received (s) | CPU until received (s) | installed (s) | peak RSS (MB) |${runs > 1 ? ` (median of ${runs} runs)` : ''}`, '|---|---|---|---|---|---|---|'];
  for (const n of sizes) for (const kernel of variants) for (const who of receivers) {
    const rs = pick(n, kernel, who);
    if (rs.length === 0) continue;
    const installed = median(rs.flatMap((r) => (r.installedMs !== undefined ? [r.installedMs] : [])));
    lines.push(`| ${n} | ${kernel ? 'kernel' : 'receive'} | ${who} | ${(median(rs.map((r) => r.receivedMs)) / 1000).toFixed(2)} | ${median(rs.map((r) => r.cpuSeconds)).toFixed(2)} | ${Number.isFinite(installed) ? (installed / 1000).toFixed(2) : '-'} | ${median(rs.map((r) => r.peakRssMb)).toFixed(0)} |`);
  }
  lines.push('', '| N | variant | Gingham run | time Gingham/BIRD | (per-run range) | CPU Gingham/BIRD | time Gingham/FRR | CPU Gingham/FRR | RSS Gingham/BIRD | RSS Gingham/FRR |', '|---|---|---|---|---|---|---|---|---|---|');
  for (const n of sizes) {
    for (const kernel of variants) for (const who of receivers.filter(isGingham)) {
      const g = pick(n, kernel, who), b = pick(n, kernel, 'bird'), f = pick(n, kernel, 'frr');
      const perRun = g.map((r, i) => (b[i] ? time(r) / time(b[i]!) : NaN)).filter(Number.isFinite);
      const range = perRun.length > 1 ? `${Math.min(...perRun).toFixed(2)}-${Math.max(...perRun).toFixed(2)}` : '-';
      const t = (rs: Result[]) => median(rs.map(time));
      const rss = (rs: Result[]) => median(rs.map((r) => r.peakRssMb));
      const c = (rs: Result[]) => median(rs.map((r) => r.cpuSeconds));
      lines.push(`| ${n} | ${kernel ? 'kernel (installed)' : 'receive'} | ${who.replace('gingham-', '').replace('gingham', 'tsx')} | ${ratio(t(g), t(b))} | ${range} | ${ratio(c(g), c(b))} | ${ratio(t(g), t(f))} | ${ratio(c(g), c(f))} | ${ratio(rss(g), rss(b))} | ${ratio(rss(g), rss(f))} |`);
    }
  }
  const loads = results.map((r) => r.load);
  lines.push('', `Load average (1 min) at the end of each measurement: ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}, median ${median(loads).toFixed(1)} (2 cores).`);
  const table = lines.join('\n');
  console.log(table);
  const out = cli.values.out;
  if (out) await writeFile(out, table + '\n');
}

await main();
