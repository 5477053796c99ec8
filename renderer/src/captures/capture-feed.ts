// The renderer's side of live captures: rows from capture.packets events are appended to plain
// arrays (no React state per packet), the screen is told once per animation frame, and only then
// are the rows acknowledged to the backend. A view that cannot draw (a busy or hidden tab gets no
// frames) therefore stops acknowledging, and the backend pauses the node's tcpdump, then counts
// rows as skipped: backpressure from what is drawn, not from what was received. Rows of packets
// the backend's store has dropped (its bound in bytes) are dropped here too, so that a long flood
// costs the renderer no more than the backend.
import type { ConsoleClient } from '../../../shared/api/client.ts';
import type { EncapTally, PacketRow } from '../../../shared/api/capture-contract.ts';

export interface CaptureInfo {
  id: string;
  node: string;
  nodeId: string;
  iface: string;
  filter: string;
  command: string;
  state: 'running' | 'ended';
  reason?: string;
  error?: boolean;
  captured: number;
  bytes: number;
  skipped: number;
  /** Oldest packets the backend dropped to stay within the capture's bound: no longer in the list or the export. */
  dropped: number;
  droppedBytes: number;
  kernelDropped?: number;
}

export interface SecondSample {
  /** Seconds since the epoch. */
  t: number;
  packets: Record<keyof EncapTally, number>;
  bytes: Record<keyof EncapTally, number>;
}

const keptSeconds = 120;

export class CaptureFeed {
  readonly rows = new Map<string, PacketRow[]>();
  readonly infos = new Map<string, CaptureInfo>();
  readonly seconds = new Map<string, SecondSample[]>();
  version = 0;
  private readonly listeners = new Set<() => void>();
  private readonly unacked = new Map<string, number>();
  private frame: number | undefined;
  constructor(private readonly client: ConsoleClient) {}

  /** Starts listening; returns the stop (an effect's cleanup, so that React's double mount in development is harmless). */
  attach(): () => void {
    const stops = [
      this.client.on('capture.packets', (e) => {
        const info = this.infos.get(e.captureId);
        const list = this.rows.get(e.captureId);
        if (!info || !list) return; // discarded
        for (const row of e.rows) list.push(row);
        info.captured = e.captured;
        info.bytes = e.bytes;
        info.skipped = e.skipped;
        info.dropped = e.dropped;
        info.droppedBytes = e.droppedBytes;
        if (e.kernelDropped !== undefined) info.kernelDropped = e.kernelDropped;
        this.trim(e.captureId, list, e.dropped);
        this.addSample(e.captureId, e.at, e.tally);
        this.unacked.set(e.captureId, (this.unacked.get(e.captureId) ?? 0) + e.rows.length);
        this.schedule();
      }),
      this.client.on('capture.end', (e) => {
        const info = this.infos.get(e.captureId);
        if (!info) return;
        Object.assign(info, { state: 'ended', reason: e.reason, error: e.error, captured: e.captured }, e.kernelDropped === undefined ? {} : { kernelDropped: e.kernelDropped });
        this.schedule();
      }),
    ];
    return () => {
      for (const stop of stops) stop();
      if (this.frame !== undefined) cancelAnimationFrame(this.frame);
      this.frame = undefined;
    };
  }

  /**
   * Drops the rows of packets the backend dropped, once they are a tenth of the list: a new array
   * (the display filter starts again on a new array), so trimming costs a copy per tenth, not per batch.
   */
  private trim(captureId: string, list: PacketRow[], dropped: number): void {
    // The rows are in number order: how many are of dropped packets, by binary search.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.n <= dropped) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && lo * 10 >= list.length) this.rows.set(captureId, list.slice(lo));
  }

  private addSample(captureId: string, at: number, tally: EncapTally): void {
    const list = this.seconds.get(captureId) ?? [];
    this.seconds.set(captureId, list);
    const t = Math.floor(at);
    let last = list[list.length - 1];
    if (!last || last.t !== t) {
      last = { t, packets: { direct: 0, IPIP: 0, VXLAN: 0 }, bytes: { direct: 0, IPIP: 0, VXLAN: 0 } };
      list.push(last);
      if (list.length > keptSeconds) list.splice(0, list.length - keptSeconds);
    }
    for (const k of ['direct', 'IPIP', 'VXLAN'] as const) {
      last.packets[k] += tally[k].packets;
      last.bytes[k] += tally[k].bytes;
    }
  }

  private schedule(): void {
    if (this.frame !== undefined) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = undefined;
      this.version++;
      for (const listener of this.listeners) listener();
      // Drawn: now the backend may send more.
      for (const [captureId, rows] of this.unacked) if (rows > 0) this.client.notify('capture.ack', { captureId, rows });
      this.unacked.clear();
    });
  }

  add(info: CaptureInfo): void {
    this.infos.set(info.id, info);
    this.rows.set(info.id, []);
    this.schedule();
  }

  remove(captureId: string): void {
    this.infos.delete(captureId);
    this.rows.delete(captureId);
    this.seconds.delete(captureId);
    this.schedule();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getVersion = (): number => this.version;
}
