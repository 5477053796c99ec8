// One kind's list+watch into a local cache through the agent's KubeClient: the shared engine
// (shared/kube/list-watch.ts: list, watch from the list's resourceVersion, resume, relist on 410
// or failure, backoff) on the agent's client and Node's timers. While the server is unreachable
// the cache keeps its last contents: the agent goes on with the last known state.
import { ListWatch, type ListWatchStats } from '../../shared/kube/list-watch.ts';
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

export type ReflectorStats = ListWatchStats;

interface Named {
  metadata?: { name?: string; resourceVersion?: string };
}

/** Node's timers in the shape the shared engine takes them. */
const nodeSchedule = (fn: () => void, ms: number): (() => void) => {
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
};

export class Reflector<T extends Named> extends ListWatch<T> {
  constructor(
    client: KubeClient,
    readonly info: KindInfo,
    /** Called after every change to the cache (a list or one watch event), with what it was. */
    onChange: (reason: string) => void,
    options: ReflectorOptions = {},
  ) {
    super(
      { list: () => client.list<T>(info.apiVersion, info.kind), watcher: client.watch, path: collectionPath(info.apiVersion, info.plural) },
      (change) => onChange(change.reason),
      { ...options, label: info.kind, schedule: nodeSchedule },
    );
  }
}
