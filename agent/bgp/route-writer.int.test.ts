// The native route writer (native/route_writer.c) in a network namespace with routes that are
// not ours: it must leave a connected route and the dataplane's proto 71 route as they are (it
// used NLM_F_REPLACE, which takes the place of any route with the same key), report each refusal
// and go on, and still replace its own routes (a next hop change, the previous run's routes).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIPv4 } from '../../shared/net/index.ts';
import { nativeFile } from './native-path.ts';
import { type LabNode, NetnsLab } from '../../lab/testing/netns-lab.ts';

const WRITER = nativeFile('gingham-route-writer');
const PROTO = 72;
let lab: NetnsLab;
let node: LabNode;

beforeAll(async () => {
  lab = await NetnsLab.create(18);
  node = await lab.node('writer', 2);
});

afterAll(async () => {
  await lab?.destroy();
});

interface KernelRoute { dst: string; gateway?: string; protocol: string; dev?: string }

async function routes(): Promise<KernelRoute[]> {
  return JSON.parse(await node.exec('ip', ['-j', 'route', 'show', 'table', 'main'])) as KernelRoute[];
}

/** Records as kernel-routes.ts writes them: next hop definitions, adds, deletes. */
function records(ops: Array<['hop', string, number] | ['add', string, number] | ['del', string]>): Buffer {
  const words = new Uint32Array(ops.length * 2);
  ops.forEach((op, i) => {
    if (op[0] === 'hop') {
      words[i * 2] = parseIPv4(op[1]);
      words[i * 2 + 1] = ((63 << 25) | op[2]) >>> 0;
      return;
    }
    const [address, length] = op[1].split('/');
    words[i * 2] = parseIPv4(address!);
    words[i * 2 + 1] = op[0] === 'add' ? ((Number(length) << 25) | op[2]) >>> 0 : (0x80000000 | (Number(length) << 25)) >>> 0;
  });
  return Buffer.from(words.buffer);
}

function runWriter(input: Buffer, writer = WRITER, args = ['254', String(PROTO)]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', node.ns, writer, ...args], {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', UBSAN_OPTIONS: 'print_stacktrace=1' },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
    child.stdin.end(input);
  });
}

describe('native route writer', () => {
  it.skipIf(!existsSync(WRITER))('touches only routes of its own protocol; a refused route is reported and the writer goes on', async () => {
    const gw1 = lab.address(254), gw2 = lab.address(253);
    const subnet = `${lab.address(0)}/24`;
    // Not ours: the connected route of eth0 (proto kernel) and a dataplane route (proto 71).
    await node.exec('ip', ['route', 'add', '10.98.0.0/24', 'via', gw2, 'proto', '71']);
    // Ours from a previous run (graceful restart keeps them): replaced, or deleted, as told.
    await node.exec('ip', ['route', 'add', '10.93.0.0/24', 'via', gw2, 'proto', String(PROTO)]);
    await node.exec('ip', ['route', 'add', '10.94.0.0/24', 'via', gw2, 'proto', String(PROTO)]);
    const connected = (await routes()).find((r) => r.dst === subnet);
    expect(connected).toMatchObject({ protocol: 'kernel', dev: 'eth0' });

    const { code, stderr } = await runWriter(records([
      ['hop', gw1, 0], ['hop', gw2, 1], ['hop', '10.200.0.1', 2],
      ['add', subnet, 0], // the connected route's prefix
      ['add', '10.98.0.0/24', 0], // the dataplane's
      ['add', '10.97.0.0/24', 0], ['add', '10.97.0.0/24', 1], // new, then a next hop change
      ['add', '10.96.0.0/24', 2], // a gateway the kernel cannot reach: refused
      ['add', '10.95.0.0/24', 0], // after the refusal: still programmed
      ['add', '10.93.0.0/24', 0], // our previous run's: replaced
      ['add', '10.94.0.0/24', 0], ['del', '10.94.0.0/24'], // ours, changed then withdrawn in one batch
    ]));
    expect(code).toBe(0);

    const after = await routes();
    const at = (dst: string) => after.filter((r) => r.dst === dst).map((r) => `${r.protocol} ${r.gateway ?? r.dev}`);
    expect(at(subnet)).toEqual(['kernel eth0']);
    expect(at('10.98.0.0/24')).toEqual([`71 ${gw2}`]);
    expect(at('10.97.0.0/24')).toEqual([`${PROTO} ${gw2}`]);
    expect(at('10.96.0.0/24')).toEqual([]);
    expect(at('10.95.0.0/24')).toEqual([`${PROTO} ${gw1}`]);
    expect(at('10.93.0.0/24')).toEqual([`${PROTO} ${gw1}`]);
    expect(at('10.94.0.0/24')).toEqual([]);
    const lines = stderr.trim().split('\n').sort();
    expect(lines).toEqual([
      `error File exists: A ${subnet} (a route of another protocol is there: left as it is)`,
      'error File exists: A 10.98.0.0/24 (a route of another protocol is there: left as it is)',
      'error Network is unreachable: A 10.96.0.0/24',
    ].sort());

    // A delete names our protocol: the dataplane's route for the prefix stays, and that is no error.
    const second = await runWriter(records([['del', '10.98.0.0/24'], ['del', subnet]]));
    expect(second).toEqual({ code: 0, stderr: '' });
    const last = await routes();
    expect(last.filter((r) => r.dst === '10.98.0.0/24').map((r) => r.protocol)).toEqual(['71']);
    expect(last.filter((r) => r.dst === subnet).map((r) => r.protocol)).toEqual(['kernel']);
  });

  it('takes any input without a memory error (AddressSanitizer and UBSan): bad records, next hop indices at the limits, next hop devices and forms, replaces, syncs, refusals and retries', async () => {
    // Built here with the sanitizers; it runs as root, fed by the speaker.
    const source = path.join(path.dirname(fileURLToPath(import.meta.url)), 'native', 'route_writer.c');
    const asan = path.join(lab.dir, 'route-writer-asan');
    execFileSync('gcc', ['-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-Wall', '-Wextra', '-o', asan, source]);
    // Foreign and own routes for the retry paths.
    await node.exec('ip', ['route', 'replace', '10.50.0.0/24', 'via', lab.address(253), 'proto', '71']);
    await node.exec('ip', ['route', 'replace', '10.50.1.0/24', 'via', lab.address(253), 'proto', String(PROTO)]);
    const hopIndex = fc.oneof(fc.constantFrom(0, 1, 2, 65535, 65536, (1 << 25) - 1), fc.integer({ min: 0, max: (1 << 25) - 1 }));
    const address = fc.oneof(fc.constantFrom(parseIPv4('10.50.0.0'), parseIPv4('10.50.1.0'), parseIPv4(lab.address(254)), parseIPv4(lab.address(0))), fc.integer({ min: 0, max: 0xffffffff }));
    const record = fc.oneof(
      // A next hop definition (length 63), mostly reachable ones.
      fc.tuple(fc.oneof(fc.constantFrom(parseIPv4(lab.address(254)), parseIPv4(lab.address(253))), fc.integer({ min: 0, max: 0xffffffff })), hopIndex)
        .map(([a, i]) => [a, ((63 << 25) | (i & ((1 << 25) - 1))) >>> 0] as const),
      // A next hop's device or form amended (62, 61: an MTU, onlink, scope link, blackhole, no
      // gateway, any bits), or a sync (60), for an index defined or not.
      fc.tuple(fc.oneof(fc.constantFrom(0, 1, 1480 | (1 << 16), 1 << 17, 1 << 18, 1 << 19, 0xffff, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff })), fc.constantFrom(60, 61, 62), hopIndex)
        .map(([a, len, i]) => [a >>> 0, ((len << 25) | (i & ((1 << 25) - 1))) >>> 0] as const),
      // An add (bit 24 set: a replace) or a delete of any length 0..62 (over 32 is a bad record).
      fc.tuple(address, fc.integer({ min: 0, max: 62 }), fc.boolean(), hopIndex)
        .map(([a, len, del, i]) => [a, ((del ? 0x80000000 : 0) | (len << 25) | (i & ((1 << 25) - 1))) >>> 0] as const),
      // Raw words.
      fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })).map(([a, w]) => [a >>> 0, w >>> 0] as const),
    );
    await fc.assert(fc.asyncProperty(fc.array(record, { maxLength: 3000 }), fc.integer({ min: 0, max: 7 }), async (records, cut) => {
      const words = new Uint32Array(records.length * 2);
      records.forEach(([a, w], i) => { words[i * 2] = a; words[i * 2 + 1] = w; });
      // A torn last record too (the speaker never writes one; the writer must not mind).
      const input = Buffer.concat([Buffer.from(words.buffer), Buffer.alloc(cut, 0xab)]);
      const { code, stderr } = await runWriter(input, asan, ['254', String(PROTO), ...(cut % 2 ? ['1'] : [])]);
      expect(stderr).not.toMatch(/AddressSanitizer|runtime error|LeakSanitizer/);
      expect(code).toBe(0);
    }), { numRuns: 40 });
    // Whatever it was given, the other protocol's route is as it was.
    expect((await routes()).filter((r) => r.dst === '10.50.0.0/24').map((r) => `${r.protocol} ${r.gateway}`)).toEqual([`71 ${lab.address(253)}`]);
  }, 120_000);
});
