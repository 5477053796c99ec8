// A pcap and pcapng reader that takes its input in pieces of any size (an SSH channel's reads of
// `tcpdump -w -`, or a file read in big chunks) and calls back once per packet with offsets into
// the bytes it was given. It copies only a record that straddles two pieces. A corrupt file stops
// the reader with `error` set; it never throws on input bytes.

import type { PacketToWrite } from './capture-writer.ts';
import { utf8Decode } from './utf8-text.ts';

/** One packet. Valid only during the callback: the bytes may be reused afterwards. */
export interface CapturedPacket extends PacketToWrite {
  linkType: number;
  interfaceIndex: number;
}

export interface CaptureInterface {
  linkType: number;
  snapLen: number;
  name?: string;
  description?: string;
  filter?: string;
  comment?: string;
  /** pcapng timestamp units per second (10^6 unless if_tsresol says otherwise). */
  unitsPerSecond: number;
}

export type CaptureFormat = 'pcap' | 'pcapng';

/** The largest record the reader accepts; anything bigger is a corrupt file, not a packet. */
const maxRecord = 16 * 1024 * 1024;

const pcapngShb = 0x0a0d0d0a;

export class CaptureReader {
  format: CaptureFormat | undefined;
  readonly interfaces: CaptureInterface[] = [];
  /** Set when the input is not a capture or is corrupt; no more packets are read after it. */
  error: string | undefined;
  /** Packets delivered so far. */
  packets = 0;
  /** Per-file comments (pcapng SHB opt_comment), in order of appearance. */
  readonly comments: string[] = [];
  private pending: Uint8Array | undefined;
  private littleEndian = true;
  private nanoseconds = false;
  private readonly packet: CapturedPacket = {
    bytes: new Uint8Array(0),
    offset: 0,
    caplen: 0,
    origLen: 0,
    tsSec: 0,
    tsNsec: 0,
    linkType: 0,
    interfaceIndex: 0,
  };

  /** Reads as many whole records as `chunk` (after any held-over bytes) contains. */
  push(chunk: Uint8Array, onPacket: (packet: CapturedPacket) => void): void {
    if (this.error !== undefined) return;
    let bytes = chunk;
    if (this.pending) {
      bytes = new Uint8Array(this.pending.length + chunk.length);
      bytes.set(this.pending, 0);
      bytes.set(chunk, this.pending.length);
      this.pending = undefined;
    }
    const used = this.consume(bytes, onPacket);
    if (this.error === undefined && used < bytes.length) this.pending = bytes.slice(used);
  }

  /** Bytes held back waiting for the rest of their record: at the end of input, a cut-off last record. */
  get heldBytes(): number {
    return this.pending?.length ?? 0;
  }

  private u32(b: Uint8Array, o: number): number {
    return this.littleEndian
      ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0
      : ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }

  private u16(b: Uint8Array, o: number): number {
    return this.littleEndian ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!;
  }

  private consume(b: Uint8Array, onPacket: (packet: CapturedPacket) => void): number {
    let o = 0;
    if (this.format === undefined) {
      if (b.length < 4) return 0;
      const magicBe = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
      if (magicBe === pcapngShb) this.format = 'pcapng';
      else if (magicBe === 0xa1b2c3d4 || magicBe === 0xa1b23c4d) {
        this.format = 'pcap';
        this.littleEndian = false;
        this.nanoseconds = magicBe === 0xa1b23c4d;
      } else if (magicBe === 0xd4c3b2a1 || magicBe === 0x4d3cb2a1) {
        this.format = 'pcap';
        this.littleEndian = true;
        this.nanoseconds = magicBe === 0x4d3cb2a1;
      } else {
        this.error = `Not a pcap or pcapng file: it starts with 0x${magicBe.toString(16).padStart(8, '0')}.`;
        return 0;
      }
      if (this.format === 'pcap') {
        if (b.length < 24) {
          this.format = undefined;
          return 0;
        }
        const major = this.u16(b, 4);
        if (major !== 2) {
          this.error = `Unsupported pcap version ${major}.${this.u16(b, 6)} (only 2.x exists).`;
          return 0;
        }
        // The upper bits of the link type field carry FCS flags (pcap spec), not the type.
        this.interfaces.push({ linkType: this.u32(b, 20) & 0x0fffffff, snapLen: this.u32(b, 16), unitsPerSecond: this.nanoseconds ? 1e9 : 1e6 });
        o = 24;
      }
    }
    return this.format === 'pcap' ? this.pcapRecords(b, o, onPacket) : this.pcapngBlocks(b, o, onPacket);
  }

  private pcapRecords(b: Uint8Array, start: number, onPacket: (packet: CapturedPacket) => void): number {
    let o = start;
    const end = b.length;
    const p = this.packet;
    const iface = this.interfaces[0]!;
    p.bytes = b;
    p.linkType = iface.linkType;
    p.interfaceIndex = 0;
    while (end - o >= 16) {
      const caplen = this.u32(b, o + 8);
      if (caplen > maxRecord) {
        this.error = `Corrupt pcap: a record claims ${caplen} bytes at file offset ${this.position(o)}.`;
        return o;
      }
      if (end - o - 16 < caplen) break;
      p.tsSec = this.u32(b, o);
      const frac = this.u32(b, o + 4);
      p.tsNsec = this.nanoseconds ? frac : frac * 1000;
      p.caplen = caplen;
      p.origLen = this.u32(b, o + 12);
      p.offset = o + 16;
      this.packets++;
      onPacket(p);
      o += 16 + caplen;
    }
    this.consumedBefore += o;
    return o;
  }

  /** Bytes before this read, for error messages. */
  private consumedBefore = 0;
  private position(o: number): number {
    return this.consumedBefore + o;
  }

  private pcapngBlocks(b: Uint8Array, start: number, onPacket: (packet: CapturedPacket) => void): number {
    let o = start;
    const end = b.length;
    while (end - o >= 12) {
      const beType = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
      if (beType === pcapngShb) {
        const bom = ((b[o + 8]! << 24) | (b[o + 9]! << 16) | (b[o + 10]! << 8) | b[o + 11]!) >>> 0;
        if (bom === 0x1a2b3c4d) this.littleEndian = false;
        else if (bom === 0x4d3c2b1a) this.littleEndian = true;
        else {
          this.error = `Corrupt pcapng: a section header with byte-order magic 0x${bom.toString(16)}.`;
          return o;
        }
      }
      const type = this.u32(b, o);
      const length = this.u32(b, o + 4);
      if (length < 12 || length % 4 !== 0 || length > maxRecord) {
        this.error = `Corrupt pcapng: a block of type ${type} claims ${length} bytes.`;
        return o;
      }
      if (end - o < length) break;
      this.block(b, o, type, length, onPacket);
      if (this.error !== undefined) return o;
      o += length;
    }
    this.consumedBefore += o;
    return o;
  }

  private block(b: Uint8Array, o: number, type: number, length: number, onPacket: (packet: CapturedPacket) => void): void {
    const body = o + 8;
    const bodyEnd = o + length - 4;
    switch (type) {
      case pcapngShb: {
        // A new section starts afresh: interface numbers restart at 0.
        this.interfaces.length = 0;
        this.options(b, body + 16, bodyEnd, (code, start, len) => {
          if (code === 1) this.comments.push(text(b, start, len));
        });
        return;
      }
      case 1: {
        if (bodyEnd - body < 8) {
          this.error = 'Corrupt pcapng: an interface block shorter than its fixed fields.';
          return;
        }
        const iface: CaptureInterface = { linkType: this.u16(b, body), snapLen: this.u32(b, body + 4), unitsPerSecond: 1e6 };
        this.options(b, body + 8, bodyEnd, (code, start, len) => {
          if (code === 2) iface.name = text(b, start, len);
          else if (code === 3) iface.description = text(b, start, len);
          else if (code === 1) iface.comment = text(b, start, len);
          else if (code === 11 && len >= 1) iface.filter = text(b, start + 1, len - 1);
          else if (code === 9 && len >= 1) {
            const r = b[start]!;
            iface.unitsPerSecond = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
          }
        });
        this.interfaces.push(iface);
        return;
      }
      case 6:
      case 2: {
        if (bodyEnd - body < 20) {
          this.error = 'Corrupt pcapng: a packet block shorter than its fixed fields.';
          return;
        }
        const ifIndex = type === 6 ? this.u32(b, body) : this.u16(b, body);
        const caplen = this.u32(b, body + 12);
        if (body + 20 + caplen > bodyEnd) {
          this.error = `Corrupt pcapng: a packet block claims ${caplen} bytes of data in a ${length}-byte block.`;
          return;
        }
        const iface = this.interfaces[ifIndex];
        if (!iface) {
          this.error = `Corrupt pcapng: a packet on interface ${ifIndex}, which no interface block described.`;
          return;
        }
        this.deliver(b, body + 20, caplen, this.u32(b, body + 16), iface, ifIndex, this.u32(b, body + 4), this.u32(b, body + 8), onPacket);
        return;
      }
      case 3: {
        const iface = this.interfaces[0];
        if (!iface || bodyEnd - body < 4) {
          this.error = 'Corrupt pcapng: a simple packet block without an interface block.';
          return;
        }
        const origLen = this.u32(b, body);
        let caplen = Math.min(origLen, bodyEnd - body - 4);
        if (iface.snapLen > 0) caplen = Math.min(caplen, iface.snapLen);
        this.deliver(b, body + 4, caplen, origLen, iface, 0, 0, 0, onPacket);
        return;
      }
      default:
        return; // name resolution, statistics, custom blocks: nothing to show
    }
  }

  private deliver(
    b: Uint8Array,
    offset: number,
    caplen: number,
    origLen: number,
    iface: CaptureInterface,
    ifIndex: number,
    tsHigh: number,
    tsLow: number,
    onPacket: (packet: CapturedPacket) => void,
  ): void {
    const p = this.packet;
    p.bytes = b;
    p.offset = offset;
    p.caplen = caplen;
    p.origLen = origLen;
    p.linkType = iface.linkType;
    p.interfaceIndex = ifIndex;
    splitTimestamp(tsHigh, tsLow, iface.unitsPerSecond, p);
    this.packets++;
    onPacket(p);
  }

  private options(b: Uint8Array, start: number, end: number, each: (code: number, start: number, length: number) => void): void {
    let o = start;
    while (end - o >= 4) {
      const code = this.u16(b, o);
      const len = this.u16(b, o + 2);
      if (code === 0) return;
      if (o + 4 + len > end) return; // a cut option: keep what came before it
      each(code, o + 4, len);
      o += 4 + ((len + 3) & ~3);
    }
  }
}

function text(b: Uint8Array, start: number, length: number): string {
  // Options are often NUL-padded by writers that count the terminator.
  let end = start + length;
  while (end > start && b[end - 1] === 0) end--;
  return utf8Decode(b, start, end);
}

/**
 * Splits a 64-bit count of `unitsPerSecond` into seconds and nanoseconds without BigInt: long
 * division in base 2^16 keeps every intermediate below 2^53.
 */
export function splitTimestamp(high: number, low: number, unitsPerSecond: number, out: { tsSec: number; tsNsec: number }): void {
  const digits0 = high >>> 16;
  const digits1 = high & 0xffff;
  const digits2 = low >>> 16;
  const digits3 = low & 0xffff;
  let r = digits0;
  const q0 = Math.floor(r / unitsPerSecond);
  r = (r - q0 * unitsPerSecond) * 65536 + digits1;
  const q1 = Math.floor(r / unitsPerSecond);
  r = (r - q1 * unitsPerSecond) * 65536 + digits2;
  const q2 = Math.floor(r / unitsPerSecond);
  r = (r - q2 * unitsPerSecond) * 65536 + digits3;
  const q3 = Math.floor(r / unitsPerSecond);
  r -= q3 * unitsPerSecond;
  out.tsSec = ((q0 * 65536 + q1) * 65536 + q2) * 65536 + q3;
  out.tsNsec = Math.round((r * 1e9) / unitsPerSecond);
}
