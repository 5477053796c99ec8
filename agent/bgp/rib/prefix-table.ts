// A hash table from IPv4 prefix (address, length) to a 32-bit integer, in typed arrays: a million
// prefixes cost about 17 MB and no garbage, where a Map of objects would cost several times that
// and keep the collector busy.
//
// Extendible hashing: a directory, indexed by the top bits of the hash, points to pages; each page
// is a small open-addressing table (linear probing on the low bits, backward-shift deletion).
// A full page splits in two by the next hash bit, rebuilt where it is: growing never copies the
// whole table and leaves no old arrays behind. (A doubling table held the old and the new arrays
// at once, and the old ones stayed until the collector ran: tens of megabytes at a full table.)
// The hash is keyed with a random seed per table, so that a peer cannot choose prefixes that
// collide.

const EMPTY = 0xff;
/** A page splits when it would be fuller than this. */
const MAX_LOAD = 0.7;
/** Directory depth limit: 2^24 pages is beyond any table; a page at the limit fills instead. */
const MAX_DEPTH = 24;

class Page {
  readonly addresses: Uint32Array;
  readonly lengths: Uint8Array;
  readonly values: Int32Array;
  size = 0;
  constructor(slots: number, public depth: number) {
    this.addresses = new Uint32Array(slots);
    this.lengths = new Uint8Array(slots).fill(EMPTY);
    this.values = new Int32Array(slots);
  }
}

export class PrefixTable {
  private readonly slots: number;
  private readonly mask: number;
  private readonly limit: number;
  private directory: Page[];
  private depth = 0;
  private readonly seed = (Math.random() * 0x100000000) >>> 0;
  size = 0;

  /** `initialCapacity`: entries expected; pages hold 64 to 4096 slots accordingly. */
  constructor(initialCapacity = 1024) {
    let slots = 64;
    while (slots < Math.min(initialCapacity * 2, 4096)) slots *= 2;
    this.slots = slots;
    this.mask = slots - 1;
    this.limit = Math.floor(slots * MAX_LOAD);
    this.directory = [new Page(slots, 0)];
  }

  private hash(address: number, length: number): number {
    let h = Math.imul(address ^ this.seed, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h + Math.imul(length + 1, 0x9e3779b1), 0xc2b2ae35);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    return h >>> 0;
  }

  private page(h: number): Page {
    return this.directory[this.depth === 0 ? 0 : h >>> (32 - this.depth)]!;
  }

  /** The slot of the prefix in its page, or -1. */
  private slotOf(page: Page, h: number, address: number, length: number): number {
    const lengths = page.lengths, mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const l = lengths[i]!;
      if (l === EMPTY) return -1;
      if (l === length && page.addresses[i] === address) return i;
    }
  }

  /** The value for a prefix, or -1 when absent (store only values >= 0 to use this). */
  get(address: number, length: number): number {
    const h = this.hash(address, length);
    const page = this.page(h);
    const i = this.slotOf(page, h, address, length);
    return i < 0 ? -1 : page.values[i]!;
  }

  has(address: number, length: number): boolean {
    const h = this.hash(address, length);
    return this.slotOf(this.page(h), h, address, length) >= 0;
  }

  set(address: number, length: number, value: number): void {
    const h = this.hash(address, length);
    const page = this.page(h);
    const i = this.slotOf(page, h, address, length);
    if (i >= 0) {
      page.values[i] = value;
      return;
    }
    this.add(page, h, address, length, value);
  }

  /** Adds a prefix the caller knows is absent (get just said -1): one probe sequence instead of two. */
  insertAbsent(address: number, length: number, value: number): void {
    const h = this.hash(address, length);
    this.add(this.page(h), h, address, length, value);
  }

  private add(page: Page, h: number, address: number, length: number, value: number): void {
    while (page.size >= this.limit && page.depth < MAX_DEPTH) {
      this.splitPage(page);
      page = this.page(h);
    }
    if (page.size === this.slots - 1) throw new Error('prefix table full');
    this.place(page, h, address, length, value);
    this.size++;
  }

  private place(page: Page, h: number, address: number, length: number, value: number): void {
    const lengths = page.lengths, mask = this.mask;
    let i = h & mask;
    while (lengths[i] !== EMPTY) i = (i + 1) & mask;
    lengths[i] = length;
    page.addresses[i] = address;
    page.values[i] = value;
    page.size++;
  }

  /** Splits a page by the next hash bit: a new page takes the entries with it set; the old one is rebuilt in place. */
  private splitPage(page: Page): void {
    if (page.depth === this.depth) {
      // Double the directory: each page is then pointed to by two entries.
      const doubled: Page[] = new Array<Page>(this.directory.length * 2);
      for (let j = 0; j < this.directory.length; j++) doubled[2 * j] = doubled[2 * j + 1] = this.directory[j]!;
      this.directory = doubled;
      this.depth++;
    }
    const bit = 31 - page.depth;
    page.depth++;
    const sibling = new Page(this.slots, page.depth);
    for (let j = 0; j < this.directory.length; j++) {
      if (this.directory[j] === page && ((j << (32 - this.depth)) >>> bit) & 1) this.directory[j] = sibling;
    }
    const n = page.size;
    scratch.ensure(n);
    let k = 0;
    for (let i = 0; i < this.slots; i++) {
      const l = page.lengths[i]!;
      if (l === EMPTY) continue;
      scratch.addresses[k] = page.addresses[i]!;
      scratch.lengths[k] = l;
      scratch.values[k++] = page.values[i]!;
    }
    page.lengths.fill(EMPTY);
    page.size = 0;
    for (let j = 0; j < k; j++) {
      const a = scratch.addresses[j]!, l = scratch.lengths[j]!;
      const h = this.hash(a, l);
      this.place((h >>> bit) & 1 ? sibling : page, h, a, l, scratch.values[j]!);
    }
  }

  delete(address: number, length: number): boolean {
    const h = this.hash(address, length);
    const page = this.page(h);
    const i = this.slotOf(page, h, address, length);
    if (i < 0) return false;
    // Backward-shift: move later entries of the probe run into the hole so lookups stay correct.
    const mask = this.mask, lengths = page.lengths;
    let hole = i;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const l = lengths[j]!;
      if (l === EMPTY) break;
      const home = this.hash(page.addresses[j]!, l) & mask;
      if (((hole - home) & mask) < ((j - home) & mask)) {
        lengths[hole] = l;
        page.addresses[hole] = page.addresses[j]!;
        page.values[hole] = page.values[j]!;
        hole = j;
      }
    }
    lengths[hole] = EMPTY;
    page.size--;
    this.size--;
    return true;
  }

  clear(): void {
    this.directory = [new Page(this.slots, 0)];
    this.depth = 0;
    this.size = 0;
  }

  /** Visits every entry; the callback must not change the table. */
  forEach(visit: (address: number, length: number, value: number) => void): void {
    let previous: Page | undefined;
    for (const page of this.directory) {
      // A page appears in consecutive directory entries; visit it once.
      if (page === previous) continue;
      previous = page;
      for (let i = 0; i < this.slots; i++) {
        const l = page.lengths[i]!;
        if (l !== EMPTY) visit(page.addresses[i]!, l, page.values[i]!);
      }
    }
  }

  /** Bytes held by the pages, for `status --json` and the benchmarks. */
  get bytes(): number {
    let pages = 0;
    let previous: Page | undefined;
    for (const page of this.directory) if (page !== previous) { pages++; previous = page; }
    return pages * this.slots * 9 + this.directory.length * 8;
  }
}

/** The rebuild copy of a splitting page, shared by every table (at most one page of 4096 slots). */
const scratch = {
  addresses: new Uint32Array(0),
  lengths: new Uint8Array(0),
  values: new Int32Array(0),
  ensure(n: number): void {
    if (this.addresses.length >= n) return;
    this.addresses = new Uint32Array(4096);
    this.lengths = new Uint8Array(4096);
    this.values = new Int32Array(4096);
  },
};
