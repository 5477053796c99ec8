// The detail tree of one packet, as Wireshark's middle pane shows it: a node per layer, a leaf per
// field, each with the byte range it came from (for the hex pane's highlight) and, for fields,
// Wireshark's field name and value text (so that tests compare them with `tshark -T json` one to
// one). Built for the one packet the user selects, so it may allocate freely. Truncated and
// malformed layers end with a marked leaf instead of throwing.
import { bgpMessages, bgpTypeName, notificationName } from './bgp-messages.ts';
import { bgpPort, httpStartLength, lineEnd, vxlanPort } from './dissect.ts';
import { ipv4Text, macText } from './ipv4-text.ts';
import { LinkType, linkTypeName } from './linktypes.ts';

export interface TreeNode {
  label: string;
  /** Offset from the packet's first byte. */
  start: number;
  length: number;
  /** Wireshark's field name (ip.src, tcp.flags, ...) when the node is a field. */
  field?: string;
  /** The value as tshark's JSON prints it. */
  value?: string;
  children?: TreeNode[];
  /** Set on a leaf that says the layer stops here. */
  problem?: 'truncated' | 'malformed';
}

const maxDepth = 4;

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}
function hex(value: number, digits: number): string {
  return `0x${value.toString(16).padStart(digits, '0')}`;
}

/** Builds a layer; offsets are absolute in `b` and made relative to `base` when stored. */
class Layer {
  readonly node: TreeNode;
  constructor(
    private readonly base: number,
    label: string,
    start: number,
    length: number,
  ) {
    this.node = { label, start: start - base, length, children: [] };
  }
  field(title: string, field: string, value: string, start: number, length: number, display = value): TreeNode {
    const leaf: TreeNode = { label: `${title}: ${display}`, field, value, start: start - this.base, length };
    this.node.children!.push(leaf);
    return leaf;
  }
  text(label: string, start: number, length: number): void {
    this.node.children!.push({ label, start: start - this.base, length });
  }
  stop(problem: 'truncated' | 'malformed', why: string, at: number, end: number): void {
    this.node.children!.push({ label: `[${problem === 'truncated' ? 'Truncated' : 'Malformed'}: ${why}]`, start: at - this.base, length: Math.max(0, end - at), problem });
  }
}

export function packetTree(b: Uint8Array, offset: number, caplen: number, origLen: number, linkType: number): TreeNode[] {
  const end = offset + caplen;
  const layers: TreeNode[] = [];
  const frame = new Layer(offset, `Frame: ${origLen} bytes on wire, ${caplen} bytes captured (${linkTypeName(linkType)})`, offset, caplen);
  frame.field('Frame Length', 'frame.len', String(origLen), offset, caplen);
  frame.field('Capture Length', 'frame.cap_len', String(caplen), offset, caplen);
  if (caplen < origLen) frame.stop('truncated', `captured ${caplen} of ${origLen} bytes (snap length)`, end, end);
  layers.push(frame.node);
  const ctx: Context = { b, base: offset, layers };
  switch (linkType) {
    case LinkType.Ethernet:
      ethernet(ctx, offset, end, 0);
      break;
    case LinkType.Raw:
    case LinkType.Ipv4:
      if (end > offset && b[offset]! >> 4 === 4) ipv4(ctx, offset, end, 0);
      else if (end > offset && b[offset]! >> 4 === 6) ipv6(ctx, offset, end);
      break;
    case LinkType.LinuxSll:
    case LinkType.LinuxSll2: {
      const header = linkType === LinkType.LinuxSll ? 16 : 20;
      const layer = new Layer(offset, linkType === LinkType.LinuxSll ? 'Linux cooked capture v1' : 'Linux cooked capture v2', offset, header);
      layers.push(layer.node);
      if (end - offset < header) {
        layer.stop('truncated', 'cooked header cut short', offset, end);
        break;
      }
      const protocolAt = linkType === LinkType.LinuxSll ? offset + 14 : offset;
      const protocol = u16(b, protocolAt);
      layer.field('Protocol', linkType === LinkType.LinuxSll ? 'sll.etype' : 'sll.etype', hex(protocol, 4), protocolAt, 2);
      etherType(ctx, protocol, offset + header, end, 0);
      break;
    }
    default:
      break;
  }
  return layers;
}

interface Context {
  b: Uint8Array;
  base: number;
  layers: TreeNode[];
}

function ethernet(ctx: Context, o: number, end: number, depth: number): void {
  const { b } = ctx;
  const layer = new Layer(ctx.base, 'Ethernet II', o, Math.min(14, end - o));
  ctx.layers.push(layer.node);
  if (end - o < 14) {
    layer.stop('truncated', 'Ethernet header cut short', o, end);
    return;
  }
  const dst = macText(b, o);
  const src = macText(b, o + 6);
  layer.node.label = `Ethernet II, Src: ${src}, Dst: ${dst}`;
  layer.field('Destination', 'eth.dst', dst, o, 6);
  layer.field('Source', 'eth.src', src, o + 6, 6);
  let type = u16(b, o + 12);
  let p = o + 14;
  layer.field('Type', 'eth.type', hex(type, 4), o + 12, 2);
  while ((type === 0x8100 || type === 0x88a8) && end - p >= 4) {
    layer.field('VLAN ID', 'vlan.id', String(u16(b, p) & 0xfff), p, 2);
    type = u16(b, p + 2);
    p += 4;
  }
  etherType(ctx, type, p, end, depth);
}

function etherType(ctx: Context, type: number, o: number, end: number, depth: number): void {
  if (type === 0x0800) ipv4(ctx, o, end, depth);
  else if (type === 0x0806) arp(ctx, o, end);
  else if (type === 0x86dd) ipv6(ctx, o, end);
  else if (o < end) ctx.layers.push({ label: `Data (${end - o} bytes, ethertype ${hex(type, 4)})`, start: o - ctx.base, length: end - o });
}

function arp(ctx: Context, o: number, end: number): void {
  const { b } = ctx;
  const layer = new Layer(ctx.base, 'Address Resolution Protocol', o, Math.min(28, end - o));
  ctx.layers.push(layer.node);
  if (end - o < 8) return layer.stop('truncated', 'ARP header cut short', o, end);
  const op = u16(b, o + 6);
  layer.node.label = `Address Resolution Protocol (${op === 1 ? 'request' : op === 2 ? 'reply' : `opcode ${op}`})`;
  layer.field('Hardware type', 'arp.hw.type', String(u16(b, o)), o, 2);
  layer.field('Protocol type', 'arp.proto.type', hex(u16(b, o + 2), 4), o + 2, 2);
  layer.field('Opcode', 'arp.opcode', String(op), o + 6, 2);
  if (u16(b, o) !== 1 || u16(b, o + 2) !== 0x0800 || b[o + 4] !== 6 || b[o + 5] !== 4) return;
  if (end - o < 28) return layer.stop('truncated', 'ARP addresses cut short', o + 8, end);
  layer.field('Sender MAC address', 'arp.src.hw_mac', macText(b, o + 8), o + 8, 6);
  layer.field('Sender IP address', 'arp.src.proto_ipv4', ipv4Text(u32(b, o + 14)), o + 14, 4);
  layer.field('Target MAC address', 'arp.dst.hw_mac', macText(b, o + 18), o + 18, 6);
  layer.field('Target IP address', 'arp.dst.proto_ipv4', ipv4Text(u32(b, o + 24)), o + 24, 4);
}

/** RFC 5952 text: lower case, the longest run of two or more zero groups (the first such) as "::". */
export function ipv6Text(b: Uint8Array, o: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(u16(b, o + i * 2));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hexes = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hexes.join(':');
  return `${hexes.slice(0, bestStart).join(':')}::${hexes.slice(bestStart + bestLength).join(':')}`;
}

/** IPv6 is shown (the fixed header), not followed: the lab's pod networks are IPv4. */
function ipv6(ctx: Context, o: number, end: number): void {
  const { b } = ctx;
  const layer = new Layer(ctx.base, 'Internet Protocol Version 6', o, Math.min(40, end - o));
  ctx.layers.push(layer.node);
  if (end - o < 40) return layer.stop('truncated', 'IPv6 header cut short', o, end);
  const src = ipv6Text(b, o + 8);
  const dst = ipv6Text(b, o + 24);
  layer.node.label = `Internet Protocol Version 6, Src: ${src}, Dst: ${dst}`;
  layer.field('Version', 'ip.version', String(b[o]! >> 4), o, 1);
  layer.field('Payload Length', 'ipv6.plen', String(u16(b, o + 4)), o + 4, 2);
  layer.field('Next Header', 'ipv6.nxt', String(b[o + 6]!), o + 6, 1);
  layer.field('Hop Limit', 'ipv6.hlim', String(b[o + 7]!), o + 7, 1);
  layer.field('Source Address', 'ipv6.src', src, o + 8, 16);
  layer.field('Destination Address', 'ipv6.dst', dst, o + 24, 16);
  if (end > o + 40) ctx.layers.push({ label: `IPv6 payload (${end - o - 40} bytes, not decoded)`, start: o + 40 - ctx.base, length: end - o - 40 });
}

const protocolNames: Record<number, string> = { 1: 'ICMP', 4: 'IPIP', 6: 'TCP', 17: 'UDP' };

function ipv4(ctx: Context, o: number, end: number, depth: number): void {
  const { b } = ctx;
  const layer = new Layer(ctx.base, 'Internet Protocol Version 4', o, Math.min(20, end - o));
  ctx.layers.push(layer.node);
  if (end - o < 20) return layer.stop('truncated', 'IPv4 header cut short', o, end);
  const ihl = (b[o]! & 15) * 4;
  const total = u16(b, o + 2);
  const src = ipv4Text(u32(b, o + 12));
  const dst = ipv4Text(u32(b, o + 16));
  const proto = b[o + 9]!;
  layer.node.label = `Internet Protocol Version 4, Src: ${src}, Dst: ${dst}`;
  layer.node.length = Math.min(Math.max(ihl, 20), end - o);
  layer.field('Version', 'ip.version', String(b[o]! >> 4), o, 1);
  if (b[o]! >> 4 !== 4) return layer.stop('malformed', 'version is not 4', o, end);
  layer.field('Header Length', 'ip.hdr_len', String(ihl), o, 1, `${ihl} bytes`);
  if (ihl < 20) return layer.stop('malformed', 'header length below 20', o, end);
  layer.field('Total Length', 'ip.len', String(total), o + 2, 2);
  layer.field('Identification', 'ip.id', hex(u16(b, o + 4), 4), o + 4, 2);
  const frag = u16(b, o + 6);
  layer.field('Flags', 'ip.flags', hex(frag >> 13, 2), o + 6, 1);
  layer.field('Fragment Offset', 'ip.frag_offset', String((frag & 0x1fff) * 8), o + 6, 2);
  layer.field('Time to Live', 'ip.ttl', String(b[o + 8]!), o + 8, 1);
  layer.field('Protocol', 'ip.proto', String(proto), o + 9, 1, `${protocolNames[proto] ?? 'Unknown'} (${proto})`);
  layer.field('Header Checksum', 'ip.checksum', hex(u16(b, o + 10), 4), o + 10, 2);
  layer.field('Source Address', 'ip.src', src, o + 12, 4);
  layer.field('Destination Address', 'ip.dst', dst, o + 16, 4);
  if (total < ihl) return layer.stop('malformed', 'total length below header length', o + 2, end);
  if (end - o < ihl) return layer.stop('truncated', 'IPv4 options cut short', o + 20, end);
  let ipEnd = o + total;
  if (ipEnd > end) {
    layer.stop('truncated', `total length ${total} but ${end - o} bytes captured`, end, end);
    ipEnd = end;
  }
  if ((frag & 0x1fff) !== 0) {
    ctx.layers.push({ label: `Fragment data (${ipEnd - o - ihl} bytes)`, start: o + ihl - ctx.base, length: ipEnd - o - ihl });
    return;
  }
  const p = o + ihl;
  if (proto === 4 && depth < maxDepth) ipv4(ctx, p, ipEnd, depth + 1);
  else if (proto === 6) tcp(ctx, p, ipEnd);
  else if (proto === 17) udp(ctx, p, ipEnd, depth);
  else if (proto === 1) icmp(ctx, p, ipEnd);
  else if (p < ipEnd) ctx.layers.push({ label: `Data (${ipEnd - p} bytes)`, start: p - ctx.base, length: ipEnd - p });
}

function udp(ctx: Context, o: number, end: number, depth: number): void {
  const { b } = ctx;
  const layer = new Layer(ctx.base, 'User Datagram Protocol', o, Math.min(8, end - o));
  ctx.layers.push(layer.node);
  if (end - o < 8) return layer.stop('truncated', 'UDP header cut short', o, end);
  const sport = u16(b, o);
  const dport = u16(b, o + 2);
  layer.node.label = `User Datagram Protocol, Src Port: ${sport}, Dst Port: ${dport}`;
  layer.field('Source Port', 'udp.srcport', String(sport), o, 2);
  layer.field('Destination Port', 'udp.dstport', String(dport), o + 2, 2);
  layer.field('Length', 'udp.length', String(u16(b, o + 4)), o + 4, 2);
  layer.field('Checksum', 'udp.checksum', hex(u16(b, o + 6), 4), o + 6, 2);
  if (dport === vxlanPort && depth < maxDepth && end - o >= 9 && (b[o + 8]! & 0x08) !== 0) {
    const v = new Layer(ctx.base, 'Virtual eXtensible Local Area Network', o + 8, Math.min(8, end - o - 8));
    ctx.layers.push(v.node);
    if (end - o < 16) return v.stop('truncated', 'VXLAN header cut short', o + 8, end);
    const vni = (b[o + 12]! << 16) | (b[o + 13]! << 8) | b[o + 14]!;
    v.field('Flags', 'vxlan.flags', hex(u16(b, o + 8), 4), o + 8, 2);
    v.field('VXLAN Network Identifier (VNI)', 'vxlan.vni', String(vni), o + 12, 3);
    ethernet(ctx, o + 16, end, depth + 1);
  } else if (end > o + 8) ctx.layers.push({ label: `Data (${end - o - 8} bytes)`, start: o + 8 - ctx.base, length: end - o - 8 });
}

function icmp(ctx: Context, o: number, end: number): void {
  const { b } = ctx;
  const layer = new Layer(ctx.base, 'Internet Control Message Protocol', o, end - o);
  ctx.layers.push(layer.node);
  if (end - o < 4) return layer.stop('truncated', 'ICMP header cut short', o, end);
  const type = b[o]!;
  layer.field('Type', 'icmp.type', String(type), o, 1);
  layer.field('Code', 'icmp.code', String(b[o + 1]!), o + 1, 1);
  layer.field('Checksum', 'icmp.checksum', hex(u16(b, o + 2), 4), o + 2, 2);
  if ((type === 0 || type === 8) && end - o >= 8) {
    layer.field('Identifier (BE)', 'icmp.ident', String(u16(b, o + 4)), o + 4, 2);
    layer.field('Sequence Number (BE)', 'icmp.seq', String(u16(b, o + 6)), o + 6, 2);
  }
}

function tcp(ctx: Context, o: number, end: number): void {
  const { b } = ctx;
  const layer = new Layer(ctx.base, 'Transmission Control Protocol', o, Math.min(20, end - o));
  ctx.layers.push(layer.node);
  if (end - o < 20) return layer.stop('truncated', 'TCP header cut short', o, end);
  const sport = u16(b, o);
  const dport = u16(b, o + 2);
  const hdr = (b[o + 12]! >> 4) * 4;
  const flags = u16(b, o + 12) & 0x0fff;
  layer.node.label = `Transmission Control Protocol, Src Port: ${sport}, Dst Port: ${dport}`;
  layer.field('Source Port', 'tcp.srcport', String(sport), o, 2);
  layer.field('Destination Port', 'tcp.dstport', String(dport), o + 2, 2);
  layer.field('Sequence Number (raw)', 'tcp.seq_raw', String(u32(b, o + 4)), o + 4, 4);
  layer.field('Acknowledgment number (raw)', 'tcp.ack_raw', String(u32(b, o + 8)), o + 8, 4);
  layer.field('Header Length', 'tcp.hdr_len', String(hdr), o + 12, 1, `${hdr} bytes`);
  layer.field('Flags', 'tcp.flags', hex(flags, 4), o + 12, 2);
  layer.field('Window', 'tcp.window_size_value', String(u16(b, o + 14)), o + 14, 2);
  layer.field('Checksum', 'tcp.checksum', hex(u16(b, o + 16), 4), o + 16, 2);
  layer.field('Urgent Pointer', 'tcp.urgent_pointer', String(u16(b, o + 18)), o + 18, 2);
  if (hdr < 20) return layer.stop('malformed', 'header length below 20', o + 12, end);
  if (end - o < hdr) return layer.stop('truncated', 'TCP options cut short', o + 20, end);
  layer.node.length = hdr;
  const p = o + hdr;
  layer.field('TCP Segment Len', 'tcp.len', String(end - p), o + 12, 1);
  if (p >= end) return;
  if ((sport === bgpPort || dport === bgpPort) && bgp(ctx, p, end)) return;
  if (httpStartLength(b, p, end) > 0) return http(ctx, p, end);
  ctx.layers.push({ label: `Data (${end - p} bytes)`, start: p - ctx.base, length: end - p });
}

function bgp(ctx: Context, o: number, end: number): boolean {
  const messages = bgpMessages(ctx.b, o, end);
  if (messages.length === 0) return false;
  for (const m of messages) {
    const length = Math.min(m.length, end - m.offset);
    const layer = new Layer(ctx.base, `Border Gateway Protocol - ${bgpTypeName(m.type)} Message`, m.offset, length);
    ctx.layers.push(layer.node);
    layer.field('Length', 'bgp.length', String(m.length), m.offset + 16, 2);
    layer.field('Type', 'bgp.type', String(m.type), m.offset + 18, 1, `${bgpTypeName(m.type)} Message (${m.type})`);
    const body = m.offset + 19;
    if (m.open) {
      layer.field('Version', 'bgp.open.version', String(m.open.version), body, 1);
      layer.field('My AS', 'bgp.open.myas', String(ctx.b[body + 1]! * 256 + ctx.b[body + 2]!), body + 1, 2);
      layer.field('Hold Time', 'bgp.open.holdtime', String(m.open.holdTime), body + 3, 2);
      layer.field('BGP Identifier', 'bgp.open.identifier', m.open.identifier, body + 5, 4);
      if (m.open.myAs > 65535 || m.open.myAs !== ctx.b[body + 1]! * 256 + ctx.b[body + 2]!) layer.text(`4-octet AS: ${m.open.myAs}`, body + 10, 0);
    }
    if (m.update) {
      for (const w of m.update.withdrawn) layer.field('Withdrawn route', 'bgp.withdrawn_prefix', w.text.split('/')[0]!, w.offset, w.length, w.text);
      for (const a of m.update.attributes) layer.text(`Path attribute type ${a.type}`, a.offset, a.length);
      if (m.update.nextHop) layer.text(`Next hop: ${m.update.nextHop}`, m.update.attributes.find((a) => a.type === 3)!.offset, 7);
      if (m.update.asPath) layer.text(`AS path: ${m.update.asPath.join(' ') || '(empty)'}`, m.update.attributes.find((a) => a.type === 2)!.offset, m.update.attributes.find((a) => a.type === 2)!.length);
      for (const n of m.update.nlri) layer.field('NLRI prefix', 'bgp.nlri_prefix', n.text.split('/')[0]!, n.offset, n.length, n.text);
    }
    if (m.notification) {
      layer.field('Major error Code', 'bgp.notify.major_error', String(m.notification.code), body, 1, `${notificationName(m.notification.code)} (${m.notification.code})`);
    }
    if (m.problem) layer.stop('malformed', m.problem, m.offset, m.offset);
    if (!m.complete) layer.stop('truncated', `message of ${m.length} bytes continues in the next segment`, end, end);
  }
  return true;
}

function http(ctx: Context, o: number, end: number): void {
  const { b } = ctx;
  const lineStop = lineEnd(b, o, end);
  let line = '';
  for (let i = o; i < lineStop; i++) line += String.fromCharCode(b[i]!);
  const layer = new Layer(ctx.base, 'Hypertext Transfer Protocol', o, end - o);
  ctx.layers.push(layer.node);
  const words = line.split(' ');
  if (line.startsWith('HTTP/')) {
    layer.field('Response Version', 'http.response.version', words[0] ?? '', o, (words[0] ?? '').length);
    layer.field('Status Code', 'http.response.code', words[1] ?? '', o + (words[0] ?? '').length + 1, (words[1] ?? '').length);
  } else {
    const [method = '', uri = '', version = ''] = words;
    layer.field('Request Method', 'http.request.method', method, o, method.length);
    layer.field('Request URI', 'http.request.uri', uri, o + method.length + 1, uri.length);
    layer.field('Request Version', 'http.request.version', version, o + method.length + uri.length + 2, version.length);
  }
  if (lineStop === end) layer.stop('truncated', 'the request line continues beyond the captured bytes', end, end);
}
