// The kernel reports every route change to `ip monitor`, our own writes too: a pass of 100k BGP
// routes came back as 100k events, each of which asked for another full pass (reading and
// planning the whole table again) to find nothing to do. The routes a pass writes are expected
// back here, and an event that is one of them is not news; any other event (a route deleted by
// hand, a link gone) still is.
import { ginghamRouteProtocol } from '../../shared/dataplane-plan/index.ts';
import type { RouteChange } from './route-change.ts';
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

export class RouteEchoes {
  /** Destinations added or replaced, and deleted, with how many are expected (keyed by the routes' own strings: no new string per route). */
  private readonly added = new Map<string, number>();
  private readonly deleted = new Map<string, number>();
  private until = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** The kernel will report these changes (the caller is writing them). */
  expect(changes: readonly RouteChange[]): void {
    this.until = this.now() + EXPECT_MS;
    for (const change of changes) {
      const [map, dst] = change.op === 'del' ? [this.deleted, change.dst] : [this.added, change.route.dst];
      map.set(dst, (map.get(dst) ?? 0) + 1);
    }
  }

  /**
   * Whether an `ip -4 monitor label` line is the kernel's report of one of our own writes; it is
   * then taken off the list (the same change by hand later is news again).
   */
  isEcho(line: string): boolean {
    if (this.added.size === 0 && this.deleted.size === 0) return false;
    if (this.now() > this.until) {
      this.added.clear();
      this.deleted.clear();
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
    const key = normaliseDst(dst);
    const map = deleted ? this.deleted : this.added;
    const count = map.get(key);
    if (!count) return false;
    if (count === 1) map.delete(key);
    else map.set(key, count - 1);
    this.until = this.now() + EXPECT_MS;
    return true;
  }
}
