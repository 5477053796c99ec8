// Adj-RIBs-In and the Loc-RIB in one structure: for each prefix, the list of paths (one per peer
// and ADD-PATH identifier), kept best first. Paths live in typed arrays (a pool with a free list),
// attributes are interned RouteAttributes shared by many prefixes. Changes of the best path are
// collected as dirty prefixes for the speaker to export and install in batches.
import { PrefixTable } from './prefix-table.ts';
import { type RouteAttributes, compareRoutes } from './route-attributes.ts';

const NONE = -1;
const STALE = 1;

export class Rib {
  /** prefix -> first path index (the best). */
  private readonly heads = new PrefixTable(1 << 12);
  private pathAttr = new Int32Array(1 << 12);
  private pathId = new Uint32Array(1 << 12);
  private pathNext = new Int32Array(1 << 12);
  private pathPeer = new Uint16Array(1 << 12);
  private pathAddress = new Uint32Array(1 << 12);
  private pathLength = new Uint8Array(1 << 12);
  private pathFlags = new Uint8Array(1 << 12);
  private freePath = NONE;
  private usedPaths = 0;
  private highWater = 0;

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

  private allocPath(): number {
    if (this.freePath !== NONE) {
      const p = this.freePath;
      this.freePath = this.pathNext[p]!;
      this.usedPaths++;
      return p;
    }
    if (this.highWater === this.pathAttr.length) this.growPaths();
    this.usedPaths++;
    return this.highWater++;
  }

  private freePathSlot(p: number): void {
    this.pathAttr[p] = NONE;
    this.pathNext[p] = this.freePath;
    this.freePath = p;
    this.usedPaths--;
  }

  private growPaths(): void {
    const n = this.pathAttr.length * 2;
    const grow = <T extends Int32Array | Uint32Array | Uint16Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(n);
      next.set(old);
      return next;
    };
    this.pathAttr = grow(this.pathAttr, (k) => new Int32Array(k));
    this.pathId = grow(this.pathId, (k) => new Uint32Array(k));
    this.pathNext = grow(this.pathNext, (k) => new Int32Array(k));
    this.pathPeer = grow(this.pathPeer, (k) => new Uint16Array(k));
    this.pathAddress = grow(this.pathAddress, (k) => new Uint32Array(k));
    this.pathLength = grow(this.pathLength, (k) => new Uint8Array(k));
    this.pathFlags = grow(this.pathFlags, (k) => new Uint8Array(k));
  }

  /** Inserts path p into the prefix's list at its place by preference; returns the new head. */
  private insertSorted(head: number, p: number): number {
    const attrs = this.attributes;
    const mine = attrs[this.pathAttr[p]!]!;
    if (head === NONE || this.better(p, mine, head)) {
      this.pathNext[p] = head;
      return p;
    }
    let prev = head;
    let cur = this.pathNext[head]!;
    while (cur !== NONE && !this.better(p, mine, cur)) {
      prev = cur;
      cur = this.pathNext[cur]!;
    }
    this.pathNext[p] = cur;
    this.pathNext[prev] = p;
    return head;
  }

  private better(p: number, mine: RouteAttributes, q: number): boolean {
    const c = compareRoutes(mine, this.attributes[this.pathAttr[q]!]!);
    return c < 0 || (c === 0 && this.pathId[p]! < this.pathId[q]!);
  }

  /** Unlinks the path of (peer, pathId) from the list; returns [newHead, removedIndex]. */
  private unlink(head: number, peer: number, id: number): [number, number] {
    let prev = NONE;
    let cur = head;
    while (cur !== NONE) {
      if (this.pathPeer[cur] === peer && this.pathId[cur] === id) {
        const next = this.pathNext[cur]!;
        if (prev === NONE) head = next;
        else this.pathNext[prev] = next;
        return [head, cur];
      }
      prev = cur;
      cur = this.pathNext[cur]!;
    }
    return [head, NONE];
  }

  private markDirty(address: number, length: number): void {
    if (this.dirtyCount === this.dirtyAddress.length) {
      const a = new Uint32Array(this.dirtyCount * 2);
      a.set(this.dirtyAddress);
      this.dirtyAddress = a;
      const l = new Uint8Array(this.dirtyCount * 2);
      l.set(this.dirtyLength);
      this.dirtyLength = l;
    }
    this.dirtyAddress[this.dirtyCount] = address;
    this.dirtyLength[this.dirtyCount++] = length;
  }

  get dirtySize(): number {
    return this.dirtyCount;
  }

  /** Adds or replaces the path from `peer` (with ADD-PATH id) for a prefix. Takes a reference on attrIndex. */
  update(peer: number, address: number, length: number, id: number, attrIndex: number): void {
    const head = this.heads.get(address, length);
    this.attributes[attrIndex]!.refs++;
    let p: number;
    let newHead: number;
    if (head === NONE) {
      p = this.allocPath();
      this.pathNext[p] = NONE;
      newHead = p;
      this.pathCount[peer] = (this.pathCount[peer] ?? 0) + 1;
    } else {
      const [rest, old] = this.unlink(head, peer, id);
      if (old !== NONE) {
        if (this.pathAttr[old] === attrIndex && this.pathFlags[old] === 0) {
          // Same attributes again: nothing changes (undo the unlink).
          this.attributes[attrIndex]!.refs--;
          this.heads.set(address, length, this.insertSorted(rest, old));
          return;
        }
        this.release(this.pathAttr[old]!);
        p = old;
      } else {
        p = this.allocPath();
        this.pathCount[peer] = (this.pathCount[peer] ?? 0) + 1;
      }
      this.pathAttr[p] = attrIndex;
      this.pathId[p] = id;
      this.pathPeer[p] = peer;
      newHead = this.insertSorted(rest, p);
      this.heads.set(address, length, newHead);
      this.pathFlags[p] = 0;
      this.pathAddress[p] = address;
      this.pathLength[p] = length;
      if (newHead === p || head === old) this.markDirty(address, length);
      return;
    }
    this.pathAttr[p] = attrIndex;
    this.pathId[p] = id;
    this.pathPeer[p] = peer;
    this.pathFlags[p] = 0;
    this.pathAddress[p] = address;
    this.pathLength[p] = length;
    this.heads.set(address, length, newHead);
    this.markDirty(address, length);
  }

  /** Removes the path from `peer` for a prefix; true when there was one. */
  withdraw(peer: number, address: number, length: number, id: number): boolean {
    const head = this.heads.get(address, length);
    if (head === NONE) return false;
    const [rest, old] = this.unlink(head, peer, id);
    if (old === NONE) return false;
    this.release(this.pathAttr[old]!);
    this.freePathSlot(old);
    this.pathCount[peer]!--;
    if (rest === NONE) this.heads.delete(address, length);
    else this.heads.set(address, length, rest);
    if (old === head) this.markDirty(address, length);
    return true;
  }

  /** The attribute index of the best path, or -1. */
  best(address: number, length: number): number {
    const head = this.heads.get(address, length);
    return head === NONE ? NONE : this.pathAttr[head]!;
  }

  /** Every path of a prefix, best first. */
  paths(address: number, length: number): Array<{ peer: number; pathId: number; attrIndex: number; stale: boolean }> {
    const out = [];
    for (let p = this.heads.get(address, length); p !== NONE; p = this.pathNext[p]!) {
      out.push({ peer: this.pathPeer[p]!, pathId: this.pathId[p]!, attrIndex: this.pathAttr[p]!, stale: this.pathFlags[p] === STALE });
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
    let n = 0;
    for (let p = 0; p < this.highWater; p++) {
      if (this.pathAttr[p] !== NONE && this.pathPeer[p] === peer) {
        this.pathFlags[p] = STALE;
        n++;
      }
    }
    return n;
  }

  /** Removes the peer's paths, only the stale ones when `onlyStale`; returns how many. */
  removePeer(peer: number, onlyStale = false): number {
    const victims: number[] = [];
    for (let p = 0; p < this.highWater; p++) {
      if (this.pathAttr[p] !== NONE && this.pathPeer[p] === peer && (!onlyStale || this.pathFlags[p] === STALE)) victims.push(p);
    }
    for (const p of victims) this.withdraw(peer, this.pathAddress[p]!, this.pathLength[p]!, this.pathId[p]!);
    return victims.length;
  }

  staleCount(peer: number): number {
    let n = 0;
    for (let p = 0; p < this.highWater; p++) if (this.pathAttr[p] !== NONE && this.pathPeer[p] === peer && this.pathFlags[p] === STALE) n++;
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
      this.dirtyAddress = new Uint32Array(1 << 12);
      this.dirtyLength = new Uint8Array(1 << 12);
    }
  }

  get bytes(): number {
    return this.heads.bytes + this.pathAttr.length * 24;
  }

  get pathTotal(): number {
    return this.usedPaths;
  }
}
