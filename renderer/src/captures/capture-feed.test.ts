// The renderer's side of a capture past its bound: the rows of packets the backend dropped go from
// the list too (once they are a tenth of it, by a new array), the status counts follow the events,
// and rows not yet dropped stay, in order.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConsoleClient } from '../../../shared/api/client.ts';
import type { PacketRow } from '../../../shared/api/capture-contract.ts';
import type { EventPayload } from '../../../shared/api/console-contract.ts';
import { CaptureFeed, type CaptureInfo } from './capture-feed.ts';

type Batch = EventPayload<'capture.packets'>;

const tally = { direct: { packets: 0, bytes: 0 }, IPIP: { packets: 0, bytes: 0 }, VXLAN: { packets: 0, bytes: 0 } };
const row = (n: number): PacketRow => ({ n, t: n, len: 100, caplen: 100, encap: 'direct', encapText: 'direct', src: '10.0.0.1', dst: '10.0.0.2', proto: 'UDP', info: '' });
const rows = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => row(from + i));

let listeners: Map<string, (payload: unknown) => void>;
let feed: CaptureFeed;
const send = (batch: Partial<Batch> & { rows: PacketRow[] }) =>
  listeners.get('capture.packets')!({ captureId: 'c1', captured: 0, bytes: 0, skipped: 0, dropped: 0, droppedBytes: 0, at: 1, tally, ...batch });
const info = (): CaptureInfo => ({ id: 'c1', node: 'n', nodeId: 'n1', iface: 'any', filter: '', command: '', state: 'running', captured: 0, bytes: 0, skipped: 0, dropped: 0, droppedBytes: 0 });

beforeEach(() => {
  vi.stubGlobal('requestAnimationFrame', () => 1);
  vi.stubGlobal('cancelAnimationFrame', () => undefined);
  listeners = new Map();
  const client = { on: (event: string, listener: (payload: unknown) => void) => (listeners.set(event, listener), () => listeners.delete(event)), notify: () => undefined } as unknown as ConsoleClient;
  feed = new CaptureFeed(client);
  feed.attach();
  feed.add(info());
});

afterEach(() => vi.unstubAllGlobals());

describe('CaptureFeed past the bound', () => {
  it('keeps every row while nothing is dropped, and the counts of what the backend and the kernel dropped', () => {
    send({ rows: rows(1, 1000), captured: 1000, bytes: 100_000, kernelDropped: 7 });
    expect(feed.rows.get('c1')!.map((r) => r.n)).toEqual(rows(1, 1000).map((r) => r.n));
    expect(feed.infos.get('c1')).toMatchObject({ captured: 1000, dropped: 0, kernelDropped: 7 });
  });

  it('drops the rows of dropped packets once they are a tenth of the list, keeping the rest in order', () => {
    send({ rows: rows(1, 1000), captured: 1000 });
    const before = feed.rows.get('c1')!;
    // 50 dropped: under a tenth, the list stays (no copy per batch).
    send({ rows: rows(1001, 1100), captured: 1100, dropped: 50, droppedBytes: 5000 });
    expect(feed.rows.get('c1')).toBe(before);
    expect(feed.infos.get('c1')).toMatchObject({ dropped: 50, droppedBytes: 5000 });
    // 300 dropped: a new array from 301 on.
    send({ rows: rows(1101, 1200), captured: 1200, dropped: 300, droppedBytes: 30_000 });
    const after = feed.rows.get('c1')!;
    expect(after).not.toBe(before);
    expect(after.map((r) => r.n)).toEqual(rows(301, 1200).map((r) => r.n));
    // The next rows go to the new array.
    send({ rows: rows(1201, 1210), captured: 1210, dropped: 300 });
    expect(feed.rows.get('c1')!.at(-1)!.n).toBe(1210);
  });

  it('drops rows the view skipped around too: the rows are numbered, not counted', () => {
    // Rows 1-100 shown, 101-900 skipped (the view was behind), 901-1000 shown.
    send({ rows: [...rows(1, 100), ...rows(901, 1000)], captured: 1000, skipped: 800 });
    send({ rows: [], captured: 1000, skipped: 800, dropped: 950 });
    expect(feed.rows.get('c1')!.map((r) => r.n)).toEqual(rows(951, 1000).map((r) => r.n));
  });
});
