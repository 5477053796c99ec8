// The user-space tunl0's next hops as a route moves off it. The kernel hands a packet to the TUN
// device when it routes it, and the helper reads it from the device's queue some time later: a
// few microseconds on an idle host, tens of milliseconds on a loaded one (20-100 ms measured on
// the lab's two cores during a mode switch). A packet routed to tunl0 just before `ip route
// replace` moved its destination to vxlan.calico is read after the pass, and the pass used to
// give the helper exactly the routes it still wanted: the helper found no next hop and dropped
// it (1-2 pings per IP-in-IP -> VXLAN switch, `mode-switch-lab.int.test.ts`). So a next hop the
// routes no longer use stays in the helper's table for `drainMs` more, which costs nothing: the
// kernel sends nothing new to tunl0 for that destination.
import type { TunnelRoute } from './userspace-tunnel.ts';

/** Far longer than a loaded helper is behind its queue, and short enough that a gateway that changed is soon forgotten. */
export const tunl0DrainMs = 1000;

export class DrainingNextHops {
  /** Next hops the routes left, and when each may go. */
  private readonly leaving = new Map<string, { gateway: string; until: number }>();

  constructor(private readonly drainMs = tunl0DrainMs) {}

  /**
   * The helper's table after a pass: `wanted` (the routes' next hops now), and each next hop of
   * `had` (what the helper held during the pass) that `wanted` lacks, until it has drained.
   */
  table(had: readonly TunnelRoute[], wanted: readonly TunnelRoute[], now: number): TunnelRoute[] {
    const want = new Map(wanted.map((r) => [r.dst, r.gateway]));
    for (const dst of want.keys()) this.leaving.delete(dst);
    for (const r of had) if (!want.has(r.dst) && !this.leaving.has(r.dst)) this.leaving.set(r.dst, { gateway: r.gateway, until: now + this.drainMs });
    for (const [dst, entry] of this.leaving) if (entry.until <= now) this.leaving.delete(dst);
    return [...wanted, ...[...this.leaving].map(([dst, { gateway }]) => ({ dst, gateway }))];
  }

  /** When the next leaving next hop may go (undefined: none is leaving). */
  nextExpiry(): number | undefined {
    let first: number | undefined;
    for (const { until } of this.leaving.values()) if (first === undefined || until < first) first = until;
    return first;
  }

  /** Forgets everything (the helper stopped, or another agent takes it over). */
  clear(): void {
    this.leaving.clear();
  }
}
