// The decoder benchmark: a generated capture of mixed IP-in-IP, VXLAN and plain TCP
// (a third each, as the three routing modes put them on the wire), decoded into one summary line
// per packet by `npm run decode`, by `tcpdump -nr FILE` and by `tshark -r FILE -T fields` with the
// same fields, in the same run, each writing to /dev/null. Prints times and ratios.
// Run: npx tsx bench/decode-pcap.ts [PACKETS=1000000] [--no-tshark] [--keep FILE]
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CaptureReader } from '../shared/packets/capture-reader.ts';
import { dissect, PacketFacts } from '../shared/packets/dissect.ts';
import { SummaryBytes } from '../shared/packets/summary-bytes.ts';
import { summaryLine } from '../shared/packets/summary.ts';
import * as B from '../shared/packets/testing/packet-builder.ts';
import { benchArgs } from './support/options.ts';

const cli = benchArgs(
  {
    'no-tshark': { type: 'boolean', default: false },
    /** --keep FILE: write the capture there and leave it, for profiling or a look with Wireshark. */
    keep: { type: 'string' },
  },
  'npx tsx bench/decode-pcap.ts [PACKETS=1000000] [--no-tshark] [--keep FILE]',
  { positionals: 1 },
);
const count = cli.positionals[0] === undefined ? 1_000_000 : cli.number(0);
const withTshark = !cli.values['no-tshark'];
const keep = cli.values.keep;
const repoRoot = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'gcap-bench-'));
const file = keep ?? join(dir, 'mixed.pcap');

/** Writes the capture: three templates whose ports, addresses and sequence numbers vary per packet. */
function generate(): void {
  const get = B.ascii('GET /index.html HTTP/1.1\r\nHost: pod-3\r\nUser-Agent: curl/7.88.1\r\n\r\n');
  const inner = (flags: number, payload?: Uint8Array) => B.ipv4('192.168.1.65', '192.168.3.1', 6, B.tcp(43512, 80, flags, payload));
  const templates = [
    B.ethernet(0x0800, B.ipv4('10.240.1.11', '10.240.2.13', 4, inner(B.Tcp.psh | B.Tcp.ack, get))),
    B.ethernet(0x0800, B.ipv4('10.240.1.11', '10.240.2.13', 17, B.udp(51234, 4789, B.vxlan(4096, B.ethernet(0x0800, inner(B.Tcp.ack)))))),
    B.ethernet(0x0800, B.ipv4('192.168.1.65', '192.168.2.2', 6, B.tcp(43512, 80, B.Tcp.ack, new Uint8Array(200)))),
  ];
  // Where each template's inner TCP source port and inner source address's last byte sit.
  const tcpAt = [14 + 20 + 20, 14 + 20 + 8 + 8 + 14 + 20, 14 + 20];
  const innerSrcAt = [14 + 20 + 15, 14 + 20 + 8 + 8 + 14 + 15, 14 + 15];
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(1 << 22);
  let used = 0;
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  writeSync(fd, header);
  const start = 1_795_681_863;
  for (let i = 0; i < count; i++) {
    const kind = i % 3;
    const t = templates[kind]!;
    if (used + 16 + t.length > chunk.length) {
      writeSync(fd, chunk, 0, used);
      used = 0;
    }
    chunk.writeUInt32LE(start + Math.floor(i / 10000), used);
    chunk.writeUInt32LE((i % 10000) * 100, used + 4);
    chunk.writeUInt32LE(t.length, used + 8);
    chunk.writeUInt32LE(t.length, used + 12);
    chunk.set(t, used + 16);
    const p = used + 16;
    chunk.writeUInt16BE(32768 + (i % 28000), p + tcpAt[kind]!);
    chunk.writeUInt32BE((i * 7919) >>> 0, p + tcpAt[kind]! + 4);
    chunk[p + innerSrcAt[kind]!] = 2 + (i % 250);
    used += 16 + t.length;
  }
  writeSync(fd, chunk, 0, used);
  closeSync(fd);
}

/**
 * Runs a command with its output to /dev/null, as a user would time it; returns wall-clock and CPU
 * (user + system) seconds. On a shared, loaded machine the CPU time is the fairer comparison.
 */
function timed(command: string, argv: string[]): Promise<{ wall: number; cpu: number }> {
  const quoted = [command, ...argv].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn('bash', ['-c', `TIMEFORMAT='%U %S'; time ${quoted} > /dev/null 2>/tmp/gcap-bench-stderr`], { stdio: ['ignore', 'ignore', 'pipe'], cwd: repoRoot });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const [user, sys] = stderr.trim().split(/\s+/).slice(-2).map(Number) as [number, number];
      if (code !== 0 || !Number.isFinite(user)) reject(new Error(`${command} failed (${code}): ${stderr.slice(0, 500)}`));
      else resolvePromise({ wall: (performance.now() - started) / 1000, cpu: user + sys });
    });
  });
}

const show = (r: { wall: number; cpu: number }) => `${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s CPU`;

/**
 * The decoder alone, in this process: read, dissect, and either build every summary string (the
 * console's rows) or write every line as bytes (`npm run decode`, summary-bytes.ts).
 */
function inProcess(data: Buffer, as: 'strings' | 'bytes'): { ms: number; bytes: number; lines: number } {
  const started = performance.now();
  const reader = new CaptureReader();
  const facts = new PacketFacts();
  const writer = new SummaryBytes();
  let bytes = 0;
  let lines = 0;
  reader.push(data, (p) => {
    dissect(p.bytes, p.offset, p.caplen, p.origLen, p.linkType, facts);
    if (as === 'strings') bytes += summaryLine(facts).length;
    else {
      writer.line(facts, p.tsSec, p.tsNsec);
      if (writer.length > 1 << 19) bytes += writer.take().length;
    }
    lines++;
  });
  return { ms: performance.now() - started, bytes, lines };
}

try {
  const t = performance.now();
  generate();
  console.log(`generated ${count} packets (IPIP, VXLAN, plain TCP, a third each): ${(statSync(file).size / 1e6).toFixed(0)} MB in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const data = readFileSync(file);
  const mem = inProcess(data, 'strings');
  const lines = inProcess(data, 'bytes');
  console.log(`gingham decoder in process, summary strings (the console's rows): ${(mem.ms / 1000).toFixed(2)} s (${((count / mem.ms) * 1000 / 1e6).toFixed(2)} M packets/s)`);
  console.log(`gingham decoder in process, time and summary lines as bytes (npm run decode's): ${(lines.ms / 1000).toFixed(2)} s (${((count / lines.ms) * 1000 / 1e6).toFixed(2)} M packets/s)`);
  const ours = await timed(process.execPath, ['--import', 'tsx', 'scripts/decode.ts', file]);
  const tcpdump = await timed('tcpdump', ['-nr', file]);
  console.log(`npm run decode:   ${show(ours)}`);
  console.log(`tcpdump -nr:      ${show(tcpdump)}  -> gingham/tcpdump: ${(ours.wall / tcpdump.wall).toFixed(2)} wall, ${(ours.cpu / tcpdump.cpu).toFixed(2)} CPU`);
  if (withTshark) {
    const fields = ['frame.time_epoch', 'ip.src', 'ip.dst', 'ip.proto', 'udp.dstport', 'vxlan.vni', 'tcp.srcport', 'tcp.dstport', 'tcp.flags', 'tcp.len', 'http.request.method', 'http.request.uri'];
    const tshark = await timed('tshark', ['-n', '-r', file, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])]);
    console.log(`tshark -T fields: ${show(tshark)}  -> gingham/tshark: ${(ours.wall / tshark.wall).toFixed(3)} wall, ${(ours.cpu / tshark.cpu).toFixed(3)} CPU`);
  }
  if (mem.lines !== count || lines.lines !== count) throw new Error(`gingham summarized ${mem.lines} packets of ${count}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
