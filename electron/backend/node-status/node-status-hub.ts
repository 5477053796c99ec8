// The console's watches of GinghamNodeStatus: one per cluster context, whoever asks (every window,
// every tab, every view, and backend services such as a convergence check), started by the first
// subscriber and stopped when the last one leaves. Each renderer subscription is pushed the
// watch's full state (in parts of at most `snapshotPart` statuses) and then its deltas as events.
import { randomUUID } from 'node:crypto';
import { ApiException, CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import type { EventEmitter, RequestHandlers } from '../../../shared/api/console-contract.ts';
import type { NodeStatusEntry } from '../../../shared/api/node-status-contract.ts';
import type { ListWatchSource } from '../../../shared/kube/list-watch.ts';
import { nodeAgentStatusKind } from '../../../shared/model/node-agent-status.ts';
import { clusterError } from '../kube/cluster-errors.ts';
import { retryThrottled } from '../kube/retry-throttled.ts';
import { NodeStatusWatch, type NodeStatusListener, type NodeStatusWatchOptions, type RawStatusObject } from './node-status-watch.ts';

/** 429 and 503 tried again every 200 ms for about five seconds: the console was told to look at once (a CRD just established). */
const quickRetries = { tries: 25, fallbackMs: 200, maxWaitMs: 200 };

const schedule = (fn: () => void, ms: number) => {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

/** Statuses per snapshot event: 500 nodes' at about 1 KB each stay well under a WebSocket frame a browser takes at once. */
const snapshotPart = 100;

/** The kind's list and watch through the user's kubeconfig (its context current), errors in words. */
export function statusSource(config: KubeConfig, context: string): ListWatchSource<RawStatusObject> {
  const [group, version] = nodeAgentStatusKind.apiVersion.split('/') as [string, string];
  const plural = nodeAgentStatusKind.plural;
  const api = config.makeApiClient(CustomObjectsApi);
  const server = config.getCurrentCluster()?.server ?? 'the API server';
  return {
    path: `/apis/${group}/${version}/${plural}`,
    watcher: new Watch(config),
    list: async () => {
      try {
        const list = (await retryThrottled(() => api.listClusterCustomObject({ group, version, plural }), quickRetries)) as { items?: RawStatusObject[]; metadata?: { resourceVersion?: string } };
        return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
      } catch (error) {
        if (!(error instanceof ApiException)) throw clusterError(error, context, server, config.getCurrentUser()?.exec?.command);
        const body = (typeof error.body === 'string' ? safeJson(error.body) : error.body) as { message?: string } | undefined;
        const words =
          error.code === 403
            ? `your user in ${context} may not list ${plural}.${group} (HTTP 403): ask the cluster admin for read access; until then the console reads nodes over SSH`
            : `listing ${plural}.${group} in ${context}: HTTP ${error.code}${body?.message ? `: ${body.message}` : ''}`;
        throw Object.assign(new Error(words), { statusCode: error.code });
      }
    },
  };
}


function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

export interface NodeStatusHubOptions extends Partial<NodeStatusWatchOptions> {
  /** How a context's watch reads the cluster; the kubeconfig's by default. */
  source?: (context: string) => ListWatchSource<RawStatusObject>;
}

export class NodeStatusHub {
  private readonly watches = new Map<string, NodeStatusWatch>();

  constructor(
    private readonly kubeConfigFor: (context: string) => KubeConfig,
    private readonly options: NodeStatusHubOptions = {},
  ) {}

  private watchFor(context: string): NodeStatusWatch {
    let watch = this.watches.get(context);
    if (!watch) {
      const source = this.options.source?.(context) ?? statusSource(this.kubeConfigFor(context), context);
      watch = new NodeStatusWatch(source, { schedule, ...this.options });
      this.watches.set(context, watch);
      watch.start();
    }
    return watch;
  }

  /** The context's statuses now, if a watch of it runs (else undefined: subscribe first). */
  current(context: string): NodeStatusEntry[] | undefined {
    return this.watches.get(context)?.current();
  }

  /**
   * Listens to the context's statuses: the full state at once, then each change. The one watch of
   * the context starts with its first listener and stops after its last. For backend services too
   * (the IP pools' convergence check can wait on these instead of asking every agent over SSH).
   */
  subscribe(context: string, listener: NodeStatusListener): { unsubscribe(): void; resend(): void } {
    const watch = this.watchFor(context);
    const stop = watch.subscribe(listener);
    return {
      unsubscribe: () => {
        stop();
        if (watch.subscribers === 0 && this.watches.get(context) === watch) {
          this.watches.delete(context);
          void watch.stop();
        }
      },
      resend: () => {
        watch.wake();
        watch.resend(listener);
      },
    };
  }

  /** The request handlers of one client (a window, a tab): its subscriptions end with it. */
  client(emit: EventEmitter): { handlers: Pick<RequestHandlers, 'nodeStatus.subscribe' | 'nodeStatus.unsubscribe'>; close(): void } {
    const subscriptions = new Map<string, { context: string; unsubscribe(): void; resend(): void }>();
    return {
      handlers: {
        'nodeStatus.subscribe': async ({ context }) => {
          const existing = [...subscriptions.entries()].find(([, s]) => s.context === context);
          if (existing) {
            existing[1].resend();
            return { subscriptionId: existing[0] };
          }
          const subscriptionId = randomUUID();
          // The answer goes before the first event (the renderer then knows the id): events wait
          // for the next turn of the loop, which comes after the answer has been sent.
          let queued: Array<() => void> | undefined = [];
          setImmediate(() => {
            const ready = queued ?? [];
            queued = undefined;
            for (const send of ready) send();
          });
          const send = (event: () => void) => (queued ? queued.push(event) : event());
          const listener: NodeStatusListener = {
            snapshot: (entries, watch) =>
              send(() => {
                for (let i = 0; i === 0 || i < entries.length; i += snapshotPart) {
                  emit('nodeStatus.snapshot', { subscriptionId, context, watch, statuses: entries.slice(i, i + snapshotPart), first: i === 0, last: i + snapshotPart >= entries.length });
                }
              }),
            delta: (upserted, deleted, watch) => send(() => emit('nodeStatus.delta', { subscriptionId, context, watch, upserted, deleted })),
          };
          subscriptions.set(subscriptionId, { context, ...this.subscribe(context, listener) });
          return { subscriptionId };
        },
        'nodeStatus.unsubscribe': async ({ subscriptionId }) => {
          const subscription = subscriptions.get(subscriptionId);
          subscription?.unsubscribe();
          subscriptions.delete(subscriptionId);
          return { unsubscribed: subscription !== undefined };
        },
      },
      close: () => {
        for (const subscription of subscriptions.values()) subscription.unsubscribe();
        subscriptions.clear();
      },
    };
  }

  async close(): Promise<void> {
    const all = [...this.watches.values()];
    this.watches.clear();
    await Promise.all(all.map((w) => w.stop()));
  }
}
