// The native route writer (native/route_writer.c) in a network namespace with routes that are
// not ours: it must leave a connected route and the dataplane's proto 71 route as they are (it
// used NLM_F_REPLACE, which takes the place of any route with the same key), report each refusal
// and go on, and still replace its own routes (a next hop change, the previous run's routes).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIPv4 } from '../../shared/net/index.ts';
import { nativeFile } from './native-path.ts';
import { type LabNode, NetnsLab } from './testing/netns-lab.ts';

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

function runWriter(input: Buffer): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', node.ns, WRITER, '254', String(PROTO)], { stdio: ['pipe', 'ignore', 'pipe'] });
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
});
