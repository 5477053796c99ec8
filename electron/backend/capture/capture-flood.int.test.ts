// A capture under a flood (kubeshark#1317: a capture must not fill the machines it runs on): a
// UDP flood of about 1 Gbit/s into a real sshd node while tcpdump captures it over SSH. The
// console's store stays within its bound in bytes (the oldest dropped, counted, the newest kept),
// tcpdump's memory on the node stays within its kernel ring, the node's kernel drops are reported
// while the capture runs, and the capture keeps running after the flood; the export holds what was
// kept and says what was dropped.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventName, EventPayload } from '../../../shared/api/console-contract.ts';
import { CaptureReader } from '../../../shared/packets/capture-reader.ts';
import { ConsoleBackend } from '../console-backend.ts';
import { startSshdNode, type SshdNode } from '../../../lab/testing/sshd-node.ts';
import { connectNode } from '../ssh/testing/connect-node.ts';

const maxBytes = 4 * 1024 * 1024;
const port = 5299;

let node: SshdNode;
let configDir: string;
let backend: ConsoleBackend;
const received: Array<{ event: EventName; payload: unknown }> = [];
let client: ReturnType<ConsoleBackend['attach']>;
let nodeId: string;

function events<E extends EventName>(event: E, captureId: string): Array<EventPayload<E>> {
  return received.filter((r) => r.event === event && (r.payload as { captureId: string }).captureId === captureId).map((r) => r.payload as EventPayload<E>);
}

async function waitFor<T>(find: () => T | undefined | false, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resident memory (KiB) of the node's processes named `name` (tcpdump, sshd), summed; 0 when none. */
function rssKiB(name: string): number {
  const pids = execFileSync('ip', ['netns', 'pids', node.netns], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  let total = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      if (/^Name:\s+(\S+)/.exec(status)?.[1] === name) total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

beforeAll(async () => {
  node = await startSshdNode(0, { prefix: 'gcfl', subnet: '100.64.231' });
  configDir = mkdtempSync(join(tmpdir(), 'gcfl-config-'));
  backend = new ConsoleBackend({
    configDir,
    ssh: { home: configDir, sshConfigPath: join(configDir, 'no-ssh-config'), agentSocket: '', keepaliveIntervalMs: 1000, keepaliveCountMax: 10, readyTimeoutMs: 5_000 },
    // A 4 MiB bound in 256 KiB blocks: a few seconds of flood pass it many times over.
    capture: { maxBytes, storeBlockSize: 256 * 1024 },
  });
  client = backend.attach((event, payload) => received.push({ event, payload }));
  nodeId = await connectNode(client, 'flood-node', node);
}, 60_000);

afterAll(async () => {
  client?.detach();
  backend?.close();
  await node?.stop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

describe('a capture under a flood', () => {
  it('keeps the newest packets within its bound, reports the node kernel drops live, and keeps running', async () => {
    const filter = `udp and port ${port}`;
    const cap = await client.handlers['capture.start']({ nodeId, interface: 'any', filter });
    const tcpdumpBefore = rssKiB('tcpdump');
    const sshdBefore = rssKiB('sshd');
    expect(tcpdumpBefore).toBeGreaterThan(0);

    const server = spawn('ip', ['netns', 'exec', node.netns, 'iperf3', '-s', '-1', '-p', String(port)], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 500));
    let tcpdumpPeak = 0;
    let sshdPeak = 0;
    const sampler = setInterval(() => {
      tcpdumpPeak = Math.max(tcpdumpPeak, rssKiB('tcpdump'));
      sshdPeak = Math.max(sshdPeak, rssKiB('sshd'));
    }, 200);
    // 1 Gbit/s of 1,400-byte datagrams for 6 s (about 89,000 a second asked; the machine sends what it can).
    const flood = await promisify(execFile)('iperf3', ['-c', node.address, '-p', String(port), '-u', '-b', '1G', '-l', '1400', '-t', '6', '-J'], { maxBuffer: 1 << 24 });
    clearInterval(sampler);
    server.kill();
    const sent = (JSON.parse(flood.stdout) as { end: { sum: { packets: number } } }).end.sum.packets;

    // The flood's last packets: the console read them all (the batches stop growing).
    let last = events('capture.packets', cap.captureId).at(-1)!;
    for (let seen = -1, i = 0; i < 60 && last.captured !== seen; i++) {
      seen = last.captured;
      await new Promise((r) => setTimeout(r, 1000));
      last = events('capture.packets', cap.captureId).at(-1)!;
    }
    const batches = events('capture.packets', cap.captureId);
    const live = batches.filter((b) => b.kernelDropped !== undefined);
    console.log(
      `flood: iperf3 sent ${sent} datagrams; the console read ${last.captured} (${(last.bytes / 1048576).toFixed(1)} MiB), dropped the oldest ${last.dropped} (${(last.droppedBytes / 1048576).toFixed(1)} MiB), keeps ${last.captured - last.dropped} (${((last.bytes - last.droppedBytes) / 1048576).toFixed(2)} MiB); ` +
        `node kernel dropped ${last.kernelDropped ?? '?'} (live, in ${live.length} of ${batches.length} batches); tcpdump RSS ${tcpdumpBefore} KiB before, ${tcpdumpPeak} KiB at peak; the node's sshd processes ${sshdBefore} KiB before, ${sshdPeak} KiB at peak`,
    );

    // The flood passed the bound many times over, and the capture did not stop for it.
    expect(last.bytes).toBeGreaterThan(5 * maxBytes);
    expect(events('capture.end', cap.captureId)).toEqual([]);
    // The console keeps at most its bound of packet bytes, the newest, and counts the rest.
    expect(last.dropped).toBeGreaterThan(0);
    expect(last.bytes - last.droppedBytes).toBeLessThanOrEqual(maxBytes);
    // The node: tcpdump's memory is its start plus the kernel ring it maps (-B 8192: 8 MiB), whatever the flood.
    expect(tcpdumpPeak - tcpdumpBefore).toBeLessThanOrEqual(8 * 1024 + 1024);
    // And sshd buffers at most the channel's window (ssh2's 2 MiB) for a client that reads slower than the flood.
    expect(sshdPeak - sshdBefore).toBeLessThanOrEqual(2 * 1024 + 2 * 1024);
    // tcpdump's statistics reach the console while the capture runs, not only at its end.
    expect(live.length).toBeGreaterThan(0);

    // Still running: rows come after the flood (the window reopened by acknowledging all).
    client.notifications['capture.ack']({ captureId: cap.captureId, rows: batches.reduce((n, b) => n + b.rows.length, 0) });
    const after = last.captured;
    const socket = createSocket('udp4');
    for (let i = 0; i < 3; i++) await new Promise((r) => socket.send('after', port, node.address, r));
    socket.close();
    await waitFor(
      () => events('capture.packets', cap.captureId).some((b) => b.rows.some((r) => r.n > after && r.proto === 'UDP')),
      'rows of packets sent after the flood',
    );
    await client.handlers['capture.stop']({ captureId: cap.captureId });
    const end = events('capture.end', cap.captureId)[0]!;
    expect(end).toMatchObject({ reason: 'Stopped.', error: false });
    expect(end.kernelDropped).toBeGreaterThanOrEqual(last.kernelDropped ?? 0);

    // The export: the kept packets, and in pcapng's comments what went.
    const result = await client.handlers['capture.export']({ captureIds: [cap.captureId], format: 'pcapng' });
    if (result.kind !== 'download') throw new Error(`expected a download, got ${result.kind}`);
    const final = events('capture.packets', cap.captureId).at(-1)!;
    expect(result.packets).toBe(final.captured - final.dropped);
    const file = join(configDir, result.fileName);
    writeFileSync(file, Buffer.from(result.base64, 'base64'));
    const reader = new CaptureReader();
    let read = 0;
    reader.push(readFileSync(file), () => read++);
    expect(read).toBe(result.packets);
    expect(reader.interfaces[0]!.comment).toContain(`the console dropped the oldest ${final.dropped} packets (${final.droppedBytes} bytes) to stay within its 4 MiB bound`);
    const tshark = execFileSync('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'udp.dstport'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n');
    expect(tshark).toHaveLength(result.packets);
  }, 120_000);
});
