// One line per packet, as the seed writes what is on the wire: the encapsulation column first
// ("IPIP 10.240.1.11 -> 10.240.2.13", "VXLAN VNI 4096 10.240.1.11 -> 10.240.2.13", "direct"),
// then the innermost packet: addresses, protocol, details. The console's list, `npm run decode`
// and the benchmark all print these, from the same PacketFacts.
import { bgpMessages, bgpMessageText } from './bgp-messages.ts';
import { App, Encap, lineEnd, Net, type PacketFacts } from './dissect.ts';
import { ipv4Text, macText } from './ipv4-text.ts';

/** tcpdump's flag letters, in tcpdump's order, for every combination of the nine flag bits. */
export const tcpFlagTexts: readonly string[] = Array.from({ length: 512 }, (_, bits) => {
  let s = '';
  if (bits & 0x01) s += 'F';
  if (bits & 0x02) s += 'S';
  if (bits & 0x04) s += 'R';
  if (bits & 0x08) s += 'P';
  if (bits & 0x10) s += '.';
  if (bits & 0x20) s += 'U';
  if (bits & 0x40) s += 'E';
  if (bits & 0x80) s += 'W';
  if (bits & 0x100) s += 'N';
  return `[${s || 'none'}]`;
});

const unreachable = ['net', 'host', 'protocol', 'port', 'need to fragment', 'source route failed'];

/** The encapsulation column. */
export function encapText(f: PacketFacts): string {
  if (f.encap === Encap.Ipip) return `IPIP ${ipv4Text(f.outerSrc)} -> ${ipv4Text(f.outerDst)}`;
  if (f.encap === Encap.Vxlan) return `VXLAN VNI ${f.vni} ${ipv4Text(f.outerSrc)} -> ${ipv4Text(f.outerDst)}`;
  return 'direct';
}

export function sourceText(f: PacketFacts): string {
  return f.net === Net.Ipv4 || (f.net === Net.Arp && f.arpOffset >= 0) ? ipv4Text(f.src) : '';
}

export function destinationText(f: PacketFacts): string {
  return f.net === Net.Ipv4 || (f.net === Net.Arp && f.arpOffset >= 0) ? ipv4Text(f.dst) : '';
}

/** The protocol column: the highest layer decoded. */
export function protocolText(f: PacketFacts): string {
  switch (f.net) {
    case Net.Arp:
      return 'ARP';
    case Net.Ipv6:
      return 'IPv6';
    case Net.None:
      return f.problem ? '?' : 'ETH';
    case Net.Other:
      return 'ETH';
    default:
  }
  if (f.app === App.Bgp) return 'BGP';
  if (f.app === App.Http) return 'HTTP';
  switch (f.ipProto) {
    case 6:
      return 'TCP';
    case 17:
      return f.dport === 4789 ? 'VXLAN' : 'UDP';
    case 1:
      return 'ICMP';
    case -1:
      return 'IPv4';
    default:
      return `IP proto ${f.ipProto}`;
  }
}

function latin1(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  }
  return s;
}

/** The info column: ports, flags and what the application said. */
export function infoText(f: PacketFacts): string {
  const b = f.bytes;
  let info: string;
  if (f.net === Net.Arp) {
    if (f.arpOffset < 0) info = `op ${f.arpOp}`;
    else if (f.arpOp === 1) info = `who-has ${ipv4Text(f.dst)} tell ${ipv4Text(f.src)}`;
    else if (f.arpOp === 2) info = `${ipv4Text(f.src)} is-at ${macText(b, f.arpOffset)}`;
    else info = `op ${f.arpOp}`;
  } else if (f.net === Net.Other) info = `ethertype 0x${f.etherType.toString(16).padStart(4, '0')}`;
  else if (f.net !== Net.Ipv4) info = '';
  else if (f.fragment) info = 'fragment';
  else if (f.ipProto === 6 && f.sport >= 0) {
    info = `${f.sport} -> ${f.dport}`;
    if (f.payloadOffset > 0) {
      info += ` ${tcpFlagTexts[f.tcpFlags]} len ${f.payloadLength}`;
      if (f.app === App.Bgp) info += ` ${bgpMessages(b, f.payloadOffset, f.payloadOffset + f.payloadLength).map(bgpMessageText).join(', ')}`;
      else if (f.app === App.Http) info += ` ${latin1(b, f.payloadOffset, lineEnd(b, f.payloadOffset, f.payloadOffset + f.payloadLength))}`;
    }
  } else if (f.ipProto === 17 && f.sport >= 0) info = `${f.sport} -> ${f.dport} len ${f.udpLength > 8 ? f.udpLength - 8 : 0}`;
  else if (f.ipProto === 1 && f.icmpType >= 0) {
    const o = f.icmpOffset;
    const idSeq = f.end - o >= 8 ? ` id ${(b[o + 4]! << 8) | b[o + 5]!} seq ${(b[o + 6]! << 8) | b[o + 7]!}` : '';
    if (f.icmpType === 8) info = `echo request${idSeq}`;
    else if (f.icmpType === 0) info = `echo reply${idSeq}`;
    else if (f.icmpType === 3) info = `${unreachable[f.icmpCode] ?? `code ${f.icmpCode}`} unreachable`;
    else if (f.icmpType === 11) info = 'time exceeded';
    else info = `type ${f.icmpType} code ${f.icmpCode}`;
  } else info = '';
  if (f.problem) info += info ? ` [malformed: ${f.problem}]` : `[malformed: ${f.problem}]`;
  else if (f.truncated) info += info ? ' [truncated]' : '[truncated]';
  return info;
}

/** The whole line: "IPIP 10.240.1.11 -> 10.240.2.13 | 192.168.1.65 -> 192.168.3.1 TCP 43512 -> 80 [S] len 0". */
export function summaryLine(f: PacketFacts): string {
  const src = sourceText(f);
  const addresses = src ? `${src} -> ${destinationText(f)} ` : '';
  const info = infoText(f);
  return `${encapText(f)} | ${addresses}${protocolText(f)}${info ? ' ' : ''}${info}`;
}

/** Time of day in UTC with microseconds, as `tcpdump -r` prints it (TZ=UTC). */
export function timeOfDay(tsSec: number, tsNsec: number): string {
  const day = tsSec % 86400;
  const h = Math.floor(day / 3600);
  const m = Math.floor((day % 3600) / 60);
  const s = day % 60;
  const us = Math.floor(tsNsec / 1000);
  return `${h < 10 ? '0' : ''}${h}:${m < 10 ? '0' : ''}${m}:${s < 10 ? '0' : ''}${s}.${String(us).padStart(6, '0')}`;
}
