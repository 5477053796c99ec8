// Every packet a capture received, exactly as tcpdump delivered it: the bytes in large blocks
// (one allocation per 4 MiB, not per packet) and the per-packet numbers in growable typed arrays.
// The live list may skip rows; this store never does, so every export is complete.

import type { PacketToWrite } from '../../../shared/packets/capture-writer.ts';

const blockSize = 4 * 1024 * 1024;

/** A stored packet has the fields a capture file's record needs: it is written as it was read. */
export type StoredPacket = PacketToWrite;

export class PacketStore {
  private readonly blocks: Buffer[] = [];
  private used = blockSize;
  private block = -1;
  private where = new Float64Array(1024); // block * 2^32 + offset
  private lengths = new Uint32Array(2048); // caplen, origLen
  private times = new Float64Array(2048); // tsSec, tsNsec
  count = 0;
  /** Bytes of packet data held. */
  bytes = 0;

  add(bytes: Uint8Array, offset: number, caplen: number, origLen: number, tsSec: number, tsNsec: number): void {
    if (caplen > blockSize) throw new RangeError(`a ${caplen}-byte packet is larger than a store block`);
    if (this.used + caplen > blockSize) {
      this.blocks.push(Buffer.allocUnsafe(blockSize));
      this.block++;
      this.used = 0;
    }
    this.blocks[this.block]!.set(bytes.subarray(offset, offset + caplen), this.used);
    if (this.count === this.where.length) this.grow();
    const i = this.count;
    this.where[i] = this.block * 4294967296 + this.used;
    this.lengths[i * 2] = caplen;
    this.lengths[i * 2 + 1] = origLen;
    this.times[i * 2] = tsSec;
    this.times[i * 2 + 1] = tsNsec;
    this.used += caplen;
    this.bytes += caplen;
    this.count++;
  }

  private grow(): void {
    const n = this.where.length * 2;
    const where = new Float64Array(n);
    where.set(this.where);
    const lengths = new Uint32Array(n * 2);
    lengths.set(this.lengths);
    const times = new Float64Array(n * 2);
    times.set(this.times);
    this.where = where;
    this.lengths = lengths;
    this.times = times;
  }

  /** Packet `index` (0-based); `out` is filled and returned, so that walks allocate nothing. */
  get(index: number, out: StoredPacket = { bytes: new Uint8Array(0), offset: 0, caplen: 0, origLen: 0, tsSec: 0, tsNsec: 0 }): StoredPacket {
    if (index < 0 || index >= this.count) throw new RangeError(`no packet ${index + 1}: the capture has ${this.count}`);
    const w = this.where[index]!;
    out.bytes = this.blocks[Math.floor(w / 4294967296)]!;
    out.offset = w % 4294967296;
    out.caplen = this.lengths[index * 2]!;
    out.origLen = this.lengths[index * 2 + 1]!;
    out.tsSec = this.times[index * 2]!;
    out.tsNsec = this.times[index * 2 + 1]!;
    return out;
  }

  /** Time of packet `index` in nanoseconds since the epoch, as a float (for merging captures). */
  time(index: number): number {
    return this.times[index * 2]! * 1e9 + this.times[index * 2 + 1]!;
  }
}
