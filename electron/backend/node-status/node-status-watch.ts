// One cluster's GinghamNodeStatus objects as the console holds them: one list+watch of the kind
// (shared/kube/list-watch.ts: resumed after the server's timeout, relisted after a 410 or a
// failure, with backoff), each object read through the model's schema, each marked stale once
// its heartbeat is older than the schema allows, and every subscriber told the full state once
// and then each change as a delta. Staleness comes with time, not with an event: a timer is set
// for the moment the next fresh status would turn stale, and nothing is asked of the server.
import type { NodeStatusEntry, NodeStatusWatchState } from '../../../shared/api/node-status-contract.ts';
import type { Schedule } from '../../../shared/api/frame-client.ts';
import { httpStatusOf, ListWatch, type ListWatchChange, type ListWatchSource } from '../../../shared/kube/list-watch.ts';
import { isStale, nodeAgentStatusKind, nodeAgentStatusObjectSchema, staleAfterSeconds } from '../../../shared/model/node-agent-status.ts';

export interface RawStatusObject {
  metadata?: { name?: string; resourceVersion?: string };
  status?: unknown;
}

export interface NodeStatusListener {
  snapshot(entries: NodeStatusEntry[], watch: NodeStatusWatchState): void;
  delta(upserted: NodeStatusEntry[], deleted: string[], watch: NodeStatusWatchState): void;
}

export interface NodeStatusWatchOptions {
  schedule: Schedule;
  now?: () => number;
  /** Longest pause between retries (the kind missing, the server away). */
  maxBackoffMs?: number;
  watchTimeoutSeconds?: number;
  log?: (message: string) => void;
}

/** The list+watch's events as entries: parsed, with `stale` judged at `now`. */
export function toEntry(object: RawStatusObject, now: number): NodeStatusEntry {
  const node = object.metadata?.name ?? '';
  const resourceVersion = object.metadata?.resourceVersion;
  const parsed = nodeAgentStatusObjectSchema.safeParse({ apiVersion: nodeAgentStatusKind.apiVersion, kind: nodeAgentStatusKind.kind, ...object });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { node, ...(resourceVersion ? { resourceVersion } : {}), stale: false, invalid: `${issue?.path.join('.') || 'the object'}: ${issue?.message ?? 'does not match the schema'}` };
  }
  const status = parsed.data.status;
  return { node, ...(resourceVersion ? { resourceVersion } : {}), stale: isStale(status, now), status };
}

export class NodeStatusWatch {
  private readonly entries = new Map<string, NodeStatusEntry>();
  private readonly listeners = new Set<NodeStatusListener>();
  private readonly listWatch: ListWatch<RawStatusObject>;
  private missing = false;
  private cancelStaleTimer: (() => void) | undefined;
  private stopped = false;
  /** The watch state last told, so that a change of state alone is told once. */
  private lastWatchState = '';

  constructor(
    source: ListWatchSource<RawStatusObject>,
    private readonly options: NodeStatusWatchOptions,
  ) {
    const list = async () => {
      try {
        const result = await source.list();
        this.missing = false;
        return result;
      } catch (error) {
        // No such kind: the agent's manifests (which create the CRD) were never applied here.
        this.missing = httpStatusOf(error) === 404;
        if (this.missing) throw new Error(`this cluster has no ${nodeAgentStatusKind.kind} kind: no Gingham agent has been installed in it`);
        throw error;
      }
    };
    this.listWatch = new ListWatch<RawStatusObject>({ ...source, list }, (change) => this.changed(change), {
      schedule: options.schedule,
      label: nodeAgentStatusKind.kind,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
      ...(options.watchTimeoutSeconds ? { watchTimeoutSeconds: options.watchTimeoutSeconds } : {}),
      ...(options.log ? { log: options.log } : {}),
      // A change of connection alone: told once, unless a delta just carried it.
      onState: () => this.emitDelta([], []),
    });
  }

  start(): void {
    this.listWatch.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelStaleTimer?.();
    this.listeners.clear();
    await this.listWatch.stop();
  }

  /** Retries at once if the watch waits to retry. */
  wake(): void {
    this.listWatch.wake();
  }

  get watchState(): NodeStatusWatchState {
    return {
      connected: this.listWatch.connected,
      synced: this.listWatch.synced,
      missing: this.missing,
      ...(this.listWatch.lastError ? { error: this.listWatch.lastError } : {}),
    };
  }

  /** The statuses now, by node name. */
  current(): NodeStatusEntry[] {
    return [...this.entries.values()].sort((a, b) => a.node.localeCompare(b.node));
  }

  /** Tells `listener` the full state now, then every change; returns the unsubscribe. */
  subscribe(listener: NodeStatusListener): () => void {
    this.listeners.add(listener);
    listener.snapshot(this.current(), this.watchState);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Sends `listener` (subscribed) the full state again. */
  resend(listener: NodeStatusListener): void {
    if (this.listeners.has(listener)) listener.snapshot(this.current(), this.watchState);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private changed(change: ListWatchChange<RawStatusObject>): void {
    const now = this.now();
    const upserted = change.upserted.filter((o) => o.metadata?.name).map((o) => toEntry(o, now));
    const deleted = change.deleted.map((o) => o.metadata?.name ?? '').filter((n) => this.entries.has(n));
    for (const name of deleted) this.entries.delete(name);
    for (const entry of upserted) this.entries.set(entry.node, entry);
    this.scheduleStaleCheck();
    this.emitDelta(upserted, deleted);
  }

  private emitDelta(upserted: NodeStatusEntry[], deleted: string[]): void {
    if (this.stopped) return;
    const watch = this.watchState;
    const key = JSON.stringify(watch);
    if (upserted.length === 0 && deleted.length === 0 && key === this.lastWatchState) return;
    this.lastWatchState = key;
    for (const listener of this.listeners) listener.delta(upserted, deleted, watch);
  }

  /** A timer for the moment the first fresh status turns stale; none while every status is stale. */
  private scheduleStaleCheck(): void {
    this.cancelStaleTimer?.();
    this.cancelStaleTimer = undefined;
    let next = Infinity;
    for (const entry of this.entries.values()) {
      if (entry.stale || !entry.status) continue;
      next = Math.min(next, Date.parse(entry.status.heartbeatAt) + staleAfterSeconds * 1000);
    }
    if (!Number.isFinite(next) || this.stopped) return;
    this.cancelStaleTimer = this.options.schedule(() => this.checkStale(), Math.max(0, next - this.now()) + 1);
  }

  private checkStale(): void {
    const now = this.now();
    const turned: NodeStatusEntry[] = [];
    for (const entry of this.entries.values()) {
      if (entry.stale || !entry.status || !isStale(entry.status, now)) continue;
      const stale = { ...entry, stale: true };
      this.entries.set(entry.node, stale);
      turned.push(stale);
    }
    this.scheduleStaleCheck();
    if (turned.length > 0) this.emitDelta(turned, []);
  }
}
