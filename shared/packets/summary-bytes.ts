// `npm run decode`'s lines, "TIME SUMMARY\n", written as ASCII bytes straight into an output
// buffer: the same text as `${timeOfDay(...)} ${summaryLine(f)}` (summary.ts, which the console's
// rows use), without a string per packet. Measured on bench/decode-pcap.ts's million packets, in
// process: building the line as a string took 390 ms and writing it into the output buffer 350 ms
// more (flattening the concatenation, encoding it, and the collector's work after it); these bytes
// take a fraction of that. The common cases (IPv4 TCP, UDP, ICMP echo, HTTP, any encapsulation)
// are written here; anything else writes summary.ts's own text, so the two cannot disagree there.
// summary-bytes.test.ts checks the two agree on every kind of packet and on random bytes.
import { App, Encap, lineEnd, Net, type PacketFacts } from './dissect.ts';
import { infoText, protocolText, tcpFlagTexts } from './summary.ts';
import { utf8Encode } from './utf8-text.ts';

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const flagBytes = tcpFlagTexts.map(ascii);
const arrow = ascii(' -> ');
const bar = ascii(' | ');
const direct = ascii('direct');
const ipip = ascii('IPIP ');
const vxlanVni = ascii('VXLAN VNI ');
const lenWord = ascii(' len ');
const echoRequest = ascii('echo request');
const echoReply = ascii('echo reply');
const idWord = ascii(' id ');
const seqWord = ascii(' seq ');

/** Dotted quads as bytes, cached as ipv4-text.ts caches the strings: a capture repeats a few addresses. */
const cacheSize = 4096;
const cacheKeys = new Float64Array(cacheSize).fill(-1);
const cacheBytes = new Uint8Array(cacheSize * 16);
const cacheLengths = new Uint8Array(cacheSize);

export class SummaryBytes {
  private buf: Uint8Array;
  /** Bytes written since the last take(). */
  length = 0;

  constructor(private readonly size = 1 << 20) {
    this.buf = new Uint8Array(size);
  }

  /**
   * The bytes written so far; the writer starts a new buffer, so that the caller may hand these
   * to an asynchronous write (process.stdout) and keep writing.
   */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.length);
    this.buf = new Uint8Array(this.size);
    this.length = 0;
    return out;
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    bigger.set(this.buf.subarray(0, this.length));
    this.buf = bigger;
  }

  /** A few bytes, by a loop: TypedArray.set costs more than it moves at these sizes. */
  private bytes(b: Uint8Array): void {
    const n = b.length;
    this.room(n);
    const buf = this.buf;
    const at = this.length;
    for (let i = 0; i < n; i++) buf[at + i] = b[i]!;
    this.length = at + n;
  }

  private text(s: string): void {
    this.room(s.length);
    const buf = this.buf;
    let at = this.length;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return this.bytes(utf8Encode(s)); // at = this.length still: start over in UTF-8
      buf[at++] = c;
    }
    this.length = at;
  }

  private byte(c: number): void {
    this.room(1);
    this.buf[this.length++] = c;
  }

  /** A non-negative integer's decimal digits (others as JavaScript writes them). */
  private number(n: number): void {
    if (!(n >= 0 && n <= 0xffffffff && Number.isInteger(n))) return this.text(String(n));
    this.room(10);
    const buf = this.buf;
    let digits = 1;
    for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++;
    let at = this.length + digits;
    this.length = at;
    let v = n;
    do {
      buf[--at] = 48 + (v % 10);
      v = Math.floor(v / 10);
    } while (v > 0);
  }

  private ip(address: number): void {
    const slot = (address ^ (address >>> 12) ^ (address >>> 20)) & (cacheSize - 1);
    if (cacheKeys[slot] !== address) {
      let at = slot * 16;
      for (let k = 24; k >= 0; k -= 8) {
        const part = (address >>> k) & 255;
        if (part >= 100) cacheBytes[at++] = 48 + Math.floor(part / 100);
        if (part >= 10) cacheBytes[at++] = 48 + (Math.floor(part / 10) % 10);
        cacheBytes[at++] = 48 + (part % 10);
        if (k > 0) cacheBytes[at++] = 46;
      }
      cacheKeys[slot] = address;
      cacheLengths[slot] = at - slot * 16;
    }
    this.room(15);
    // Copied by a loop: a subarray per address was a third of this function's time, and garbage.
    const n = cacheLengths[slot]!;
    const buf = this.buf;
    const at = this.length;
    const from = slot * 16;
    for (let i = 0; i < n; i++) buf[at + i] = cacheBytes[from + i]!;
    this.length = at + n;
  }

  /** Two digits, 0-padded. */
  private two(n: number): void {
    this.buf[this.length++] = 48 + Math.floor(n / 10);
    this.buf[this.length++] = 48 + (n % 10);
  }

  /** timeOfDay(tsSec, tsNsec): "HH:MM:SS.uuuuuu" in UTC. */
  private time(tsSec: number, tsNsec: number): void {
    const day = tsSec % 86400;
    const us = Math.floor(tsNsec / 1000);
    if (!(day >= 0 && Number.isInteger(day) && us >= 0 && us < 1e6)) {
      // Out of the ordinary (a negative or fractional second, nanoseconds past a second): as timeOfDay writes it.
      const h = Math.floor(day / 3600);
      const m = Math.floor((day % 3600) / 60);
      const s = day % 60;
      return this.text(`${h < 10 ? '0' : ''}${h}:${m < 10 ? '0' : ''}${m}:${s < 10 ? '0' : ''}${s}.${String(us).padStart(6, '0')}`);
    }
    this.room(15);
    this.two(Math.floor(day / 3600));
    this.buf[this.length++] = 58;
    this.two(Math.floor((day % 3600) / 60));
    this.buf[this.length++] = 58;
    this.two(day % 60);
    this.buf[this.length++] = 46;
    const buf = this.buf;
    let v = us;
    for (let at = this.length + 5; at >= this.length; at--) {
      buf[at] = 48 + (v % 10);
      v = Math.floor(v / 10);
    }
    this.length += 6;
  }

  /** encapText(f). */
  private encap(f: PacketFacts): void {
    if (f.encap === Encap.Ipip) this.bytes(ipip);
    else if (f.encap === Encap.Vxlan) {
      this.bytes(vxlanVni);
      this.number(f.vni);
      this.byte(32);
    } else return this.bytes(direct);
    this.ip(f.outerSrc);
    this.bytes(arrow);
    this.ip(f.outerDst);
  }

  /** ` ${infoText(f)}` when the info is not empty; the common cases without building it. */
  private info(f: PacketFacts): void {
    if (f.net !== Net.Ipv4 || f.fragment || f.problem || f.truncated || f.app === App.Bgp) return this.otherInfo(f);
    if (f.ipProto === 6 && f.sport >= 0) {
      this.byte(32);
      this.number(f.sport);
      this.bytes(arrow);
      this.number(f.dport);
      if (f.payloadOffset <= 0) return;
      this.byte(32);
      this.bytes(flagBytes[f.tcpFlags]!);
      this.bytes(lenWord);
      this.number(f.payloadLength);
      if (f.app === App.Http) {
        const b = f.bytes;
        const start = f.payloadOffset;
        const end = lineEnd(b, start, start + f.payloadLength);
        this.room(end - start + 1);
        const buf = this.buf;
        let at = this.length;
        buf[at++] = 32;
        for (let i = start; i < end; i++) {
          const c = b[i]!;
          buf[at++] = c >= 0x20 && c < 0x7f ? c : 46;
        }
        this.length = at;
      }
      return;
    }
    if (f.ipProto === 17 && f.sport >= 0) {
      this.byte(32);
      this.number(f.sport);
      this.bytes(arrow);
      this.number(f.dport);
      this.bytes(lenWord);
      this.number(f.udpLength > 8 ? f.udpLength - 8 : 0);
      return;
    }
    if (f.ipProto === 1 && (f.icmpType === 8 || f.icmpType === 0)) {
      this.byte(32);
      this.bytes(f.icmpType === 8 ? echoRequest : echoReply);
      const o = f.icmpOffset;
      if (f.end - o >= 8) {
        const b = f.bytes;
        this.bytes(idWord);
        this.number((b[o + 4]! << 8) | b[o + 5]!);
        this.bytes(seqWord);
        this.number((b[o + 6]! << 8) | b[o + 7]!);
      }
      return;
    }
    this.otherInfo(f);
  }

  private otherInfo(f: PacketFacts): void {
    const info = infoText(f);
    if (!info) return;
    this.byte(32);
    this.text(info);
  }

  /** Writes `${timeOfDay(tsSec, tsNsec)} ${summaryLine(f)}\n`. */
  line(f: PacketFacts, tsSec: number, tsNsec: number): void {
    this.time(tsSec, tsNsec);
    this.byte(32);
    this.encap(f);
    this.bytes(bar);
    if (f.net === Net.Ipv4 || (f.net === Net.Arp && f.arpOffset >= 0)) {
      this.ip(f.src);
      this.bytes(arrow);
      this.ip(f.dst);
      this.byte(32);
    }
    this.text(protocolText(f));
    this.info(f);
    this.byte(10);
  }
}
