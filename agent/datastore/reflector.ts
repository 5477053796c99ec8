// List+watch of one kind into a local cache, as client-go's reflector does: list, then watch from
// the list's resourceVersion; a watch that ends (server timeout, broken connection, API server
// restart) is resumed from the last resourceVersion seen; a 410 Gone (that version is no longer
// in the server's window) forces a full relist, and so does a watch that failed (the server gone,
// refusing, erring). While the server is unreachable the cache keeps its last contents: the agent
// goes on with the last known state.
import type { KubeClient } from './kube-client.ts';
import { collectionPath } from './kube-api.ts';

export interface KindInfo {
  apiVersion: string;
  kind: string;
  plural: string;
}

export interface ReflectorOptions {
  /** Asks the server to end each watch after this long (the reflector then resumes it). */
  watchTimeoutSeconds?: number;
  /** Longest pause between retries while the server is unreachable. */
  maxBackoffMs?: number;
  log?: (message: string) => void;
}

export interface ReflectorStats {
  lists: number;
  watches: number;
  /** Watches that ended with 410 Gone and forced a relist. */
  gone: number;
  /** Failed lists or watches (server unreachable or refusing). */
  failures: number;
}

interface Named {
  metadata?: { name?: string; resourceVersion?: string };
}

type WatchEnd = 'closed' | 'gone' | 'failed';

export class Reflector<T extends Named> {
  private readonly cache = new Map<string, T>();
  private resourceVersion = '';
  private stopped = false;
  private abort: AbortController | undefined;
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private everSynced = false;
  readonly stats: ReflectorStats = { lists: 0, watches: 0, gone: 0, failures: 0 };
  /** True while the last list or watch attempt reached the server. */
  connected = false;
  lastError: string | undefined;

  constructor(
    private readonly client: KubeClient,
    readonly info: KindInfo,
    /** Called after every change to the cache (a list or one watch event). */
    private readonly onChange: (reason: string) => void,
    private readonly options: ReflectorOptions = {},
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
    this.abort?.abort();
    this.wake?.();
    await this.running;
  }

  private log(message: string): void {
    this.options.log?.(`${this.info.kind}: ${message}`);
  }

  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
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
    this.connected = false;
    this.lastError = message;
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.client.list<T>(this.info.apiVersion, this.info.kind);
    this.stats.lists++;
    this.connected = true;
    this.lastError = undefined;
    this.cache.clear();
    for (const item of items) {
      const name = item.metadata?.name;
      if (name) this.cache.set(name, item);
    }
    this.resourceVersion = resourceVersion;
    this.everSynced = true;
    this.onChange('list');
  }

  /** One watch request, from the last resourceVersion; resolves when it ends. */
  private watchOnce(): Promise<WatchEnd> {
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? 300;
    return new Promise<WatchEnd>((resolve) => {
      let end: WatchEnd = 'closed';
      let settled = false;
      // A connection that silently dies (no FIN, no RST) would hang forever: give up a little
      // after the server's own timeout would have ended it.
      const deadline = setTimeout(() => this.abort?.abort(), (timeoutSeconds + 15) * 1000);
      const finish = (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (error && end === 'closed') {
          const status = (error as { statusCode?: number }).statusCode;
          if (status === 410) end = 'gone';
          else if (!this.stopped && (error as Error).name !== 'AbortError') {
            end = 'failed';
            this.failed(error);
          }
        }
        resolve(end);
      };
      this.stats.watches++;
      const query = { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds };
      this.client.watch
        .watch(
          collectionPath(this.info.apiVersion, this.info.plural),
          query,
          (type: string, object: T & { code?: number }) => {
            this.connected = true;
            this.lastError = undefined;
            if (type === 'ERROR') {
              end = object.code === 410 ? 'gone' : 'failed';
              if (end === 'failed') this.failed(new Error(`watch error: ${JSON.stringify(object)}`));
              this.abort?.abort();
              return;
            }
            const version = object.metadata?.resourceVersion;
            if (version) this.resourceVersion = version;
            if (type === 'BOOKMARK') return;
            const name = object.metadata?.name;
            if (!name) return;
            if (type === 'DELETED') this.cache.delete(name);
            else this.cache.set(name, object);
            this.onChange(`${type.toLowerCase()} ${name}`);
          },
          finish,
        )
        .then(
          (controller) => {
            this.abort = controller;
            if (this.stopped) controller.abort();
            // Resolved without having ended: the server accepted the watch (a quiet one sends no events).
            else if (!settled) {
              this.connected = true;
              this.lastError = undefined;
            }
          },
          finish,
        );
    });
  }
}
