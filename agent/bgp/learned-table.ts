// The speaker's learned routes (every prefix whose best path a peer sent, with its next hop,
// sorted by prefix) kept up to date from the RIB's changes instead of made again from the whole
// RIB on every change event. At a million prefixes each remake was 1M arrays, 1M objects and 2M
// strings (seconds of CPU and most of the agent's garbage); now an update costs the changed
// prefixes plus one copy of the array of references, and an unchanged route stays the same
// object, so that the readers after it (the agent's comparison of states, the dataplane's step)
// can tell what changed cheaply.
import { formatIPv4 } from '../../shared/net/index.ts';
import type { Rib } from './rib/rib.ts';
import { LOCAL_PEER } from './rib/route-attributes.ts';
import type { LearnedRoute } from './speaker-status.ts';

/** What one update found. */
export interface LearnedUpdate {
  /** Every learned route, sorted by prefix (a new array each time: the caller may append to it). */
  routes: LearnedRoute[];
  /** Routes that came or whose next hop changed since the last update. */
  changed: LearnedRoute[];
  /** Prefixes ("a.b.c.d/len") that are no longer learned. */
  removed: string[];
}

/** A prefix as one sortable number: address then length, as learnedRoutes() sorts. */
const keyOf = (address: number, length: number) => address * 64 + length;

export class LearnedTable {
  /** The routes of the last update (only the first `count` are ours) and their keys. */
  private routes: LearnedRoute[] = [];
  private keys = new Float64Array(0);
  private count = 0;
  private primed = false;
  /** Next hops as text, shared by the routes (a handful of distinct ones). */
  private readonly hopText = new Map<number, string>();

  constructor(private readonly rib: Rib) {
    rib.watchChanges();
  }

  private hop(nextHop: number): string {
    let text = this.hopText.get(nextHop);
    if (text === undefined) {
      if (this.hopText.size >= 4096) this.hopText.clear();
      text = formatIPv4(nextHop);
      this.hopText.set(nextHop, text);
    }
    return text;
  }

  /** The learned next hop of a prefix (as a number), or undefined when no peer's path is best. */
  private learned(address: number, length: number): number | undefined {
    const best = this.rib.best(address, length);
    const a = best >= 0 ? this.rib.attributes[best]! : undefined;
    return a && a.source.index !== LOCAL_PEER ? a.nextHop : undefined;
  }

  /** Brings the table to the RIB as it is now. */
  update(): LearnedUpdate {
    return this.primed ? this.step() : this.prime();
  }

  /** The first update: the whole RIB. */
  private prime(): LearnedUpdate {
    this.primed = true;
    this.rib.drainWatched(() => undefined);
    let keys = new Float64Array(Math.max(16, this.rib.prefixCount));
    let n = 0;
    this.rib.forEachPrefix((address, length) => {
      if (this.learned(address, length) === undefined) return;
      if (n === keys.length) {
        const grown = new Float64Array(n * 2);
        grown.set(keys);
        keys = grown;
      }
      keys[n++] = keyOf(address, length);
    });
    keys = keys.slice(0, n).sort();
    const routes = new Array<LearnedRoute>(n);
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      const length = k % 64, address = (k - length) / 64;
      routes[i] = { cidr: `${formatIPv4(address)}/${length}`, nextHop: this.hop(this.learned(address, length)!) };
    }
    this.keys = keys;
    this.count = n;
    this.routes = routes;
    return { routes: routes.slice(), changed: routes.slice(), removed: [] };
  }

  /** Later updates: the prefixes the RIB marked since, merged into the sorted table. */
  private step(): LearnedUpdate {
    let changedKeys = new Float64Array(256);
    let c = 0;
    this.rib.drainWatched((address, length) => {
      if (c === changedKeys.length) {
        const grown = new Float64Array(c * 2);
        grown.set(changedKeys);
        changedKeys = grown;
      }
      changedKeys[c++] = keyOf(address, length);
    });
    changedKeys = changedKeys.subarray(0, c).sort();
    const changed: LearnedRoute[] = [];
    const removed: string[] = [];
    const old = this.routes, oldKeys = this.keys, n = this.count;
    const routes: LearnedRoute[] = [];
    const keys = new Float64Array(n + c);
    let i = 0, j = 0, m = 0;
    while (j < c) {
      const k = changedKeys[j++]!;
      if (j < c && changedKeys[j] === k) continue;
      while (i < n && oldKeys[i]! < k) {
        keys[m++] = oldKeys[i]!;
        routes.push(old[i++]!);
      }
      const existing = i < n && oldKeys[i] === k ? old[i++] : undefined;
      const length = k % 64, address = (k - length) / 64;
      const nextHop = this.learned(address, length);
      if (nextHop === undefined) {
        if (existing) removed.push(existing.cidr);
        continue;
      }
      const text = this.hop(nextHop);
      let route = existing;
      if (!route || route.nextHop !== text) {
        route = { cidr: existing?.cidr ?? `${formatIPv4(address)}/${length}`, nextHop: text };
        changed.push(route);
      }
      keys[m++] = k;
      routes.push(route);
    }
    while (i < n) {
      keys[m++] = oldKeys[i]!;
      routes.push(old[i++]!);
    }
    this.routes = routes;
    this.keys = keys;
    this.count = m;
    return { routes: routes.slice(), changed, removed };
  }
}
