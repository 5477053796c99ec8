// Adj-RIBs-In and the Loc-RIB in one structure: for each prefix, the list of paths (one per peer
// and ADD-PATH identifier), kept best first. Attributes are interned RouteAttributes shared by
// many prefixes; paths are numbers in typed arrays, with no object per route.
//
// Paths live in fixed-size pages, as the prefix table's entries do (prefix-table.ts): a table
// that grows adds pages and never copies, so taking in a full table leaves no old arrays for the
// collector to free late (their memory counted in the peak). Changes of the best path are
// collected as dirty prefixes for the speaker to export and install in batches.
//
// Each prefix also carries one bit, "installed": the speaker's best route for it is in the
// kernel. What the kernel holds is then the best paths of the marked prefixes, with no second
// table of installed routes (that repeated the RIB: about 19 MB at a million prefixes). A prefix
// whose last path goes while marked leaves the mark in its dirty record, so that whoever drains
// the queue still knows to delete the kernel route.
import { PrefixTable } from './prefix-table.ts';
import { type RouteAttributes, compareRoutes } from './route-attributes.ts';

const NONE = -1;
const STALE = 1;
/** In a prefix table value: the kernel holds this prefix's route. The other bits: the first path. */
const INSTALLED = 0x40000000;
const HEAD = INSTALLED - 1;
/** In a dirty record's length byte: the prefix left the table while marked installed. */
const WAS_INSTALLED = 0x80;
const PAGE_BITS = 14;
const PAGE = 1 << PAGE_BITS;
const PAGE_MASK = PAGE - 1;

/** The paths: attribute index, next path of the prefix (or free list), peer, flags, ADD-PATH id. */
class PathPool {
  readonly attr: Int32Array[] = [];
  readonly next: Int32Array[] = [];
  readonly peer: Uint16Array[] = [];
  readonly flags: Uint8Array[] = [];
  /** ADD-PATH identifiers, a page made when the first non-zero one lands in it (most tables have none). */
  readonly ids: Array<Uint32Array | undefined> = [];
  private free = NONE;
  used = 0;
  highWater = 0;

  alloc(): number {
    if (this.free !== NONE) {
      const p = this.free;
      this.free = this.getNext(p);
      this.used++;
      return p;
    }
    // Path numbers share the prefix table's value with the INSTALLED bit (a billion paths).
    if (this.highWater === INSTALLED) throw new Error('RIB full: 2^30 paths');
    if (this.highWater === this.attr.length * PAGE) {
      this.attr.push(new Int32Array(PAGE).fill(NONE));
      this.next.push(new Int32Array(PAGE));
      this.peer.push(new Uint16Array(PAGE));
      this.flags.push(new Uint8Array(PAGE));
      this.ids.push(undefined);
    }
    this.used++;
    return this.highWater++;
  }

  release(p: number): void {
    this.setAttr(p, NONE);
    this.setNext(p, this.free);
    this.free = p;
    this.used--;
  }

  getAttr(p: number): number { return this.attr[p >>> PAGE_BITS]![p & PAGE_MASK]!; }
  setAttr(p: number, v: number): void { this.attr[p >>> PAGE_BITS]![p & PAGE_MASK] = v; }
  getNext(p: number): number { return this.next[p >>> PAGE_BITS]![p & PAGE_MASK]!; }
  setNext(p: number, v: number): void { this.next[p >>> PAGE_BITS]![p & PAGE_MASK] = v; }
  getPeer(p: number): number { return this.peer[p >>> PAGE_BITS]![p & PAGE_MASK]!; }
  setPeer(p: number, v: number): void { this.peer[p >>> PAGE_BITS]![p & PAGE_MASK] = v; }
  getFlags(p: number): number { return this.flags[p >>> PAGE_BITS]![p & PAGE_MASK]!; }
  setFlags(p: number, v: number): void { this.flags[p >>> PAGE_BITS]![p & PAGE_MASK] = v; }
  getId(p: number): number {
    const page = this.ids[p >>> PAGE_BITS];
    return page ? page[p & PAGE_MASK]! : 0;
  }
  setId(p: number, id: number): void {
    let page = this.ids[p >>> PAGE_BITS];
    if (!page) {
      if (id === 0) return;
      page = this.ids[p >>> PAGE_BITS] = new Uint32Array(PAGE);
    }
    page[p & PAGE_MASK] = id;
  }

  get bytes(): number {
    return this.attr.length * PAGE * (4 + 4 + 2 + 1) + this.ids.filter(Boolean).length * PAGE * 4;
  }
}

/** The paths of the prefix being ordered (one prefix at a time: no allocation per update). */
const orderScratch: number[] = [];

export class Rib {
  /** prefix -> first path (the best), with the INSTALLED bit. */
  private readonly heads = new PrefixTable(1 << 12);
  /** Prefixes marked installed. */
  installedCount = 0;
  private readonly pool = new PathPool();

  /** Interned attributes by index; index -1 means none. */
  readonly attributes: Array<RouteAttributes | undefined> = [];
  private readonly freeAttributes: number[] = [];
  private readonly interned = new Map<string, number>();

  /**
   * Prefixes whose best path may have changed since the last drain, as a queue (a prefix may
   * appear twice; whoever drains compares with what it holds, so repeats cost nothing).
   */
  private dirtyAddress = new Uint32Array(1 << 12);
  private dirtyLength = new Uint8Array(1 << 12);
  private dirtyCount = 0;
  /**
   * The same changes again for a second reader (the agent's learned routes, which follow the RIB
   * at their own pace and must not take the speaker's queue from it); made by watchChanges().
   */
  private watched: { address: Uint32Array; length: Uint8Array; count: number } | undefined;
  /** Paths per peer index. */
  readonly pathCount: number[] = [];

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

  /** Puts path p into the prefix's list (`head`, maybe NONE) and orders it; returns the new head. */
  private insertSorted(head: number, p: number): number {
    this.pool.setNext(p, head);
    return this.order(p);
  }

  /**
   * Orders a prefix's paths, best first, the same whatever order they arrived in. MED counts
   * only between paths from the same neighbour AS (RFC 4271 9.1.2.2), which makes a plain
   * pairwise comparison cyclic (a beats b on MED, b beats c, c beats a); so, as BIRD's
   * `deterministic med` and GoBGP do, each neighbour AS's paths are ordered among themselves
   * (MED included), and the groups by their best paths (MED is not compared across ASes).
   * Remaining ties: the lower ADD-PATH id, then the lower peer index.
   */
  private order(head: number): number {
    const pool = this.pool;
    if (head === NONE || pool.getNext(head) === NONE) return head;
    const list = orderScratch;
    list.length = 0;
    for (let p = head; p !== NONE; p = pool.getNext(p)) list.push(p);
    const attrs = this.attributes;
    const cmp = (p: number, q: number) => compareRoutes(attrs[pool.getAttr(p)]!, attrs[pool.getAttr(q)]!) || pool.getId(p) - pool.getId(q) || pool.getPeer(p) - pool.getPeer(q);
    list.sort((p, q) => (attrs[pool.getAttr(p)]!.neighborAs - attrs[pool.getAttr(q)]!.neighborAs) || cmp(p, q));
    // Groups are runs of one neighbour AS, each best first: order the runs by their first paths.
    const starts: number[] = [];
    for (let i = 0; i < list.length; i++) {
      if (i === 0 || attrs[pool.getAttr(list[i]!)]!.neighborAs !== attrs[pool.getAttr(list[i - 1]!)]!.neighborAs) starts.push(i);
    }
    if (starts.length > 1) starts.sort((x, y) => cmp(list[x]!, list[y]!));
    let first = NONE, last = NONE;
    for (const start of starts) {
      const as = attrs[pool.getAttr(list[start]!)]!.neighborAs;
      for (let i = start; i < list.length && attrs[pool.getAttr(list[i]!)]!.neighborAs === as; i++) {
        const p = list[i]!;
        if (last === NONE) first = p;
        else pool.setNext(last, p);
        last = p;
      }
    }
    pool.setNext(last, NONE);
    return first;
  }

  /** Unlinks the path of (peer, pathId) from the list; returns [newHead, removedIndex]. */
  private unlink(head: number, peer: number, id: number): [number, number] {
    const pool = this.pool;
    let prev = NONE;
    let cur = head;
    while (cur !== NONE) {
      if (pool.getPeer(cur) === peer && pool.getId(cur) === id) {
        const next = pool.getNext(cur);
        if (prev === NONE) head = next;
        else pool.setNext(prev, next);
        return [head, cur];
      }
      prev = cur;
      cur = pool.getNext(cur);
    }
    return [head, NONE];
  }

  private markDirty(address: number, length: number, flags = 0): void {
    if (this.dirtyCount === this.dirtyAddress.length) {
      const a = new Uint32Array(this.dirtyCount * 2);
      a.set(this.dirtyAddress);
      this.dirtyAddress = a;
      const l = new Uint8Array(this.dirtyCount * 2);
      l.set(this.dirtyLength);
      this.dirtyLength = l;
    }
    this.dirtyAddress[this.dirtyCount] = address;
    this.dirtyLength[this.dirtyCount++] = length | flags;
    const w = this.watched;
    if (w) {
      if (w.count === w.address.length) {
        const a = new Uint32Array(w.count * 2);
        a.set(w.address);
        w.address = a;
        const l = new Uint8Array(w.count * 2);
        l.set(w.length);
        w.length = l;
      }
      w.address[w.count] = address;
      w.length[w.count++] = length;
    }
  }

  /** From now on, prefixes whose best path may change are also kept for drainWatched. */
  watchChanges(): void {
    this.watched ??= { address: new Uint32Array(1 << 12), length: new Uint8Array(1 << 12), count: 0 };
  }

  /** Takes the prefixes whose best path may have changed since the last call (repeats possible). */
  drainWatched(visit: (address: number, length: number) => void): void {
    const w = this.watched;
    if (!w) return;
    const n = w.count;
    w.count = 0;
    for (let i = 0; i < n; i++) visit(w.address[i]!, w.length[i]!);
    if (w.address.length > 1 << 16) {
      w.address = new Uint32Array(1 << 12);
      w.length = new Uint8Array(1 << 12);
    }
  }

  get dirtySize(): number {
    return this.dirtyCount;
  }

  /** Adds or replaces the path from `peer` (with ADD-PATH id) for a prefix. Takes a reference on attrIndex. */
  update(peer: number, address: number, length: number, id: number, attrIndex: number): void {
    const pool = this.pool;
    const value = this.heads.get(address, length);
    const head = value === NONE ? NONE : value & HEAD;
    const mark = value === NONE ? 0 : value & INSTALLED;
    this.attributes[attrIndex]!.refs++;
    let p: number;
    if (head === NONE) {
      p = pool.alloc();
      pool.setAttr(p, attrIndex);
      pool.setId(p, id);
      pool.setPeer(p, peer);
      pool.setFlags(p, 0);
      pool.setNext(p, NONE);
      this.heads.insertAbsent(address, length, p);
      this.pathCount[peer] = (this.pathCount[peer] ?? 0) + 1;
      this.markDirty(address, length);
      return;
    }
    const [rest, old] = this.unlink(head, peer, id);
    if (old !== NONE) {
      if (pool.getAttr(old) === attrIndex && pool.getFlags(old) === 0) {
        // Same attributes again: nothing changes (undo the unlink).
        this.attributes[attrIndex]!.refs--;
        this.heads.set(address, length, this.insertSorted(rest, old) | mark);
        return;
      }
      this.release(pool.getAttr(old));
      p = old;
    } else {
      p = pool.alloc();
      this.pathCount[peer] = (this.pathCount[peer] ?? 0) + 1;
    }
    pool.setAttr(p, attrIndex);
    pool.setId(p, id);
    pool.setPeer(p, peer);
    pool.setFlags(p, 0);
    const newHead = this.insertSorted(rest, p);
    this.heads.set(address, length, newHead | mark);
    if (newHead !== head || head === old) this.markDirty(address, length);
  }

  /** Removes the path from `peer` for a prefix; true when there was one. */
  withdraw(peer: number, address: number, length: number, id: number): boolean {
    const pool = this.pool;
    const value = this.heads.get(address, length);
    if (value === NONE) return false;
    const head = value & HEAD, mark = value & INSTALLED;
    const [rest, old] = this.unlink(head, peer, id);
    if (old === NONE) return false;
    this.release(pool.getAttr(old));
    pool.release(old);
    this.pathCount[peer]!--;
    if (rest === NONE) {
      this.heads.delete(address, length);
      if (mark) this.installedCount--;
      this.markDirty(address, length, mark ? WAS_INSTALLED : 0);
      return true;
    }
    // A path gone can change which neighbour AS's group is best: order the rest again.
    const newHead = this.order(rest);
    this.heads.set(address, length, newHead | mark);
    if (old === head || newHead !== rest) this.markDirty(address, length);
    return true;
  }

  /** Whether the prefix is marked installed in the kernel. */
  installed(address: number, length: number): boolean {
    const value = this.heads.get(address, length);
    return value !== NONE && (value & INSTALLED) !== 0;
  }

  /** Marks or unmarks a prefix as installed; a prefix not in the table cannot be marked (false). */
  setInstalled(address: number, length: number, on: boolean): boolean {
    const value = this.heads.get(address, length);
    if (value === NONE) return false;
    if (((value & INSTALLED) !== 0) === on) return true;
    this.heads.set(address, length, on ? value | INSTALLED : value & HEAD);
    this.installedCount += on ? 1 : -1;
    return true;
  }

  /** Visits every prefix marked installed; the callback must not change the table. */
  forEachInstalled(visit: (address: number, length: number) => void): void {
    this.heads.forEach((address, length, value) => { if (value & INSTALLED) visit(address, length); });
  }

  /** The attribute index of the best path, or -1. */
  best(address: number, length: number): number {
    const value = this.heads.get(address, length);
    return value === NONE ? NONE : this.pool.getAttr(value & HEAD);
  }

  /** Every path of a prefix, best first. */
  paths(address: number, length: number): Array<{ peer: number; pathId: number; attrIndex: number; stale: boolean }> {
    const pool = this.pool;
    const out = [];
    const value = this.heads.get(address, length);
    for (let p = value === NONE ? NONE : value & HEAD; p !== NONE; p = pool.getNext(p)) {
      out.push({ peer: pool.getPeer(p), pathId: pool.getId(p), attrIndex: pool.getAttr(p), stale: pool.getFlags(p) === STALE });
    }
    return out;
  }

  get prefixCount(): number {
    return this.heads.size;
  }

  forEachPrefix(visit: (address: number, length: number) => void): void {
    this.heads.forEach((address, length) => visit(address, length));
  }

  /** Marks every path of a peer stale (graceful restart); returns how many. */
  markStale(peer: number): number {
    const pool = this.pool;
    let n = 0;
    for (let p = 0; p < pool.highWater; p++) {
      if (pool.getAttr(p) !== NONE && pool.getPeer(p) === peer) {
        pool.setFlags(p, STALE);
        n++;
      }
    }
    return n;
  }

  /** Removes the peer's paths, only the stale ones when `onlyStale`; returns how many. */
  removePeer(peer: number, onlyStale = false): number {
    if ((this.pathCount[peer] ?? 0) === 0) return 0;
    const pool = this.pool;
    // Prefixes are found through the table (paths do not keep a copy of theirs); the victims
    // are collected first, as withdrawing changes the table being walked.
    const victims: number[] = [];
    this.heads.forEach((address, length, value) => {
      for (let p = value & HEAD; p !== NONE; p = pool.getNext(p)) {
        if (pool.getPeer(p) === peer && (!onlyStale || pool.getFlags(p) === STALE)) victims.push(address, length, pool.getId(p));
      }
    });
    for (let i = 0; i < victims.length; i += 3) this.withdraw(peer, victims[i]!, victims[i + 1]!, victims[i + 2]!);
    return victims.length / 3;
  }

  staleCount(peer: number): number {
    const pool = this.pool;
    let n = 0;
    for (let p = 0; p < pool.highWater; p++) if (pool.getAttr(p) !== NONE && pool.getPeer(p) === peer && pool.getFlags(p) === STALE) n++;
    return n;
  }

  /**
   * Takes the dirty prefixes (and empties the queue). `wasInstalled`: the prefix left the table
   * while marked installed (its kernel route is still there).
   */
  drainDirty(visit: (address: number, length: number, wasInstalled: boolean) => void): void {
    const n = this.dirtyCount;
    const addresses = this.dirtyAddress;
    const lengths = this.dirtyLength;
    this.dirtyCount = 0;
    for (let i = 0; i < n; i++) {
      const l = lengths[i]!;
      visit(addresses[i]!, l & ~WAS_INSTALLED, (l & WAS_INSTALLED) !== 0);
    }
    if (addresses.length > 1 << 16) {
      // Give back the memory of a big burst (a full table) once it is handled.
      this.dirtyAddress = new Uint32Array(1 << 12);
      this.dirtyLength = new Uint8Array(1 << 12);
    }
  }

  /** Bytes held by the typed arrays (prefix table, paths, the dirty queue). */
  get bytes(): number {
    return this.heads.bytes + this.pool.bytes + this.dirtyAddress.length * 5 + (this.watched?.address.length ?? 0) * 5;
  }

  get pathTotal(): number {
    return this.pool.used;
  }
}
