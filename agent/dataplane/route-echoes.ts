// The kernel reports every route change to `ip monitor`, our own writes too: a pass of 100k BGP
// routes came back as 100k events, each of which asked for another full pass (reading and
// planning the whole table again) to find nothing to do. The routes a pass writes are expected
// back here, and an event that is one of them is not news; any other event (a route deleted by
// hand, a link gone) still is.
import { ginghamRouteProtocol } from '../../shared/dataplane-plan/index.ts';
import type { RouteChange } from './route-change.ts';
import { normaliseDst } from './kernel/snapshot.ts';

/** How long after a write its events are expected (a loaded machine reads its monitor late). */
const EXPECT_MS = 10_000;
const typeWords = new Set(['unicast', 'blackhole', 'unreachable', 'prohibit', 'local', 'broadcast', 'throw', 'nat', 'anycast', 'multicast']);
const ours = ` proto ${ginghamRouteProtocol}`;

export class RouteEchoes {
  /** "+dst" (added or replaced) and "-dst" (deleted), with how many are expected. */
  private expected = new Map<string, number>();
  private until = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** The kernel will report these changes (the caller is writing them). */
  expect(changes: readonly RouteChange[]): void {
    this.until = this.now() + EXPECT_MS;
    for (const change of changes) {
      const key = change.op === 'del' ? `-${change.dst}` : `+${change.route.dst}`;
      this.expected.set(key, (this.expected.get(key) ?? 0) + 1);
    }
  }

  /**
   * Whether an `ip -4 monitor label` line is the kernel's report of one of our own writes; it is
   * then taken off the list (the same change by hand later is news again).
   */
  isEcho(line: string): boolean {
    if (this.expected.size === 0) return false;
    if (this.now() > this.until) {
      this.expected.clear();
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
    const key = `${deleted ? '-' : '+'}${normaliseDst(dst)}`;
    const count = this.expected.get(key);
    if (!count) return false;
    if (count === 1) this.expected.delete(key);
    else this.expected.set(key, count - 1);
    return true;
  }
}
