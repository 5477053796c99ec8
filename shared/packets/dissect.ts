// The fast dissector: one pass over a packet's bytes that fills a reused PacketFacts with numbers
// and offsets (no allocation, no strings, no regular expressions), so that a million packets cost
// little more than reading them. Encapsulation is followed: IP-in-IP (protocol 4) and VXLAN (UDP
// 4789) record the outer addresses once, then the inner packet is dissected in turn, so that
// src/dst always describe the innermost packet. Short or inconsistent bytes stop the dissection
// where they start and set `truncated` or `problem`; nothing here throws.
import { LinkType } from './linktypes.ts';

export const Encap = { Direct: 0, Ipip: 1, Vxlan: 2 } as const;
export const Net = { None: 0, Ipv4: 1, Arp: 2, Ipv6: 3, Other: 4 } as const;
export const App = { None: 0, Bgp: 1, Http: 2 } as const;

/** How deep encapsulation is followed: enough for VXLAN in IP-in-IP, bounded against crafted loops. */
const maxDepth = 4;
export const vxlanPort = 4789;
export const bgpPort = 179;

export class PacketFacts {
  bytes: Uint8Array = new Uint8Array(0);
  start = 0;
  end = 0;
  caplen = 0;
  origLen = 0;
  linkType = 0;
  encap: number = Encap.Direct;
  outerSrc = 0;
  outerDst = 0;
  vni = -1;
  etherType = -1;
  net: number = Net.None;
  src = 0;
  dst = 0;
  ipProto = -1;
  ttl = 0;
  ipOffset = -1;
  ipEnd = 0;
  fragment = false;
  arpOp = 0;
  /** Offset of the ARP sender hardware address, for "is-at". */
  arpOffset = -1;
  sport = -1;
  dport = -1;
  tcpFlags = 0;
  seq = 0;
  ack = 0;
  window = 0;
  icmpType = -1;
  icmpCode = -1;
  icmpOffset = -1;
  udpLength = 0;
  payloadOffset = 0;
  payloadLength = 0;
  app: number = App.None;
  truncated = false;
  /** Why the packet is malformed, or '' (constant strings only: the hot path never builds one). */
  problem = '';

  reset(bytes: Uint8Array, offset: number, caplen: number, origLen: number, linkType: number): void {
    this.bytes = bytes;
    this.start = offset;
    this.end = offset + caplen;
    this.caplen = caplen;
    this.origLen = origLen;
    this.linkType = linkType;
    this.encap = Encap.Direct;
    this.outerSrc = 0;
    this.outerDst = 0;
    this.vni = -1;
    this.etherType = -1;
    this.net = Net.None;
    this.src = 0;
    this.dst = 0;
    this.ipProto = -1;
    this.ttl = 0;
    this.ipOffset = -1;
    this.ipEnd = 0;
    this.fragment = false;
    this.arpOp = 0;
    this.arpOffset = -1;
    this.sport = -1;
    this.dport = -1;
    this.tcpFlags = 0;
    this.seq = 0;
    this.ack = 0;
    this.window = 0;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.icmpOffset = -1;
    this.udpLength = 0;
    this.payloadOffset = 0;
    this.payloadLength = 0;
    this.app = App.None;
    // A snap length shorter than the packet is truncation by definition.
    this.truncated = caplen < origLen;
    this.problem = '';
  }
}

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function dissect(bytes: Uint8Array, offset: number, caplen: number, origLen: number, linkType: number, f: PacketFacts): PacketFacts {
  f.reset(bytes, offset, caplen, origLen, linkType);
  const end = offset + caplen;
  switch (linkType) {
    case LinkType.Ethernet:
      ethernet(bytes, offset, end, f, 0);
      break;
    case LinkType.Raw:
    case LinkType.Ipv4:
      rawIp(bytes, offset, end, f);
      break;
    case LinkType.LinuxSll:
      if (end - offset < 16) f.truncated = true;
      else etherType(bytes, offset + 16, end, u16(bytes, offset + 14), f, 0);
      break;
    case LinkType.LinuxSll2:
      if (end - offset < 20) f.truncated = true;
      else etherType(bytes, offset + 20, end, u16(bytes, offset), f, 0);
      break;
    case LinkType.Null: {
      if (end - offset < 4) {
        f.truncated = true;
        break;
      }
      // The address family in the writer's byte order: 2 is AF_INET on every system.
      const family = bytes[offset]! | bytes[offset + 3]!;
      if (family === 2) ipv4(bytes, offset + 4, end, f, 0);
      else f.net = Net.Other;
      break;
    }
    default:
      f.problem = 'unknown link type';
  }
  return f;
}

function rawIp(b: Uint8Array, o: number, end: number, f: PacketFacts): void {
  if (end - o < 1) {
    f.truncated = true;
    return;
  }
  const version = b[o]! >> 4;
  if (version === 4) ipv4(b, o, end, f, 0);
  else if (version === 6) {
    f.net = Net.Ipv6;
    f.etherType = 0x86dd;
  } else f.problem = 'not IP';
}

function ethernet(b: Uint8Array, o: number, end: number, f: PacketFacts, depth: number): void {
  if (end - o < 14) {
    f.truncated = true;
    return;
  }
  let type = u16(b, o + 12);
  let p = o + 14;
  // 802.1Q / 802.1ad tags: skip to the real type.
  while ((type === 0x8100 || type === 0x88a8) && end - p >= 4) {
    type = u16(b, p + 2);
    p += 4;
  }
  etherType(b, p, end, type, f, depth);
}

function etherType(b: Uint8Array, o: number, end: number, type: number, f: PacketFacts, depth: number): void {
  f.etherType = type;
  if (type === 0x0800) ipv4(b, o, end, f, depth);
  else if (type === 0x0806) arp(b, o, end, f);
  else if (type === 0x86dd) f.net = Net.Ipv6;
  else f.net = Net.Other;
}

function arp(b: Uint8Array, o: number, end: number, f: PacketFacts): void {
  f.net = Net.Arp;
  if (end - o < 8) {
    f.truncated = true;
    return;
  }
  f.arpOp = u16(b, o + 6);
  // Only Ethernet/IPv4 ARP carries the addresses we show.
  if (u16(b, o) !== 1 || u16(b, o + 2) !== 0x0800 || b[o + 4] !== 6 || b[o + 5] !== 4) return;
  if (end - o < 28) {
    f.truncated = true;
    return;
  }
  f.arpOffset = o + 8;
  f.src = u32(b, o + 14);
  f.dst = u32(b, o + 24);
}

function ipv4(b: Uint8Array, o: number, end: number, f: PacketFacts, depth: number): void {
  f.net = Net.Ipv4;
  if (end - o < 20) {
    f.truncated = true;
    return;
  }
  const vihl = b[o]!;
  if (vihl >> 4 !== 4) {
    f.problem = 'IPv4 version is not 4';
    return;
  }
  const ihl = (vihl & 15) * 4;
  const total = u16(b, o + 2);
  f.src = u32(b, o + 12);
  f.dst = u32(b, o + 16);
  f.ipProto = b[o + 9]!;
  f.ttl = b[o + 8]!;
  f.ipOffset = o;
  if (ihl < 20) {
    f.problem = 'IPv4 header length below 20';
    return;
  }
  if (total < ihl) {
    f.problem = 'IPv4 total length below header length';
    return;
  }
  if (end - o < ihl) {
    f.truncated = true;
    return;
  }
  let ipEnd = o + total;
  if (ipEnd > end) {
    f.truncated = true;
    ipEnd = end;
  }
  f.ipEnd = ipEnd;
  const frag = u16(b, o + 6);
  if ((frag & 0x1fff) !== 0) {
    // A later fragment: its bytes continue a transport header we do not have.
    f.fragment = true;
    return;
  }
  const p = o + ihl;
  switch (f.ipProto) {
    case 4:
      if (depth >= maxDepth) return;
      if (f.encap === Encap.Direct) {
        f.encap = Encap.Ipip;
        f.outerSrc = f.src;
        f.outerDst = f.dst;
      }
      f.ipProto = -1;
      ipv4(b, p, ipEnd, f, depth + 1);
      return;
    case 6:
      tcp(b, p, ipEnd, f);
      return;
    case 17:
      udp(b, p, ipEnd, f, depth);
      return;
    case 1:
      f.icmpOffset = p;
      if (ipEnd - p < 4) {
        f.truncated = true;
        return;
      }
      f.icmpType = b[p]!;
      f.icmpCode = b[p + 1]!;
      return;
    default:
      return;
  }
}

function udp(b: Uint8Array, o: number, end: number, f: PacketFacts, depth: number): void {
  if (end - o < 8) {
    f.truncated = true;
    return;
  }
  f.sport = u16(b, o);
  f.dport = u16(b, o + 2);
  f.udpLength = u16(b, o + 4);
  f.payloadOffset = o + 8;
  f.payloadLength = end - o - 8;
  if (f.dport === vxlanPort && depth < maxDepth) {
    if (end - o < 16) {
      f.truncated = true;
      return;
    }
    if ((b[o + 8]! & 0x08) === 0) return; // the I flag says the VNI is valid; without it, not VXLAN
    if (f.encap === Encap.Direct) {
      f.encap = Encap.Vxlan;
      f.outerSrc = f.src;
      f.outerDst = f.dst;
      f.vni = (b[o + 12]! << 16) | (b[o + 13]! << 8) | b[o + 14]!;
    }
    // The inner frame replaces the outer transport fields.
    f.sport = -1;
    f.dport = -1;
    f.ipProto = -1;
    f.payloadOffset = 0;
    f.payloadLength = 0;
    f.net = Net.None;
    ethernet(b, o + 16, end, f, depth + 1);
  }
}

function tcp(b: Uint8Array, o: number, end: number, f: PacketFacts): void {
  if (end - o < 20) {
    // The ports alone are still worth showing.
    if (end - o >= 4) {
      f.sport = u16(b, o);
      f.dport = u16(b, o + 2);
    }
    f.truncated = true;
    return;
  }
  f.sport = u16(b, o);
  f.dport = u16(b, o + 2);
  f.seq = u32(b, o + 4);
  f.ack = u32(b, o + 8);
  const dataOffset = (b[o + 12]! >> 4) * 4;
  f.tcpFlags = b[o + 13]! | ((b[o + 12]! & 1) << 8);
  f.window = u16(b, o + 14);
  if (dataOffset < 20) {
    f.problem = 'TCP header length below 20';
    return;
  }
  if (end - o < dataOffset) {
    f.truncated = true;
    return;
  }
  const p = o + dataOffset;
  f.payloadOffset = p;
  f.payloadLength = end - p;
  if (f.payloadLength === 0) return;
  if (f.sport === bgpPort || f.dport === bgpPort) {
    if (isBgpMarker(b, p, end)) f.app = App.Bgp;
  } else if (httpStartLength(b, p, end) > 0) f.app = App.Http;
}

function isBgpMarker(b: Uint8Array, o: number, end: number): boolean {
  if (end - o < 19) return false;
  for (let i = 0; i < 16; i++) if (b[o + i] !== 0xff) return false;
  return true;
}

// Request methods (RFC 9110) and the status line, as byte sequences: matched without strings.
const httpStarts: readonly Uint8Array[] = ['GET ', 'POST ', 'PUT ', 'HEAD ', 'DELETE ', 'OPTIONS ', 'PATCH ', 'CONNECT ', 'TRACE ', 'HTTP/1.'].map((s) =>
  Uint8Array.from(s, (c) => c.charCodeAt(0)),
);

/** The length of the HTTP method (or "HTTP/1.") the payload starts with, or 0. */
export function httpStartLength(b: Uint8Array, o: number, end: number): number {
  const first = b[o];
  // A quick reject for the common case (binary payloads).
  if (first !== 0x47 && first !== 0x50 && first !== 0x48 && first !== 0x44 && first !== 0x4f && first !== 0x43 && first !== 0x54) return 0;
  for (const start of httpStarts) {
    if (end - o < start.length) continue;
    let i = 0;
    while (i < start.length && b[o + i] === start[i]) i++;
    if (i === start.length) return start.length;
  }
  return 0;
}

/** The end of the first line (before CR LF or LF) of a payload, at most `limit` bytes in. */
export function lineEnd(b: Uint8Array, o: number, end: number, limit = 2048): number {
  const stop = Math.min(end, o + limit);
  for (let i = o; i < stop; i++) if (b[i] === 0x0d || b[i] === 0x0a) return i;
  return stop;
}
