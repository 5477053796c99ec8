// A Kubernetes API the unit tests drive by hand, for what runs on shared/kube/list-watch.ts: lists
// answered from a queue (an object list or an error), watches kept open until the test sends
// their events or ends them, and timers that run only when the test fires them.
import type { ListResult, ListWatchSource, Watcher } from '../list-watch.ts';

export interface FakeWatch {
  query: Record<string, unknown>;
  event(type: string, object: unknown): void;
  end(error: unknown): void;
  aborted: boolean;
}

/** Lets pending promise callbacks, timers of 0 ms and immediates run (a few turns of the event loop). */
export async function settle(): Promise<void> {
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setTimeout(resolve, 0));
}

export function fakeListWatch<T>() {
  const lists: Array<ListResult<T> | Error> = [];
  const watches: FakeWatch[] = [];
  const timers: Array<{ fn: () => void; ms: number; cancelled: boolean }> = [];
  let listCalls = 0;
  const watcher: Watcher = {
    async watch(_path, query, onEvent, done) {
      const entry: FakeWatch = { query, event: onEvent, end: done, aborted: false };
      watches.push(entry);
      return {
        abort: () => {
          entry.aborted = true;
          done(Object.assign(new Error('aborted'), { name: 'AbortError' }));
        },
      };
    },
  };
  const source: ListWatchSource<T> = {
    path: '/apis/example.io/v1/things',
    watcher,
    list: async () => {
      listCalls++;
      const next = lists.shift();
      if (!next) throw new Error('no list answer queued');
      if (next instanceof Error) throw next;
      return next;
    },
  };
  const schedule = (fn: () => void, ms: number) => {
    const timer = { fn, ms, cancelled: false };
    timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  };
  return {
    lists,
    watches,
    timers,
    source,
    schedule,
    listCalls: () => listCalls,
    /** The watch opened last. */
    last: () => watches[watches.length - 1]!,
    /** The timers not yet run or cancelled, by delay. */
    pending: () => timers.filter((t) => !t.cancelled).map((t) => t.ms),
    /** Runs the pending timers for which `which` holds (a delay, or a test of it). */
    async fire(which: number | ((ms: number) => boolean)) {
      for (const timer of timers.filter((t) => !t.cancelled && (typeof which === 'number' ? t.ms === which : which(t.ms)))) {
        timer.cancelled = true;
        timer.fn();
      }
      await settle();
    },
  };
}
