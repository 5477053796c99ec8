// List+watch of one kind into a local cache, as client-go's reflector does: list, then watch from
// the list's resourceVersion; a watch that ends (server timeout, broken connection, API server
// restart) is resumed from the last resourceVersion seen; a 410 Gone (that version is no longer
// in the server's window) forces a full relist, and so does a watch that failed (the server gone,
// refusing, erring), after a backoff. While the server is unreachable the cache keeps its last
// contents. Every change is reported as a delta: a relist as what it added, changed and removed
// against the cache, a watch event as its one object. The agent's datastore and the console's
// node-status watch both run this; each hands it its client's list and watch (the clients differ
// in where they run, not in how a watch works) and its timers, as shared/ has none of its own.
import type { Schedule } from '../api/frame-client.ts';

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

/** A running watch request. */
export interface WatchStream {
  abort(): void;
}

/** What a watch needs of a client; @kubernetes/client-node's Watch has this shape. */
export interface Watcher {
  watch(
    path: string,
    query: Record<string, string | number | boolean>,
    onEvent: (type: string, object: unknown) => void,
    done: (error: unknown) => void,
  ): Promise<WatchStream>;
}

export interface ListWatchSource<T> {
  /** Lists the kind's collection; an error with `statusCode` or `status` keeps the server's status. */
  list(): Promise<ListResult<T>>;
  watcher: Watcher;
  /** The collection's path on the server (/apis/GROUP/VERSION/PLURAL). */
  path: string;
}

export interface ListWatchOptions {
  schedule: Schedule;
  /** Asks the server to end each watch after this long (it is then resumed). */
  watchTimeoutSeconds?: number;
  /** Longest pause between retries while the server is unreachable. */
  maxBackoffMs?: number;
  /** What log lines start with (the kind). */
  label?: string;
  log?: (message: string) => void;
  /** Called when `connected`, `synced` or `lastError` change. */
  onState?: (state: ListWatchState) => void;
}

export interface ListWatchState {
  connected: boolean;
  synced: boolean;
  lastError: string | undefined;
}

export interface ListWatchStats {
  lists: number;
  watches: number;
  /** Watches that ended with 410 Gone and forced a relist. */
  gone: number;
  /** Failed lists or watches (server unreachable or refusing). */
  failures: number;
}

/** One change to the cache: what a (re)list or a watch event added or changed, and what it removed. */
export interface ListWatchChange<T> {
  /** `list`, or the event's type and the object's name (`modified worker-1`). */
  reason: string;
  /** A full list replaced the cache (the first one, or after a 410 or a failure). */
  relisted: boolean;
  upserted: T[];
  /** The removed objects, as last known. */
  deleted: T[];
}

interface Named {
  metadata?: { name?: string; resourceVersion?: string };
}

type WatchEnd = 'closed' | 'gone' | 'failed';

/** The HTTP status an error carries: client-node's watch sets `statusCode`, clients' own errors `status` or `code`. */
export function httpStatusOf(error: unknown): number | undefined {
  const e = error as { statusCode?: unknown; status?: unknown; code?: unknown } | undefined;
  for (const value of [e?.statusCode, e?.status, e?.code]) if (typeof value === 'number') return value;
  return undefined;
}

export class ListWatch<T extends Named> {
  private readonly cache = new Map<string, T>();
  private resourceVersion = '';
  private stopped = false;
  private stream: WatchStream | undefined;
  private wakeUp: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private everSynced = false;
  readonly stats: ListWatchStats = { lists: 0, watches: 0, gone: 0, failures: 0 };
  /** True while the last list or watch attempt reached the server. */
  connected = false;
  lastError: string | undefined;

  constructor(
    private readonly source: ListWatchSource<T>,
    /** Called after every change to the cache (a list or one watch event). */
    private readonly onChange: (change: ListWatchChange<T>) => void,
    private readonly options: ListWatchOptions,
  ) {}

  /** The cached objects, by name. */
  items(): T[] {
    return [...this.cache.values()];
  }

  get(name: string): T | undefined {
    return this.cache.get(name);
  }

  get synced(): boolean {
    return this.everSynced;
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stream?.abort();
    this.wakeUp?.();
    await this.running;
  }

  /** Retries at once when waiting to retry (a list that failed): someone expects the kind to be there now. */
  wake(): void {
    this.wakeUp?.();
  }

  private log(message: string): void {
    this.options.log?.(`${this.options.label ? `${this.options.label}: ` : ''}${message}`);
  }

  private stateKey(): string {
    return `${this.connected} ${this.everSynced} ${this.lastError}`;
  }

  private notifyState(before: string): void {
    if (this.stateKey() !== before) this.options.onState?.({ connected: this.connected, synced: this.everSynced, lastError: this.lastError });
  }

  private state(update: { connected: boolean; lastError: string | undefined }): void {
    const before = this.stateKey();
    this.connected = update.connected;
    this.lastError = update.lastError;
    this.notifyState(before);
  }

  private async pause(ms: number): Promise<void> {
    if (this.stopped) return;
    await new Promise<void>((resolve) => {
      const cancel = this.options.schedule(resolve, ms);
      this.wakeUp = () => {
        cancel();
        resolve();
      };
    });
    this.wakeUp = undefined;
  }

  private async loop(): Promise<void> {
    let backoff = 100;
    const maxBackoff = this.options.maxBackoffMs ?? 2000;
    let needList = true;
    while (!this.stopped) {
      if (needList) {
        try {
          await this.relist();
          needList = false;
          backoff = 100;
        } catch (error) {
          if (this.stopped) break;
          this.failed(error);
          await this.pause(backoff);
          backoff = Math.min(backoff * 2, maxBackoff);
          continue;
        }
      }
      const end = await this.watchOnce();
      if (this.stopped) break;
      if (end === 'gone') {
        this.stats.gone++;
        this.log(`resourceVersion ${this.resourceVersion} is gone (410): listing again`);
        needList = true;
      } else if (end === 'failed') {
        // List again rather than resume, as client-go does: a server that comes back may hold
        // an older history (etcd restored from a backup), where a watch from our last
        // resourceVersion is accepted and waits for versions it reaches only much later,
        // while the cache goes on holding objects that history no longer has.
        needList = true;
        await this.pause(backoff);
        backoff = Math.min(backoff * 2, maxBackoff);
      } else {
        backoff = 100;
      }
    }
  }

  private failed(error: unknown): void {
    this.stats.failures++;
    const message = (error as Error)?.message ?? String(error);
    if (this.connected || this.lastError !== message) this.log(`${message}; keeping the last known state and retrying`);
    this.state({ connected: false, lastError: message });
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.source.list();
    this.stats.lists++;
    const before = new Map(this.cache);
    const upserted: T[] = [];
    this.cache.clear();
    for (const item of items) {
      const name = item.metadata?.name;
      if (!name) continue;
      this.cache.set(name, item);
      const old = before.get(name);
      before.delete(name);
      if (!old || old.metadata?.resourceVersion !== item.metadata?.resourceVersion || !item.metadata?.resourceVersion) upserted.push(item);
    }
    this.resourceVersion = resourceVersion;
    // The change is told with the state it leaves (synced, connected), and the state after it.
    const state = this.stateKey();
    this.everSynced = true;
    this.connected = true;
    this.lastError = undefined;
    this.onChange({ reason: 'list', relisted: true, upserted, deleted: [...before.values()] });
    this.notifyState(state);
  }

  /** One watch request, from the last resourceVersion; resolves when it ends. */
  private watchOnce(): Promise<WatchEnd> {
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? 300;
    return new Promise<WatchEnd>((resolve) => {
      let end: WatchEnd = 'closed';
      let settled = false;
      // A connection that silently dies (no FIN, no RST) would hang forever: give up a little
      // after the server's own timeout would have ended it.
      const cancelDeadline = this.options.schedule(() => this.stream?.abort(), (timeoutSeconds + 15) * 1000);
      const finish = (error: unknown) => {
        if (settled) return;
        settled = true;
        cancelDeadline();
        if (error && end === 'closed') {
          if (httpStatusOf(error) === 410) end = 'gone';
          else if (!this.stopped && (error as Error).name !== 'AbortError') {
            end = 'failed';
            this.failed(error);
          }
        }
        resolve(end);
      };
      this.stats.watches++;
      const query = { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds };
      this.source.watcher
        .watch(
          this.source.path,
          query,
          (type: string, raw: unknown) => {
            if (settled) return;
            const object = raw as T & { code?: number };
            this.state({ connected: true, lastError: undefined });
            if (type === 'ERROR') {
              end = object.code === 410 ? 'gone' : 'failed';
              if (end === 'failed') this.failed(new Error(`watch error: ${JSON.stringify(object)}`));
              this.stream?.abort();
              return;
            }
            const version = object.metadata?.resourceVersion;
            if (version) this.resourceVersion = version;
            if (type === 'BOOKMARK') return;
            const name = object.metadata?.name;
            if (!name) return;
            const reason = `${type.toLowerCase()} ${name}`;
            if (type === 'DELETED') {
              const last = this.cache.get(name) ?? object;
              this.cache.delete(name);
              this.onChange({ reason, relisted: false, upserted: [], deleted: [last] });
            } else {
              this.cache.set(name, object);
              this.onChange({ reason, relisted: false, upserted: [object], deleted: [] });
            }
          },
          finish,
        )
        .then(
          (stream) => {
            this.stream = stream;
            if (this.stopped) stream.abort();
            // Resolved without having ended: the server accepted the watch (a quiet one sends no events).
            else if (!settled) this.state({ connected: true, lastError: undefined });
          },
          finish,
        );
    });
  }
}
