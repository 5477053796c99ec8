// Live captures against a real sshd in a network namespace: tcpdump streamed over SSH and decoded,
// two captures at once, stop ends tcpdump on the node, the snap length applied on the node, a slow
// renderer makes rows skipped but never packets lost from the export, a dropped connection ends the
// capture with a message and keeps its packets, exports open in tshark with the same packets,
// bytes and fields.
import { execFile, execFileSync } from 'node:child_process';
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

let node: SshdNode;
let configDir: string;
let backend: ConsoleBackend;
const received: Array<{ event: EventName; payload: unknown }> = [];
let client: ReturnType<ConsoleBackend['attach']>;
let nodeId: string;

async function waitFor<T>(find: () => T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function events<E extends EventName>(event: E, captureId: string): Array<EventPayload<E>> {
  return received.filter((r) => r.event === event && (r.payload as { captureId: string }).captureId === captureId).map((r) => r.payload as EventPayload<E>);
}

const rowsOf = (captureId: string) => events('capture.packets', captureId).flatMap((e) => e.rows);
const endOf = (captureId: string) => events('capture.end', captureId)[0];

function ping(count: number, interval = '0.05'): void {
  execFileSync('ping', ['-c', String(count), '-i', interval, '-W', '1', node.address], { stdio: 'ignore' });
}

/** Whether a tcpdump whose command line contains `marker` runs (on this machine, where the test node lives). */
function tcpdumpRunning(marker: string): boolean {
  try {
    return execFileSync('pgrep', ['-f', `tcpdump.*${marker}`], { encoding: 'utf8' }).trim() !== '';
  } catch {
    return false;
  }
}

async function exportTo(captureIds: string[], format: 'pcap' | 'pcapng'): Promise<{ file: string; packets: number }> {
  const result = await client.handlers['capture.export']({ captureIds, format });
  if (result.kind !== 'download') throw new Error(`expected a download, got ${result.kind}`);
  const file = join(configDir, result.fileName);
  writeFileSync(file, Buffer.from(result.base64, 'base64'));
  return { file, packets: result.packets };
}

function tsharkFields(file: string, fields: string[]): string[] {
  return execFileSync('tshark', ['-n', '-r', file, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .trim()
    .split('\n');
}

beforeAll(async () => {
  node = await startSshdNode(0, { prefix: 'gcap', subnet: '100.64.216' });
  configDir = mkdtempSync(join(tmpdir(), 'gcap-config-'));
  backend = new ConsoleBackend({
    configDir,
    ssh: { home: configDir, sshConfigPath: join(configDir, 'no-ssh-config'), agentSocket: '', keepaliveIntervalMs: 500, keepaliveCountMax: 2, readyTimeoutMs: 5_000 },
    capture: { flow: { highWater: 200, lowWater: 50 }, pauseMs: 300 },
  });
  client = backend.attach((event, payload) => received.push({ event, payload }));
  nodeId = await connectNode(client, 'capture-node', node);
}, 60_000);

afterAll(async () => {
  client?.detach();
  backend?.close();
  await node?.stop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

describe('live capture over SSH', () => {
  it('streams decoded rows from two captures at once; stop ends tcpdump on the node; exports match tcpdump and tshark', async () => {
    const marker = '203.0.113.77'; // an address nothing uses, to find these tcpdumps by command line
    const icmp = await client.handlers['capture.start']({ nodeId, interface: 'any', filter: `(icmp and host ${node.address}) or host ${marker}` });
    const lo = await client.handlers['capture.start']({ nodeId, interface: 'lo', filter: `icmp or host ${marker}` });
    expect(icmp.command).toBe(`tcpdump -i 'any' -U -w - -B 8192 -s 0 -n '((icmp and host ${node.address}) or host 203.0.113.77) and not (this SSH session)'`);
    expect(tcpdumpRunning(marker)).toBe(true); // start resolved once tcpdump said it was listening
    ping(5);
    execFileSync('ip', ['netns', 'exec', node.netns, 'ping', '-c', '2', '-i', '0.2', '127.0.0.1'], { stdio: 'ignore' });
    const rows = await waitFor(() => rowsOf(icmp.captureId).length >= 10 && rowsOf(icmp.captureId), 'ten ICMP rows');
    client.notifications['capture.ack']({ captureId: icmp.captureId, rows: rows.length });
    expect(rows[0]).toMatchObject({ n: 1, encap: 'direct', proto: 'ICMP', dst: node.address, info: expect.stringMatching(/^echo request id \d+ seq 1$/) });
    expect(rows.filter((r) => r.info.startsWith('echo reply')).length).toBe(5);
    await waitFor(() => rowsOf(lo.captureId).filter((r) => r.proto === 'ICMP' && r.src === '127.0.0.1').length === 4, 'the pings on lo');

    expect(await client.handlers['capture.stop']({ captureId: icmp.captureId })).toEqual({ stopped: true });
    expect(await client.handlers['capture.stop']({ captureId: lo.captureId })).toEqual({ stopped: true });
    expect(endOf(icmp.captureId)).toMatchObject({ reason: 'Stopped.', captured: 10, error: false, kernelDropped: 0 });
    await waitFor(() => !tcpdumpRunning(marker), 'tcpdump to exit on the node');

    // Byte for byte: each exported packet is the one capture.packet returns, and tshark reads them alike.
    const pcap = await exportTo([icmp.captureId], 'pcap');
    expect(pcap.packets).toBe(10);
    const reader = new CaptureReader();
    const exported: string[] = [];
    reader.push(readFileSync(pcap.file), (p) => exported.push(Buffer.from(p.bytes.subarray(p.offset, p.offset + p.caplen)).toString('base64')));
    for (let n = 1; n <= 10; n++) expect(exported[n - 1]).toBe((await client.handlers['capture.packet']({ captureId: icmp.captureId, n })).base64);
    const pcapFields = tsharkFields(pcap.file, ['ip.src', 'ip.dst', 'icmp.type', 'icmp.seq']);
    expect(pcapFields).toHaveLength(10);
    expect(pcapFields[0]).toMatch(new RegExp(`^\\S+\t${node.address.replaceAll('.', '\\.')}\t8\t1$`));

    // pcapng of both captures: two interface blocks with node and filter, the same packets.
    const both = await exportTo([icmp.captureId, lo.captureId], 'pcapng');
    const loCount = endOf(lo.captureId)!.captured;
    expect(both.packets).toBe(10 + loCount);
    const ng = new CaptureReader();
    ng.push(readFileSync(both.file), () => undefined);
    expect(ng.interfaces.map((i) => [i.name, i.filter, i.comment])).toEqual([
      ['any', `(icmp and host ${node.address}) or host ${marker}`, `node capture-node, interface any, capture filter "(icmp and host ${node.address}) or host ${marker}"`],
      ['lo', `icmp or host ${marker}`, `node capture-node, interface lo, capture filter "icmp or host ${marker}"`],
    ]);
    const ngFields = tsharkFields(both.file, ['frame.interface_name', 'ip.src', 'ip.dst', 'icmp.seq']);
    expect(ngFields).toHaveLength(10 + loCount);
    expect(ngFields.filter((l) => l.startsWith('any\t'))).toEqual(pcapFields.map((l) => `any\t${l.split('\t')[0]}\t${l.split('\t')[1]}\t${l.split('\t')[3]}`));
  });

  it('cuts each packet on the node to the snap length asked for (tcpdump -s), and the export keeps the lengths', async () => {
    const cap = await client.handlers['capture.start']({ nodeId, interface: 'any', filter: `icmp and host ${node.address}`, snapLen: 64 });
    expect(cap.command).toBe(`tcpdump -i 'any' -U -w - -B 8192 -s 64 -n '(icmp and host ${node.address}) and not (this SSH session)'`);
    execFileSync('ping', ['-c', '2', '-i', '0.2', '-s', '1000', '-W', '1', node.address], { stdio: 'ignore' });
    const rows = await waitFor(() => rowsOf(cap.captureId).length >= 4 && rowsOf(cap.captureId), 'four ICMP rows');
    client.notifications['capture.ack']({ captureId: cap.captureId, rows: rows.length });
    await client.handlers['capture.stop']({ captureId: cap.captureId });
    // Linux cooked v2 (20 bytes), IPv4 (20), ICMP (8) and 1,000 bytes of data: 1,048 on the wire, 64 kept.
    expect(rows.map((r) => [r.caplen, r.len])).toEqual([[64, 1048], [64, 1048], [64, 1048], [64, 1048]]);
    const pcap = await exportTo([cap.captureId], 'pcap');
    expect(tsharkFields(pcap.file, ['frame.cap_len', 'frame.len'])).toEqual(['64\t1048', '64\t1048', '64\t1048', '64\t1048']);
  });

  it('says what tcpdump said when the interface does not exist or the filter does not compile', async () => {
    await expect(client.handlers['capture.start']({ nodeId, interface: 'nosuch0', filter: '' })).rejects.toThrow(/^tcpdump on capture-node could not start: .*nosuch0/);
    await expect(client.handlers['capture.start']({ nodeId, interface: 'any', filter: 'port banana' })).rejects.toThrow(/^tcpdump on capture-node could not start: .*banana/);
  });

  it('a renderer that does not keep up: the channel pauses, then rows are skipped and counted, and every packet is still exported', async () => {
    const cap = await client.handlers['capture.start']({ nodeId, interface: 'any', filter: 'icmp' });
    // No acks: the window is 200 rows.
    // Asynchronously: a blocked event loop would stop the backend reading, which is not the case tested.
    await promisify(execFile)('ping', ['-i', '0.002', '-c', '600', node.address]);
    // Wait until the stream is quiet (no batch for a second): the backend has read all tcpdump sent.
    for (let seen = -1, i = 0; i < 30; i++) {
      const now = events('capture.packets', cap.captureId).length;
      if (now === seen && now > 0) break;
      seen = now;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const batches = events('capture.packets', cap.captureId);
    const last = batches[batches.length - 1]!;
    const shown = rowsOf(cap.captureId).length;
    console.log(`slow renderer: ${last.captured} captured, ${shown} rows sent, ${last.skipped} skipped`);
    expect(shown).toBeLessThan(last.captured);
    expect(last.skipped).toBeGreaterThan(0);
    expect(last.skipped).toBe(last.captured - shown);
    // Acknowledging reopens the window: new packets are shown again.
    client.notifications['capture.ack']({ captureId: cap.captureId, rows: shown });
    ping(2, '0.2');
    await waitFor(() => rowsOf(cap.captureId).length >= shown + 4, 'rows after the ack');
    await client.handlers['capture.stop']({ captureId: cap.captureId });
    const end = endOf(cap.captureId)!;
    console.log(`slow renderer: tcpdump reports ${end.kernelDropped} dropped by the kernel while the channel was paused`);
    // Packets the node dropped while paused never reached us; all others did, and are exported.
    expect(end.captured + (end.kernelDropped ?? 0)).toBeGreaterThanOrEqual(1204);
    const all = await exportTo([cap.captureId], 'pcap');
    expect(all.packets).toBe(end.captured);
    expect(tsharkFields(all.file, ['icmp.type'])).toHaveLength(all.packets);
  });

  it('a dropped connection ends the capture with a clear message and keeps what was captured', async () => {
    const cap = await client.handlers['capture.start']({ nodeId, interface: 'any', filter: 'icmp' });
    ping(3);
    await waitFor(() => rowsOf(cap.captureId).length >= 6, 'six rows');
    node.killSessions();
    const end = await waitFor(() => endOf(cap.captureId), 'the end of the capture');
    expect(end).toMatchObject({ error: true, captured: 6, reason: 'The connection to capture-node dropped; the 6 packets captured before are kept.' });
    const kept = await exportTo([cap.captureId], 'pcapng');
    expect(kept.packets).toBe(6);
    expect(tsharkFields(kept.file, ['icmp.type'])).toEqual(['8', '0', '8', '0', '8', '0']);
  });
});
