// The speaker's learned routes (every prefix whose best path a peer sent, with its next hop,
// sorted by prefix) kept up to date from the RIB's changes instead of made again from the whole
// RIB on every change event, and kept as numbers (agent/dataplane/bgp-route-table.ts): at a
// million prefixes a remake was 1M arrays, 1M objects and 2M strings, and the objects alone held
// 108 MiB. An update costs the changed prefixes plus one copy of the arrays (9 MB at 1M); an
// update that changed nothing hands back the same table, so the agent sees no change.
import { BgpRouteTable, prefixKey } from '../dataplane/bgp-route-table.ts';
import type { Rib } from './rib/rib.ts';
import { LOCAL_PEER } from './rib/route-attributes.ts';

export class LearnedTable {
  private table = BgpRouteTable.empty;
  private primed = false;

  constructor(private readonly rib: Rib) {
    rib.watchChanges();
  }

  /** The learned next hop of a prefix (as a number), or undefined when no peer's path is best. */
  private learned(address: number, length: number): number | undefined {
    const best = this.rib.best(address, length);
    const a = best >= 0 ? this.rib.attributes[best]! : undefined;
    return a && a.source.index !== LOCAL_PEER ? a.nextHop : undefined;
  }

  /** The table as the RIB is now: the last one when nothing changed since. */
  update(): BgpRouteTable {
    return this.primed ? this.step() : this.prime();
  }

  /** The first update: the whole RIB. */
  private prime(): BgpRouteTable {
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
      keys[n++] = prefixKey(address, length);
    });
    keys = keys.slice(0, n).sort();
    const addresses = new Uint32Array(n), lengths = new Uint8Array(n), nextHops = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      const length = k % 64, address = (k - length) / 64;
      addresses[i] = address;
      lengths[i] = length;
      nextHops[i] = this.learned(address, length)!;
    }
    this.table = new BgpRouteTable(addresses, lengths, nextHops);
    return this.table;
  }

  /** Later updates: the prefixes the RIB marked since, merged into the sorted table. */
  private step(): BgpRouteTable {
    let changedKeys = new Float64Array(256);
    let c = 0;
    this.rib.drainWatched((address, length) => {
      if (c === changedKeys.length) {
        const grown = new Float64Array(c * 2);
        grown.set(changedKeys);
        changedKeys = grown;
      }
      changedKeys[c++] = prefixKey(address, length);
    });
    if (c === 0) return this.table;
    changedKeys = changedKeys.subarray(0, c).sort();
    const old = this.table, n = old.size;
    const addresses = new Uint32Array(n + c), lengths = new Uint8Array(n + c), nextHops = new Uint32Array(n + c);
    let i = 0, j = 0, m = 0;
    let changed = false;
    const keep = (k: number) => {
      addresses[m] = old.addresses[k]!;
      lengths[m] = old.lengths[k]!;
      nextHops[m++] = old.nextHops[k]!;
    };
    while (j < c) {
      const k = changedKeys[j++]!;
      if (j < c && changedKeys[j] === k) continue;
      while (i < n && old.key(i) < k) keep(i++);
      const existing = i < n && old.key(i) === k ? i++ : -1;
      const length = k % 64, address = (k - length) / 64;
      const nextHop = this.learned(address, length);
      if (nextHop === undefined) {
        if (existing >= 0) changed = true;
        continue;
      }
      if (existing < 0 || old.nextHops[existing] !== nextHop) changed = true;
      addresses[m] = address;
      lengths[m] = length;
      nextHops[m++] = nextHop;
    }
    while (i < n) keep(i++);
    if (!changed) return old;
    // A view of the first m: at most c entries unused, freed with the table.
    this.table = new BgpRouteTable(addresses.subarray(0, m), lengths.subarray(0, m), nextHops.subarray(0, m));
    return this.table;
  }
}
