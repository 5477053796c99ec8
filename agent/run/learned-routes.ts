// The speaker's learned routes as the agent's desired state takes them, pushed by the speaker's
// change events (after each RIB flush, session change and End-of-RIB) instead of polling its
// RIB, and every one of them (the RIB view for `status` stops at 10,000 prefixes). The routes are
// kept up to date from the RIB's changes (agent/bgp/learned-table.ts), as numbers in a table the
// dataplane takes as it is (agent/dataplane/bgp-route-table.ts).
import { LearnedTable } from '../bgp/learned-table.ts';
import type { Speaker } from '../bgp/speaker.ts';
import type { BgpRouteTable } from '../dataplane/bgp-route-table.ts';

/** A peer that sends no End-of-RIB counts as complete this long after its session came up. */
export const END_OF_RIB_GRACE_MS = 10_000;

export class LearnedRoutes {
  private readonly unsubscribe: () => void;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private readonly table: LearnedTable;

  constructor(private readonly speaker: Speaker, private readonly onChange: () => void, private readonly graceMs = END_OF_RIB_GRACE_MS) {
    this.table = new LearnedTable(speaker.rib);
    this.unsubscribe = speaker.onChange(() => {
      this.armGrace();
      this.notify();
    });
  }

  /** What the last routes() cost (ms): the size of a recomputation, which paces the next. */
  private lastCostMs = 0;
  private lastNotified = -Infinity;
  private paced: NodeJS.Timeout | undefined;

  /**
   * Tells the agent of a change at once when it has been quiet, else no sooner than twice what
   * reading the routes last cost after the last telling (at most a second): during a burst of
   * 100k routes each recomputation takes hundreds of milliseconds, and back to back they held the
   * event loop the sessions and the reconcile passes need. A few routes cost microseconds, so a
   * small cluster is told at once, every time.
   */
  private notify(): void {
    if (this.paced) return;
    const wait = this.lastNotified + Math.min(1000, 2 * this.lastCostMs) - performance.now();
    if (wait <= 0) {
      this.lastNotified = performance.now();
      this.onChange();
      return;
    }
    this.paced = setTimeout(() => {
      this.paced = undefined;
      this.lastNotified = performance.now();
      this.onChange();
    }, wait);
  }

  /** Best paths from peers, sorted by prefix: the same table as last time when nothing changed. */
  routes(): BgpRouteTable {
    const started = performance.now();
    const routes = this.table.update();
    this.lastCostMs = performance.now() - started;
    return routes;
  }

  /**
   * Peers whose BGP routes are the whole truth, so that the agent stands in none of their node's
   * IPAM blocks: up, and End-of-RIB received (RFC 4724) or up for the grace time (a peer without
   * graceful restart may send none); and peers whose established session went down longer than
   * their graceful-restart time ago, whose node's routes are withdrawn then, as BIRD withdraws a
   * restarting peer's stale routes when its restart time runs out (a node cut off for good is no
   * longer routed to). A peer that has not been up since the agent started is not among them: its
   * node's blocks are routed from IPAM while its session comes up.
   */
  completePeers(now = Date.now()): string[] {
    const up = this.upPeers().filter((p) => p.stats.endOfRibReceived || now - p.since.getTime() >= this.graceMs);
    return [...up, ...this.expiredPeers(now)].map((p) => p.settings.address);
  }

  /** Down, after having been up, for longer than the restart time they were given. */
  private expiredPeers(now: number) {
    return this.speaker.peers.filter((p) => p.enabled && p.established === undefined && p.downAt > 0 && now - p.downAt >= p.settings.restartTime * 1000);
  }

  /** Sessions up (read from the peers themselves: the status view formats much more, per event). */
  private upPeers() {
    return this.speaker.peers.filter((p) => p.enabled && p.established !== undefined && p.state === 'Established');
  }

  /** The earliest moment an up peer without End-of-RIB becomes complete, or a down peer's restart time runs out: a change then too. */
  private armGrace(): void {
    const now = Date.now();
    let at = Infinity;
    for (const p of this.upPeers()) {
      if (p.stats.endOfRibReceived) continue;
      const due = p.since.getTime() + this.graceMs;
      if (due > now) at = Math.min(at, due);
    }
    for (const p of this.speaker.peers) {
      if (!p.enabled || p.established !== undefined || p.downAt === 0) continue;
      const due = p.downAt + p.settings.restartTime * 1000;
      if (due > now) at = Math.min(at, due);
    }
    if (at === Infinity || at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.armGrace();
      this.onChange();
    }, at - now);
    this.timer.unref();
  }

  stop(): void {
    this.unsubscribe();
    if (this.timer) clearTimeout(this.timer);
    if (this.paced) clearTimeout(this.paced);
  }
}
