// BGP-learned routes as the dataplane takes them from the speaker: prefixes sorted by address then
// length, with their next hops, in typed arrays (9 bytes a route). As objects they were one
// {cidr, nextHop} and a string per route: 108 MiB of heap at a million routes, and as much again
// in garbage each time they were made anew. A table is never changed once made; an update makes a
// new one, so "the same table" means "no change", and two tables compare by a walk over numbers.
import type { BgpRoute } from '../../shared/dataplane-plan/desired-state.ts';
import { formatIPv4, parseCidr, parseIPv4 } from '../../shared/net/index.ts';

/** A prefix as one number that sorts as the table does: address, then length. */
export const prefixKey = (address: number, length: number): number => address * 64 + length;

/** "a.b.c.d/len" as [address, length], without the checks of parseCidr (the planner's and the kernel's notation). */
export function prefixOf(cidr: string): [number, number] {
  const slash = cidr.indexOf('/');
  return slash < 0 ? [parseIPv4(cidr), 32] : [parseIPv4(cidr.slice(0, slash)), Number(cidr.slice(slash + 1))];
}

export class BgpRouteTable {
  static readonly empty = new BgpRouteTable(new Uint32Array(0), new Uint8Array(0), new Uint32Array(0));

  /** Sorted by (address, length), each prefix once; the three arrays have the same length. */
  constructor(
    readonly addresses: Uint32Array,
    readonly lengths: Uint8Array,
    readonly nextHops: Uint32Array,
  ) {}

  get size(): number {
    return this.addresses.length;
  }

  key(i: number): number {
    return prefixKey(this.addresses[i]!, this.lengths[i]!);
  }

  cidr(i: number): string {
    return `${formatIPv4(this.addresses[i]!)}/${this.lengths[i]!}`;
  }

  /** The index of a prefix, or -1. */
  indexOf(address: number, length: number): number {
    const key = prefixKey(address, length);
    let lo = 0, hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const k = this.key(mid);
      if (k === key) return mid;
      if (k < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** As the document's list (the status answer, the console's preview, the user-space tunl0): one object per route, so only where a list is asked for. */
  toRoutes(): BgpRoute[] {
    const out = new Array<BgpRoute>(this.size);
    const hops = new Map<number, string>();
    for (let i = 0; i < this.size; i++) {
      const hop = this.nextHops[i]!;
      let text = hops.get(hop);
      if (text === undefined) hops.set(hop, (text = formatIPv4(hop)));
      out[i] = { cidr: this.cidr(i), nextHop: text };
    }
    return out;
  }

  equals(other: BgpRouteTable): boolean {
    if (other === this) return true;
    if (other.size !== this.size) return false;
    for (let i = 0; i < this.size; i++) {
      if (this.addresses[i] !== other.addresses[i] || this.lengths[i] !== other.lengths[i] || this.nextHops[i] !== other.nextHops[i]) return false;
    }
    return true;
  }

  /**
   * From a document's list. A prefix listed twice keeps its first next hop, and the later ones
   * are returned (the planner says so, as it says of any destination claimed twice).
   */
  static fromRoutes(routes: readonly BgpRoute[]): { table: BgpRouteTable; duplicates: BgpRoute[] } {
    const entries = routes.map((route, order) => {
      const c = parseCidr(route.cidr);
      return { key: prefixKey(c.address, c.prefixLength), address: c.address, length: c.prefixLength, hop: parseIPv4(route.nextHop), order, route };
    });
    entries.sort((a, b) => a.key - b.key || a.order - b.order);
    const duplicates: BgpRoute[] = [];
    const kept = entries.filter((e, i) => {
      if (i > 0 && entries[i - 1]!.key === e.key) {
        duplicates.push(e.route);
        return false;
      }
      return true;
    });
    const table = new BgpRouteTable(Uint32Array.from(kept, (e) => e.address), Uint8Array.from(kept, (e) => e.length), Uint32Array.from(kept, (e) => e.hop));
    return { table, duplicates };
  }

  /** This table with `extra` added where it has no route for the prefix (the agent's IPAM stand-ins); itself when nothing is added. */
  withRoutes(extra: readonly BgpRoute[]): BgpRouteTable {
    const missing = extra.filter((route) => {
      const c = parseCidr(route.cidr);
      return this.indexOf(c.address, c.prefixLength) < 0;
    });
    if (missing.length === 0) return this;
    const { table: add } = BgpRouteTable.fromRoutes(missing);
    const n = this.size + add.size;
    const addresses = new Uint32Array(n), lengths = new Uint8Array(n), nextHops = new Uint32Array(n);
    let i = 0, j = 0;
    for (let m = 0; m < n; m++) {
      const t: BgpRouteTable = j >= add.size || (i < this.size && this.key(i) < add.key(j)) ? this : add;
      const k = t === this ? i++ : j++;
      addresses[m] = t.addresses[k]!;
      lengths[m] = t.lengths[k]!;
      nextHops[m] = t.nextHops[k]!;
    }
    return new BgpRouteTable(addresses, lengths, nextHops);
  }
}
