// Adj-RIBs-In and the Loc-RIB in one structure: for each prefix, the list of paths (one per peer
// and ADD-PATH identifier), kept best first. Attributes are interned RouteAttributes shared by
// many prefixes; paths are numbers in typed arrays, with no object per route.
//
// The table is split into 64 partitions by prefix, each with its own prefix table and path
// arrays. Path arrays grow in place (growable.ts); a prefix table rehashes when it doubles,
// through a scratch copy of one partition's entries only. So a growing table leaves no garbage
// arrays behind, which the collector would free late: their memory counted in the peak.
// Changes of the best path are collected as dirty prefixes for the speaker to export and install
// in batches.
import { growable, resize } from './growable.ts';
import { PrefixTable } from './prefix-table.ts';
import { type RouteAttributes, compareRoutes } from './route-attributes.ts';

const NONE = -1;
const STALE = 1;
const PARTITION_BITS = 6;
const INITIAL_PATHS = 256;
/** Paths one partition can hold: 64 x 4M, far beyond any table (address space is reserved, memory is not). */
const MAX_PATHS = 1 << 22;
const MAX_DIRTY = 1 << 26;

/** One partition's paths: typed arrays indexed by path number, with a free list through `next`. */
class Partition {
  /** prefix -> first path (the best). */
  readonly heads = new PrefixTable(INITIAL_PATHS / 2, MAX_PATHS);
  readonly attr = growable(Int32Array, INITIAL_PATHS, MAX_PATHS);
  readonly next = growable(Int32Array, INITIAL_PATHS, MAX_PATHS);
  readonly peer = growable(Uint16Array, INITIAL_PATHS, MAX_PATHS);
  readonly flags = growable(Uint8Array, INITIAL_PATHS, MAX_PATHS);
  /** ADD-PATH identifiers; allocated when the first non-zero one arrives (most tables have none). */
  ids: Uint32Array | undefined;
  free = NONE;
  used = 0;
  highWater = 0;

  alloc(): number {
    if (this.free !== NONE) {
      const p = this.free;
      this.free = this.next[p]!;
      this.used++;
      return p;
    }
    if (this.highWater === this.attr.length) this.grow();
    this.used++;
    return this.highWater++;
  }

  release(p: number): void {
    this.attr[p] = NONE;
    this.next[p] = this.free;
    this.free = p;
    this.used--;
  }

  id(p: number): number {
    return this.ids ? this.ids[p]! : 0;
  }

  setId(p: number, id: number): void {
    if (id !== 0 && !this.ids) {
      this.ids = growable(Uint32Array, this.attr.length, MAX_PATHS);
    }
    if (this.ids) this.ids[p] = id;
  }

  private grow(): void {
    const n = this.attr.length * 2;
    for (const array of [this.attr, this.next, this.peer, this.flags, this.ids]) if (array) resize(array, n);
  }

  get bytes(): number {
    return this.heads.bytes + this.attr.length * (4 + 4 + 2 + 1 + (this.ids ? 4 : 0));
  }
}

export class Rib {
  private readonly parts: Partition[] = Array.from({ length: 1 << PARTITION_BITS }, () => new Partition());
  private prefixes = 0;

  /** Interned attributes by index; index -1 means none. */
  readonly attributes: Array<RouteAttributes | undefined> = [];
  private readonly freeAttributes: number[] = [];
  private readonly interned = new Map<string, number>();

  /**
   * Prefixes whose best path may have changed since the last drain, as a queue (a prefix may
   * appear twice; whoever drains compares with what it holds, so repeats cost nothing).
   */
  private readonly dirtyAddress = growable(Uint32Array, 1 << 12, MAX_DIRTY);
  private readonly dirtyLength = growable(Uint8Array, 1 << 12, MAX_DIRTY);
  private dirtyCount = 0;
  /** Paths per peer index. */
  readonly pathCount: number[] = [];

  /** Fibonacci hashing: the top bits of address x golden ratio spread prefixes evenly. */
  private part(address: number, length: number): Partition {
    return this.parts[Math.imul((address ^ length) >>> 0, 0x9e3779b1) >>> (32 - PARTITION_BITS)]!;
  }

  // ---- attributes ----

  /** Interns an attribute set by key (peer + attribute bytes); returns its index. */
  intern(key: string, make: () => RouteAttributes): number {
    const found = this.interned.get(key);
    if (found !== undefined) return found;
    const attrs = make();
    const index = this.freeAttributes.pop() ?? this.attributes.length;
    this.attributes[index] = attrs;
    this.interned.set(key, index);
    return index;
  }

  retain(index: number): void {
    this.attributes[index]!.refs++;
  }

  release(index: number): void {
    const a = this.attributes[index]!;
    if (--a.refs === 0) {
      this.interned.delete(a.key);
      this.attributes[index] = undefined;
      this.freeAttributes.push(index);
    }
  }

  get attributeSets(): number {
    return this.interned.size;
  }

  // ---- paths ----

  /** Inserts path p into the prefix's list at its place by preference; returns the new head. */
  private insertSorted(P: Partition, head: number, p: number): number {
    const mine = this.attributes[P.attr[p]!]!;
    if (head === NONE || this.better(P, p, mine, head)) {
      P.next[p] = head;
      return p;
    }
    let prev = head;
    let cur = P.next[head]!;
    while (cur !== NONE && !this.better(P, p, mine, cur)) {
      prev = cur;
      cur = P.next[cur]!;
    }
    P.next[p] = cur;
    P.next[prev] = p;
    return head;
  }

  private better(P: Partition, p: number, mine: RouteAttributes, q: number): boolean {
    const c = compareRoutes(mine, this.attributes[P.attr[q]!]!);
    return c < 0 || (c === 0 && P.id(p) < P.id(q));
  }

  /** Unlinks the path of (peer, pathId) from the list; returns [newHead, removedIndex]. */
  private unlink(P: Partition, head: number, peer: number, id: number): [number, number] {
    let prev = NONE;
    let cur = head;
    while (cur !== NONE) {
      if (P.peer[cur] === peer && P.id(cur) === id) {
        const next = P.next[cur]!;
        if (prev === NONE) head = next;
        else P.next[prev] = next;
        return [head, cur];
      }
      prev = cur;
      cur = P.next[cur]!;
    }
    return [head, NONE];
  }

  private markDirty(address: number, length: number): void {
    if (this.dirtyCount === this.dirtyAddress.length) {
      // Drained every turn of the event loop, so it never nears its 64M limit.
      resize(this.dirtyAddress, this.dirtyCount * 2);
      resize(this.dirtyLength, this.dirtyCount * 2);
    }
    this.dirtyAddress[this.dirtyCount] = address;
    this.dirtyLength[this.dirtyCount++] = length;
  }

  get dirtySize(): number {
    return this.dirtyCount;
  }

  /** Adds or replaces the path from `peer` (with ADD-PATH id) for a prefix. Takes a reference on attrIndex. */
  update(peer: number, address: number, length: number, id: number, attrIndex: number): void {
    const P = this.part(address, length);
    const head = P.heads.get(address, length);
    this.attributes[attrIndex]!.refs++;
    let p: number;
    if (head === NONE) {
      p = P.alloc();
      P.attr[p] = attrIndex;
      P.setId(p, id);
      P.peer[p] = peer;
      P.flags[p] = 0;
      P.next[p] = NONE;
      P.heads.set(address, length, p);
      this.prefixes++;
      this.pathCount[peer] = (this.pathCount[peer] ?? 0) + 1;
      this.markDirty(address, length);
      return;
    }
    const [rest, old] = this.unlink(P, head, peer, id);
    if (old !== NONE) {
      if (P.attr[old] === attrIndex && P.flags[old] === 0) {
        // Same attributes again: nothing changes (undo the unlink).
        this.attributes[attrIndex]!.refs--;
        P.heads.set(address, length, this.insertSorted(P, rest, old));
        return;
      }
      this.release(P.attr[old]!);
      p = old;
    } else {
      p = P.alloc();
      this.pathCount[peer] = (this.pathCount[peer] ?? 0) + 1;
    }
    P.attr[p] = attrIndex;
    P.setId(p, id);
    P.peer[p] = peer;
    P.flags[p] = 0;
    const newHead = this.insertSorted(P, rest, p);
    P.heads.set(address, length, newHead);
    if (newHead === p || head === old) this.markDirty(address, length);
  }

  /** Removes the path from `peer` for a prefix; true when there was one. */
  withdraw(peer: number, address: number, length: number, id: number): boolean {
    const P = this.part(address, length);
    const head = P.heads.get(address, length);
    if (head === NONE) return false;
    const [rest, old] = this.unlink(P, head, peer, id);
    if (old === NONE) return false;
    this.release(P.attr[old]!);
    P.release(old);
    this.pathCount[peer]!--;
    if (rest === NONE) {
      P.heads.delete(address, length);
      this.prefixes--;
    } else {
      P.heads.set(address, length, rest);
    }
    if (old === head) this.markDirty(address, length);
    return true;
  }

  /** The attribute index of the best path, or -1. */
  best(address: number, length: number): number {
    const P = this.part(address, length);
    const head = P.heads.get(address, length);
    return head === NONE ? NONE : P.attr[head]!;
  }

  /** Every path of a prefix, best first. */
  paths(address: number, length: number): Array<{ peer: number; pathId: number; attrIndex: number; stale: boolean }> {
    const P = this.part(address, length);
    const out = [];
    for (let p = P.heads.get(address, length); p !== NONE; p = P.next[p]!) {
      out.push({ peer: P.peer[p]!, pathId: P.id(p), attrIndex: P.attr[p]!, stale: P.flags[p] === STALE });
    }
    return out;
  }

  get prefixCount(): number {
    return this.prefixes;
  }

  forEachPrefix(visit: (address: number, length: number) => void): void {
    for (const P of this.parts) P.heads.forEach((address, length) => visit(address, length));
  }

  /** Marks every path of a peer stale (graceful restart); returns how many. */
  markStale(peer: number): number {
    let n = 0;
    for (const P of this.parts) {
      for (let p = 0; p < P.highWater; p++) {
        if (P.attr[p] !== NONE && P.peer[p] === peer) {
          P.flags[p] = STALE;
          n++;
        }
      }
    }
    return n;
  }

  /** Removes the peer's paths, only the stale ones when `onlyStale`; returns how many. */
  removePeer(peer: number, onlyStale = false): number {
    if ((this.pathCount[peer] ?? 0) === 0) return 0;
    let n = 0;
    // One partition at a time, so that the list of victims stays a 64th of the table.
    for (const P of this.parts) {
      const victims: number[] = [];
      P.heads.forEach((address, length, head) => {
        for (let p = head; p !== NONE; p = P.next[p]!) {
          if (P.peer[p] === peer && (!onlyStale || P.flags[p] === STALE)) victims.push(address, length, P.id(p));
        }
      });
      for (let i = 0; i < victims.length; i += 3) this.withdraw(peer, victims[i]!, victims[i + 1]!, victims[i + 2]!);
      n += victims.length / 3;
    }
    return n;
  }

  staleCount(peer: number): number {
    let n = 0;
    for (const P of this.parts) for (let p = 0; p < P.highWater; p++) if (P.attr[p] !== NONE && P.peer[p] === peer && P.flags[p] === STALE) n++;
    return n;
  }

  /** Takes the dirty prefixes (and empties the queue). */
  drainDirty(visit: (address: number, length: number) => void): void {
    const n = this.dirtyCount;
    const addresses = this.dirtyAddress;
    const lengths = this.dirtyLength;
    this.dirtyCount = 0;
    for (let i = 0; i < n; i++) visit(addresses[i]!, lengths[i]!);
    if (addresses.length > 1 << 16) {
      // Give back the memory of a big burst (a full table) once it is handled.
      resize(addresses, 1 << 12);
      resize(lengths, 1 << 12);
    }
  }

  /** Bytes held by the typed arrays (prefix tables, paths, the dirty queue). */
  get bytes(): number {
    let n = this.dirtyAddress.length * 5;
    for (const P of this.parts) n += P.bytes;
    return n;
  }

  get pathTotal(): number {
    let n = 0;
    for (const P of this.parts) n += P.used;
    return n;
  }
}
