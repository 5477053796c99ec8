// Where does the speaker's memory go while it takes in a full table? A raw BGP sender on loopback
// (no daemons, no root) sends N prefixes, packed as BIRD packs them (about 1000 /24s per
// 4096-octet UPDATE, one attribute set), to a Gingham speaker running as its own process; the
// speaker's memory (RSS, V8 heap, array buffers) is read over its control socket while idle,
// during the ingest and at the end, with the peak RSS from /proc. bgp-ingest.ts is the benchmark
// against BIRD and FRR; this one is for looking inside Gingham.
//
// Run: npx tsx bench/bgp-memory.ts [--n 1000000] [--bundle | --executable out/agent/gingham-agent] [--node-flags "--max-semi-space-size=2"]
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageType } from '../agent/bgp/codec/constants.ts';
import { type Nlri, packUpdates } from '../agent/bgp/codec/update.ts';
import type { SpeakerStatus } from '../agent/bgp/speaker.ts';
import { RawConnection } from '../agent/bgp/testing/raw-peer.ts';
import { run } from '../lab/sh.ts';
import { callRpc } from '../agent/rpc/client.ts';
import { benchArgs } from './support/options.ts';

const cli = benchArgs(
  {
    n: { type: 'string', default: '1000000' },
    bundle: { type: 'boolean', default: false },
    executable: { type: 'string' },
    'node-flags': { type: 'string', default: '' },
  },
  'npx tsx bench/bgp-memory.ts [--n 1000000] [--bundle | --executable out/agent/gingham-agent] [--node-flags "--max-semi-space-size=2"]',
);
const n = cli.number('n');
const bundled = cli.values.bundle;
const nodeFlags = cli.values['node-flags'].split(' ').filter(Boolean);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = process.env.BUNDLE ?? path.join(repoRoot, '.cache', 'bench', 'gingham-agent.mjs');
const PORT = 30000 + Math.floor(Math.random() * 20000);
const MB = (bytes: number) => (bytes / 1e6).toFixed(1);

async function peakRss(p: ChildProcess): Promise<number> {
  const status = await readFile(`/proc/${p.pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

function describe(what: string, s: SpeakerStatus, peak: number): string {
  const m = s.memory;
  return `${what.padEnd(10)} RSS ${MB(m.rss)} MB (peak ${MB(peak)}), V8 heap ${MB(m.heapUsed)} used / ${MB(m.heapTotal)} MB, array buffers ${MB(m.arrayBuffers)} MB, RIB arrays ${MB(s.rib.bytes)} MB, ${s.peers[0]?.accepted ?? 0} prefixes`;
}

async function main(): Promise<void> {
  if (bundled && !process.env.BUNDLE) {
    await run(path.join(repoRoot, 'node_modules', '.bin', 'esbuild'), [path.join(repoRoot, 'agent/cli/bin.ts'), '--bundle', '--platform=node', '--format=esm', `--outfile=${BUNDLE}`, '--log-level=error',
      "--banner:js=import { createRequire as __ginghamRequire } from 'module'; const require = __ginghamRequire(import.meta.url);"]);
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'gbgp-mem-'));
  const config = path.join(dir, 'speaker.json');
  const control = path.join(dir, 'bgp.sock');
  await writeFile(config, JSON.stringify({ routerId: '127.0.0.1', asn: 64512, listen: `127.0.0.1:${PORT}`, peers: [{ address: '127.0.0.2', asn: 65001, passive: true, import: 'all', export: 'none' }] }));
  const entry = bundled ? [BUNDLE] : ['--import', 'tsx', path.join(repoRoot, 'agent/cli/bin.ts')];
  const executable = cli.values.executable;
  const child = executable
    ? spawn(executable, ['bgp', '--config', config, '--control', control, '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] })
    : spawn(process.execPath, [...nodeFlags, ...entry, 'bgp', '--config', config, '--control', control, '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'], cwd: repoRoot });
  const status = () => callRpc<SpeakerStatus>(control, 'bgp.status', undefined, 5000);
  try {
    for (let i = 0; ; i++) {
      try { await status(); break; } catch (error) { if (i > 300) throw error; await new Promise((r) => setTimeout(r, 100)); }
    }
    await new Promise((r) => setTimeout(r, 1000));
    console.log(describe('idle', await status(), await peakRss(child)));

    const prefixes: Nlri[] = [];
    for (let i = 0; i < n; i++) prefixes.push({ address: (0x10000000 + i * 256) >>> 0, length: 24, pathId: 0 });
    const updates = packUpdates([], { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: 0x7f000002 }, prefixes, { as4: true, addPath: false, ebgp: true }, 4096);
    prefixes.length = 0;
    const conn = await RawConnection.dial('127.0.0.1', PORT, '127.0.0.2');
    conn.sendOpen('127.0.0.2', 65001);
    await conn.expect(MessageType.Open);
    conn.sendKeepalive();
    await conn.expect(MessageType.Keepalive);
    const t0 = performance.now();
    // Written as fast as TCP takes it, as BIRD does.
    for (const u of updates) if (!conn.socket.write(u)) await new Promise((r) => conn.socket.once('drain', r));
    let last = 0;
    for (;;) {
      const s = await status();
      const accepted = s.peers[0]?.accepted ?? 0;
      if (accepted >= n) {
        console.log(`received ${n} prefixes in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
        break;
      }
      if (performance.now() - last > 1000) { console.log(describe('ingest', s, await peakRss(child))); last = performance.now(); }
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1500));
    console.log(describe('settled', await status(), await peakRss(child)));
    conn.close();
  } finally {
    child.kill('SIGUSR2');
    await new Promise((r) => child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
