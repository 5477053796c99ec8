// A hash table from IPv4 prefix (address, length) to a 32-bit integer, in typed arrays: a million
// prefixes cost about 18 MB and no garbage, where a Map of objects would cost several times that
// and keep the collector busy. Open addressing with linear probing and backward-shift deletion.
// With a maximum capacity, the arrays grow in place (growable.ts) and a rehash goes through one
// shared scratch copy, so growing leaves no garbage (the RIB's partitions use this).
import { growable, resize } from './growable.ts';

const EMPTY = 0xff;

export class PrefixTable {
  private addresses: Uint32Array;
  private lengths: Uint8Array;
  private values: Int32Array;
  private mask: number;
  size = 0;

  /** `maxEntries`: grow in place up to this many entries (address space reserved for twice as many slots). */
  constructor(initialCapacity = 1024, private readonly maxEntries?: number) {
    let capacity = 16;
    while (capacity < initialCapacity * 2) capacity *= 2;
    if (maxEntries !== undefined) {
      let max = capacity;
      while (max < maxEntries * 2) max *= 2;
      this.addresses = growable(Uint32Array, capacity, max);
      this.lengths = growable(Uint8Array, capacity, max).fill(EMPTY);
      this.values = growable(Int32Array, capacity, max);
    } else {
      this.addresses = new Uint32Array(capacity);
      this.lengths = new Uint8Array(capacity).fill(EMPTY);
      this.values = new Int32Array(capacity);
    }
    this.mask = capacity - 1;
  }

  private slot(address: number, length: number): number {
    let h = Math.imul(address ^ Math.imul(length + 1, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h & this.mask;
  }

  /** The value for a prefix, or -1 when absent (store only values >= 0 to use this). */
  get(address: number, length: number): number {
    let i = this.slot(address, length);
    for (;;) {
      const l = this.lengths[i]!;
      if (l === EMPTY) return -1;
      if (l === length && this.addresses[i] === address) return this.values[i]!;
      i = (i + 1) & this.mask;
    }
  }

  has(address: number, length: number): boolean {
    let i = this.slot(address, length);
    for (;;) {
      const l = this.lengths[i]!;
      if (l === EMPTY) return false;
      if (l === length && this.addresses[i] === address) return true;
      i = (i + 1) & this.mask;
    }
  }

  set(address: number, length: number, value: number): void {
    if ((this.size + 1) * 2 > this.lengths.length) this.grow();
    let i = this.slot(address, length);
    for (;;) {
      const l = this.lengths[i]!;
      if (l === EMPTY) {
        this.lengths[i] = length;
        this.addresses[i] = address;
        this.values[i] = value;
        this.size++;
        return;
      }
      if (l === length && this.addresses[i] === address) {
        this.values[i] = value;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  delete(address: number, length: number): boolean {
    let i = this.slot(address, length);
    for (;;) {
      const l = this.lengths[i]!;
      if (l === EMPTY) return false;
      if (l === length && this.addresses[i] === address) break;
      i = (i + 1) & this.mask;
    }
    // Backward-shift: move later entries of the probe run into the hole so lookups stay correct.
    let hole = i;
    let j = (i + 1) & this.mask;
    for (;;) {
      const l = this.lengths[j]!;
      if (l === EMPTY) break;
      const home = this.slot(this.addresses[j]!, l);
      const distHole = (hole - home) & this.mask;
      const distJ = (j - home) & this.mask;
      if (distHole < distJ) {
        this.lengths[hole] = l;
        this.addresses[hole] = this.addresses[j]!;
        this.values[hole] = this.values[j]!;
        hole = j;
      }
      j = (j + 1) & this.mask;
    }
    this.lengths[hole] = EMPTY;
    this.size--;
    return true;
  }

  clear(): void {
    this.lengths.fill(EMPTY);
    this.size = 0;
  }

  /** Visits every entry; the callback must not change the table. */
  forEach(visit: (address: number, length: number, value: number) => void): void {
    const lengths = this.lengths;
    for (let i = 0; i < lengths.length; i++) {
      const l = lengths[i]!;
      if (l !== EMPTY) visit(this.addresses[i]!, l, this.values[i]!);
    }
  }

  /** Bytes held by the arrays, for `status --json` and the benchmark. */
  get bytes(): number {
    return this.lengths.length * 9;
  }

  private grow(): void {
    if (this.maxEntries !== undefined) {
      this.growInPlace();
      return;
    }
    const oldAddresses = this.addresses;
    const oldLengths = this.lengths;
    const oldValues = this.values;
    const capacity = oldLengths.length * 2;
    const addresses = new Uint32Array(capacity);
    const lengths = new Uint8Array(capacity).fill(EMPTY);
    const values = new Int32Array(capacity);
    this.addresses = addresses;
    this.lengths = lengths;
    this.values = values;
    const mask = (this.mask = capacity - 1);
    // Every key is known distinct: place each at its first free slot, no comparisons.
    for (let i = 0; i < oldLengths.length; i++) {
      const l = oldLengths[i]!;
      if (l === EMPTY) continue;
      const a = oldAddresses[i]!;
      let j = this.slot(a, l);
      while (lengths[j] !== EMPTY) j = (j + 1) & mask;
      lengths[j] = l;
      addresses[j] = a;
      values[j] = oldValues[i]!;
    }
  }

  /** Doubles the arrays where they are; the entries go through the scratch copy and back. */
  private growInPlace(): void {
    const n = this.size;
    const lengths = this.lengths;
    if (scratch.addresses.length < n) {
      scratch.addresses = new Uint32Array(n * 2);
      scratch.lengths = new Uint8Array(n * 2);
      scratch.values = new Int32Array(n * 2);
    }
    let k = 0;
    for (let i = 0; i < lengths.length; i++) {
      const l = lengths[i]!;
      if (l === EMPTY) continue;
      scratch.addresses[k] = this.addresses[i]!;
      scratch.lengths[k] = l;
      scratch.values[k++] = this.values[i]!;
    }
    const capacity = lengths.length * 2;
    resize(this.addresses, capacity);
    resize(this.lengths, capacity);
    resize(this.values, capacity);
    this.lengths.fill(EMPTY);
    const mask = (this.mask = capacity - 1);
    for (let i = 0; i < k; i++) {
      const a = scratch.addresses[i]!;
      const l = scratch.lengths[i]!;
      let j = this.slot(a, l);
      while (this.lengths[j] !== EMPTY) j = (j + 1) & mask;
      this.lengths[j] = l;
      this.addresses[j] = a;
      this.values[j] = scratch.values[i]!;
    }
  }
}

/** The rehash copy shared by every in-place table: as big as the largest one that grew (one RIB partition). */
const scratch = { addresses: new Uint32Array(0), lengths: new Uint8Array(0), values: new Int32Array(0) };
