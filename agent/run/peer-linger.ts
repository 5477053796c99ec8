// What a node keeps for its peers during a mode switch (make before break, docs/dataplane.md):
// the old encapsulations it still receives and whether BGP stays up. What peers' own modes send
// (the pool's, a canary's override) is kept for as long as those modes stand; what peers only
// published they still send is kept until they say they moved, or for at most `boundMs` for a
// peer that never will (its agent stopped).
import { encapsulationsFromPeers, peersOnBgp } from '../../shared/dataplane-plan/mode-switch.ts';
import type { ClusterSnapshot } from '../../shared/model/cluster-snapshot.ts';
import { encapsulations, type Encapsulation } from '../../shared/model/node-encapsulation.ts';

/**
 * How long a node keeps receiving an old encapsulation (and keeps BGP up) for peers whose modes
 * no longer send it but that have not published that they moved: long enough for any live agent,
 * bounded for one that stopped. What peers' modes send (a canary's override too) has no bound.
 */
export const lingerMs = 20_000;

export interface KeptForPeers {
  keepAccepting: Encapsulation[];
  /** BGP stays up although this node's own pools are all VXLAN. */
  keepBgp: boolean;
}

export class PeerLinger {
  /** Since when each of IPIP, VXLAN, BGP has been kept for leftovers only (ms since the epoch). */
  private readonly since = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly boundMs: number,
    /** Called when a bound runs out: the caller computes again (and drops what ran out). */
    private readonly expired: () => void,
    private readonly warn: (message: string) => void,
  ) {}

  /** What to keep now; `ownPoolsRouteByBgp` is whether this node's own pools want BGP anyway. */
  kept(snapshot: ClusterSnapshot, nodeName: string, ownPoolsRouteByBgp: boolean): KeptForPeers {
    const fromPeers = encapsulationsFromPeers(snapshot, nodeName);
    const keepAccepting = encapsulations.filter((e) => {
      const leftover = this.keep(e, !fromPeers.expected.has(e) && fromPeers.leftover.has(e));
      return fromPeers.expected.has(e) || leftover;
    });
    const bgp = ownPoolsRouteByBgp ? { expected: false, leftover: false } : peersOnBgp(snapshot, nodeName);
    const leftoverBgp = this.keep('BGP', !bgp.expected && bgp.leftover);
    return { keepAccepting, keepBgp: bgp.expected || leftoverBgp };
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Whether to keep `what` for leftovers now; the caller is called back when its time runs out. */
  private keep(what: string, wanted: boolean): boolean {
    if (!wanted) {
      this.since.delete(what);
      return false;
    }
    const now = Date.now();
    const since = this.since.get(what) ?? now;
    this.since.set(what, since);
    const left = since + this.boundMs - now;
    if (left <= 0) {
      if (left > -1000) this.warn(`${what}: still wanted by peers that have not published that they moved after ${this.boundMs / 1000} s; no longer kept for them`);
      return false;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.expired();
      }, left + 10);
      this.timer.unref();
    }
    return true;
  }
}
