// The kernel reports every route change to `ip monitor`, our own writes too: a pass of 100k BGP
// routes came back as 100k events, each of which asked for another full pass (reading and
// planning the whole table again) to find nothing to do. The routes a pass writes are expected
// back here, and an event that is one of them is not news; any other event (a route deleted by
// hand, a link gone) still is.
import { ginghamRouteProtocol } from '../../shared/dataplane-plan/index.ts';
import type { RouteChange } from './route-change.ts';
import { RouteChangeList } from './route-change-list.ts';
import { prefixKey, prefixOf } from './bgp-route-table.ts';
import { normaliseDst } from './kernel/snapshot.ts';

/**
 * How long after a write, or after the last of its events came back, the rest are expected (a
 * loaded machine reads its monitor late). From the last event, not only from the write: a pass
 * of 500k routes came back over more than 10 s, and the late half, taken for news, cost a full
 * pass that read and planned the whole table again.
 */
const EXPECT_MS = 10_000;
const typeWords = new Set(['unicast', 'blackhole', 'unreachable', 'prohibit', 'local', 'broadcast', 'throw', 'nat', 'anycast', 'multicast']);
const ours = ` proto ${ginghamRouteProtocol}`;

/** An echo as one number: the prefix, and whether it is a deletion. */
const echoKey = (address: number, length: number, deleted: boolean) => prefixKey(address, length) * 2 + (deleted ? 1 : 0);

/** Sorted echo keys, each once: a copy, or the written change list itself when it is in that order. */
interface Keys {
  readonly size: number;
  key(i: number): number;
}

/**
 * One write's expected echoes: their keys sorted, with how many of each are still to come. Kept
 * as numbers: at a million routes a map of destination strings held 28 MiB. A BGP pass writes its
 * routes in prefix order, and then the change list is the key list (1 byte an echo more, for the
 * count); a copy of its keys (9 bytes an echo) was 7.6 MiB of the peak at 1M, beside the list.
 */
class Expected {
  constructor(readonly keys: Keys, readonly counts: Uint8Array, public left: number) {}

  /** Takes one echo of `key` off, if one is expected. */
  take(key: number): boolean {
    let lo = 0, hi = this.keys.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const k = this.keys.key(mid);
      if (k < key) lo = mid + 1;
      else if (k > key) hi = mid - 1;
      else {
        if (this.counts[mid] === 0) return false;
        this.counts[mid]!--;
        this.left--;
        return true;
      }
    }
    return false;
  }
}

export class RouteEchoes {
  private batches: Expected[] = [];
  private until = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** The kernel will report these changes (the caller is writing them). */
  expect(changes: readonly RouteChange[] | RouteChangeList): void {
    const list = changes instanceof RouteChangeList ? changes : RouteChangeList.from(changes);
    if (list.size === 0) return;
    this.arm();
    const keyOf = (i: number) => echoKey(list.address(i), list.length(i), list.op(i) === 'del');
    // A BGP pass's changes come in the table's order, each prefix once: the list is the key list.
    // The list is not changed once written.
    let ordered = true;
    for (let i = 1; i < list.size && ordered; i++) ordered = keyOf(i - 1) < keyOf(i);
    if (ordered) {
      this.batches.push(new Expected({ size: list.size, key: keyOf }, new Uint8Array(list.size).fill(1), list.size));
      return;
    }
    let keys = new Float64Array(list.size);
    for (let i = 0; i < list.size; i++) keys[i] = keyOf(i);
    keys.sort();
    // The same destination twice in one write (rare) is one key counted twice.
    const counts = new Uint8Array(keys.length);
    let n = 0;
    for (let i = 0; i < keys.length; i++) {
      if (n > 0 && keys[n - 1] === keys[i] && counts[n - 1]! < 255) counts[n - 1]!++;
      else {
        keys[n] = keys[i]!;
        counts[n++] = 1;
      }
    }
    if (n < keys.length) keys = keys.slice(0, n);
    const copy = keys;
    this.batches.push(new Expected({ size: n, key: (i) => copy[i]! }, counts.slice(0, n), list.size));
  }

  /** Echoes still expected (a test reads it: forgotten batches hold no memory). */
  get pending(): number {
    return this.batches.reduce((sum, batch) => sum + batch.left, 0);
  }

  private timer: NodeJS.Timeout | undefined;

  /**
   * Expects echoes EXPECT_MS more, and forgets the batches once that passes with none: after a
   * burst whose last echoes the monitor lost (it drops events when the kernel outpaces it), they
   * held a million keys until the next kernel event, which may never come.
   */
  private arm(): void {
    this.until = this.now() + EXPECT_MS;
    if (this.timer) return;
    const check = () => {
      const left = this.until - this.now();
      if (left > 0) {
        this.timer = setTimeout(check, left);
        this.timer.unref();
        return;
      }
      this.timer = undefined;
      this.batches = [];
    };
    this.timer = setTimeout(check, EXPECT_MS);
    this.timer.unref();
  }

  /**
   * Whether an `ip -4 monitor label` line is the kernel's report of one of our own writes; it is
   * then taken off the list (the same change by hand later is news again).
   */
  isEcho(line: string): boolean {
    if (this.batches.length === 0) return false;
    if (this.now() > this.until) {
      this.batches = [];
      return false;
    }
    if (!line.startsWith('[ROUTE]')) return false;
    let text = line.slice('[ROUTE]'.length).trimEnd();
    const deleted = text.startsWith('Deleted ');
    if (deleted) text = text.slice('Deleted '.length);
    if (!text.includes(`${ours} `) && !text.endsWith(ours)) return false;
    const words = text.split(' ', 2);
    const dst = typeWords.has(words[0]!) ? words[1] : words[0];
    if (!dst) return false;
    let key: number;
    try {
      key = echoKey(...prefixOf(normaliseDst(dst)), deleted);
    } catch {
      return false; // not an address we write
    }
    for (const batch of this.batches) {
      if (!batch.take(key)) continue;
      if (batch.left === 0) this.batches = this.batches.filter((b) => b !== batch);
      this.arm();
      return true;
    }
    return false;
  }
}
