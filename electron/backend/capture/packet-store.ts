// The packets a capture keeps, exactly as tcpdump delivered them: a ring of blocks bounded in
// bytes. Each block holds packets' bytes (one allocation per block, not per packet) and their
// numbers in typed arrays of its own, so that when the bound is reached the oldest block goes
// whole, its packets and their numbers together, and a flood of any rate costs the console at
// most `maxBytes` (kubeshark#1317: a capture must not fill the machine it runs on). Packets keep
// their numbers from the start of the capture: the first kept is `first`, the next added `count`.
// The live list may skip rows; the store skips nothing but the oldest it had to drop, so every
// export holds every packet since `first` and says how many went before.

import type { PacketToWrite } from '../../../shared/packets/capture-writer.ts';

/** A stored packet has the fields a capture file's record needs: it is written as it was read. */
export type StoredPacket = PacketToWrite;

export interface PacketStoreOptions {
  /** Bytes the store may hold: its blocks' bytes and their per-packet numbers. At least three blocks. */
  maxBytes?: number;
  /** Bytes per block; a block must hold the largest packet (tcpdump's snap length is at most 262,144). */
  blockSize?: number;
}

const defaultBlockSize = 4 * 1024 * 1024;
const maxSnapLen = 262_144;
const firstSlots = 1024;
/**
 * A block takes at most one packet per this many bytes of its size: without a cap, a flood of
 * empty records (caplen 0) would grow one block's numbers without bound. With it, a block's
 * numbers (28 bytes a packet: offset, lengths, times; in arrays that grow by doubling, so up to
 * twice that) cost at most 1.75 times its size, and the block under 3 sizes in all: which is why
 * the bound must be three blocks at least.
 */
const minBytesPerSlot = 32;

class Block {
  readonly data: Buffer;
  used = 0;
  count = 0;
  offsets = new Uint32Array(firstSlots);
  lengths = new Uint32Array(firstSlots * 2); // caplen, origLen
  times = new Float64Array(firstSlots * 2); // tsSec, tsNsec

  constructor(
    size: number,
    /** The number (0-based, from the start of the capture) of this block's first packet. */
    readonly first: number,
  ) {
    this.data = Buffer.allocUnsafe(size);
  }

  get cost(): number {
    return this.data.length + this.offsets.byteLength + this.lengths.byteLength + this.times.byteLength;
  }

  /** Doubles the per-packet arrays; returns the bytes that adds. */
  grow(): number {
    const before = this.cost;
    const n = this.offsets.length * 2;
    const offsets = new Uint32Array(n);
    offsets.set(this.offsets);
    const lengths = new Uint32Array(n * 2);
    lengths.set(this.lengths);
    const times = new Float64Array(n * 2);
    times.set(this.times);
    this.offsets = offsets;
    this.lengths = lengths;
    this.times = times;
    return this.cost - before;
  }
}

export class PacketStore {
  readonly maxBytes: number;
  readonly blockSize: number;
  /** Oldest first; the last one is being filled. */
  private readonly blocks: Block[] = [];
  /** Number (0-based) of the oldest packet kept. */
  first = 0;
  /** Number (0-based) the next packet gets: packets added since the start, dropped ones included. */
  count = 0;
  /** Packet bytes added since the start, dropped ones included. */
  bytes = 0;
  /** Packets and their bytes dropped, oldest first, to stay within `maxBytes`. */
  dropped = 0;
  droppedBytes = 0;
  /** Bytes the store holds now (blocks and their numbers): at most `maxBytes`. */
  held = 0;

  constructor(options: PacketStoreOptions = {}) {
    this.blockSize = options.blockSize ?? defaultBlockSize;
    this.maxBytes = options.maxBytes ?? 512 * 1024 * 1024;
    if (this.blockSize < maxSnapLen) throw new RangeError(`a block of ${this.blockSize} bytes cannot hold a ${maxSnapLen}-byte packet`);
    // The block being filled is never dropped: it alone must fit the bound, so that `held` never exceeds it.
    if (this.maxBytes < 3 * this.blockSize) throw new RangeError(`a bound of ${this.maxBytes} bytes holds fewer than three ${this.blockSize}-byte blocks`);
  }

  /** Packets kept now. */
  get kept(): number {
    return this.count - this.first;
  }

  add(bytes: Uint8Array, offset: number, caplen: number, origLen: number, tsSec: number, tsNsec: number): void {
    if (caplen > this.blockSize) throw new RangeError(`a ${caplen}-byte packet is larger than a store block`);
    let block = this.blocks[this.blocks.length - 1];
    if (!block || block.used + caplen > block.data.length || block.count === block.data.length / minBytesPerSlot) {
      block = new Block(this.blockSize, this.count);
      this.blocks.push(block);
      this.held += block.cost;
    }
    if (block.count === block.offsets.length) this.held += block.grow();
    block.data.set(bytes.subarray(offset, offset + caplen), block.used);
    const i = block.count;
    block.offsets[i] = block.used;
    block.lengths[i * 2] = caplen;
    block.lengths[i * 2 + 1] = origLen;
    block.times[i * 2] = tsSec;
    block.times[i * 2 + 1] = tsNsec;
    block.used += caplen;
    block.count++;
    this.bytes += caplen;
    this.count++;
    while (this.held > this.maxBytes && this.blocks.length > 1) this.dropOldest();
  }

  private dropOldest(): void {
    const old = this.blocks.shift()!;
    this.held -= old.cost;
    this.dropped += old.count;
    this.droppedBytes += old.used;
    this.first += old.count;
  }

  /** The block holding packet `index`: blocks are in number order, so a binary search. */
  private blockOf(index: number): Block {
    if (index < this.first || index >= this.count) {
      throw new RangeError(index < this.first && index >= 0 ? `packet ${index + 1} was dropped: the store keeps the newest, from ${this.first + 1}` : `no packet ${index + 1}: the capture has ${this.count}`);
    }
    const blocks = this.blocks;
    let lo = 0;
    let hi = blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (blocks[mid]!.first <= index) lo = mid;
      else hi = mid - 1;
    }
    return blocks[lo]!;
  }

  /** Packet `index` (0-based, from the start of the capture); `out` is filled and returned, so that walks allocate nothing. */
  get(index: number, out: StoredPacket = { bytes: new Uint8Array(0), offset: 0, caplen: 0, origLen: 0, tsSec: 0, tsNsec: 0 }): StoredPacket {
    const block = this.blockOf(index);
    const i = index - block.first;
    out.bytes = block.data;
    out.offset = block.offsets[i]!;
    out.caplen = block.lengths[i * 2]!;
    out.origLen = block.lengths[i * 2 + 1]!;
    out.tsSec = block.times[i * 2]!;
    out.tsNsec = block.times[i * 2 + 1]!;
    return out;
  }

  /** Time of packet `index` in nanoseconds since the epoch, as a float (for merging captures). */
  time(index: number): number {
    const block = this.blockOf(index);
    const i = index - block.first;
    return block.times[i * 2]! * 1e9 + block.times[i * 2 + 1]!;
  }
}
