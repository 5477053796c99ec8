// pcap and pcapng writers. They produce byte arrays (a list of parts the caller concatenates or
// streams), little-endian, with the packet bytes copied unchanged: an export holds exactly what
// tcpdump delivered.
import { utf8Encode } from './utf8-text.ts';

/** One packet record: its bytes, and the numbers a pcap or pcapng record carries. */
export interface PacketToWrite {
  bytes: Uint8Array;
  /** Where the packet's first byte is in `bytes`. */
  offset: number;
  caplen: number;
  origLen: number;
  tsSec: number;
  tsNsec: number;
}

function header32(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v >>> 0, true));
  return out;
}

/** Classic pcap: microsecond timestamps (what tcpdump writes), one link type for the whole file. */
export class PcapWriter {
  readonly parts: Uint8Array[] = [];

  constructor(linkType: number, snapLen = 262144) {
    const h = new Uint8Array(24);
    const view = new DataView(h.buffer);
    view.setUint32(0, 0xa1b2c3d4, true);
    view.setUint16(4, 2, true);
    view.setUint16(6, 4, true);
    view.setUint32(16, snapLen, true);
    view.setUint32(20, linkType, true);
    this.parts.push(h);
  }

  add(p: PacketToWrite): void {
    this.parts.push(header32([p.tsSec, Math.floor(p.tsNsec / 1000), p.caplen, p.origLen]));
    this.parts.push(p.bytes.slice(p.offset, p.offset + p.caplen));
  }
}

export interface PcapngInterface {
  linkType: number;
  snapLen?: number;
  name?: string;
  description?: string;
  filter?: string;
  comment?: string;
}

function option(code: number, value: Uint8Array): Uint8Array {
  const padded = (value.length + 3) & ~3;
  const out = new Uint8Array(4 + padded);
  const view = new DataView(out.buffer);
  view.setUint16(0, code, true);
  view.setUint16(2, value.length, true);
  out.set(value, 4);
  return out;
}

function block(type: number, body: Uint8Array[]): Uint8Array {
  const bodyLength = body.reduce((n, part) => n + part.length, 0);
  const total = 12 + bodyLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, total, true);
  let o = 8;
  for (const part of body) {
    out.set(part, o);
    o += part.length;
  }
  view.setUint32(total - 4, total, true);
  return out;
}

const endOfOptions = new Uint8Array(4);

/** pcapng: one section, interfaces with names, filters and comments, nanosecond timestamps. */
export class PcapngWriter {
  readonly parts: Uint8Array[] = [];

  /** `comment`: the section's opt_comment, or several (pcapng lets the option repeat). */
  constructor(options: { comment?: string | string[]; application?: string } = {}) {
    const fixed = new Uint8Array(16);
    const view = new DataView(fixed.buffer);
    view.setUint32(0, 0x1a2b3c4d, true);
    view.setUint16(4, 1, true);
    view.setUint16(6, 0, true);
    view.setInt32(8, -1, true); // section length unknown
    view.setInt32(12, -1, true);
    const opts: Uint8Array[] = [];
    for (const comment of typeof options.comment === 'string' ? [options.comment] : (options.comment ?? [])) if (comment) opts.push(option(1, utf8Encode(comment)));
    if (options.application) opts.push(option(4, utf8Encode(options.application)));
    if (opts.length > 0) opts.push(endOfOptions);
    this.parts.push(block(0x0a0d0d0a, [fixed, ...opts]));
  }

  /** Adds an interface block; returns its index for `add`. */
  private interfaceCount = 0;
  addInterface(iface: PcapngInterface): number {
    const fixed = new Uint8Array(8);
    const view = new DataView(fixed.buffer);
    view.setUint16(0, iface.linkType, true);
    view.setUint32(4, iface.snapLen ?? 262144, true);
    const opts: Uint8Array[] = [];
    if (iface.name) opts.push(option(2, utf8Encode(iface.name)));
    if (iface.description) opts.push(option(3, utf8Encode(iface.description)));
    if (iface.comment) opts.push(option(1, utf8Encode(iface.comment)));
    if (iface.filter) opts.push(option(11, Uint8Array.from([0, ...utf8Encode(iface.filter)])));
    opts.push(option(9, Uint8Array.of(9))); // if_tsresol: nanoseconds
    opts.push(endOfOptions);
    this.parts.push(block(1, [fixed, ...opts]));
    return this.interfaceCount++;
  }

  /** Adds an enhanced packet block; `comment` becomes its opt_comment (Wireshark's frame.comment). */
  add(interfaceIndex: number, p: PacketToWrite, comment?: string): void {
    // ts = sec * 1e9 + nsec as two 32-bit halves, without BigInt: sec * 1e9 exceeds 2^53.
    const secHigh = Math.floor(p.tsSec / 65536);
    const secLow = p.tsSec % 65536;
    // (secHigh * 65536 + secLow) * 1e9 + nsec = secHigh * 1e9 * 65536 + (secLow * 1e9 + nsec)
    const lowPart = secLow * 1e9 + p.tsNsec; // < 2^47
    const highPart = secHigh * 1e9; // times 65536 below
    // total = highPart * 65536 + lowPart; split into 2^32 halves
    const hpHigh = Math.floor(highPart / 65536);
    const hpLow = highPart % 65536; // highPart * 65536 = hpHigh * 2^32 + hpLow * 65536
    const low = hpLow * 65536 + lowPart;
    const tsHigh = hpHigh + Math.floor(low / 4294967296);
    const tsLow = low % 4294967296;
    const fixed = header32([interfaceIndex, tsHigh, tsLow, p.caplen, p.origLen]);
    const data = new Uint8Array((p.caplen + 3) & ~3);
    data.set(p.bytes.subarray(p.offset, p.offset + p.caplen));
    this.parts.push(block(6, comment ? [fixed, data, option(1, utf8Encode(comment)), endOfOptions] : [fixed, data]));
  }
}

export function concatParts(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const part of parts) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}
