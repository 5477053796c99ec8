// BGP messages in a TCP segment's payload (RFC 4271): OPEN, UPDATE with its prefixes and next
// hop, KEEPALIVE, NOTIFICATION, ROUTE-REFRESH. Used for summaries and the detail tree of BGP
// packets only (they are few), so plain objects are fine here. A message cut by the segment end
// is reported as incomplete, with what could be read.
import { ipv4Text } from './ipv4-text.ts';

export const BgpType = { Open: 1, Update: 2, Notification: 3, Keepalive: 4, RouteRefresh: 5 } as const;
const typeNames = ['', 'OPEN', 'UPDATE', 'NOTIFICATION', 'KEEPALIVE', 'ROUTE-REFRESH'];

export interface BgpPrefix {
  text: string;
  offset: number;
  length: number;
}

export interface BgpMessage {
  type: number;
  offset: number;
  /** The length field; bytes present may be fewer when `complete` is false. */
  length: number;
  complete: boolean;
  problem?: string;
  open?: { version: number; myAs: number; holdTime: number; identifier: string };
  update?: { withdrawn: BgpPrefix[]; nlri: BgpPrefix[]; origin?: number; asPath?: number[]; nextHop?: string; attributes: { type: number; offset: number; length: number }[] };
  notification?: { code: number; subcode: number };
}

export function bgpTypeName(type: number): string {
  return typeNames[type] ?? `type ${type}`;
}

const notificationNames: Record<number, string> = {
  1: 'Message Header Error',
  2: 'OPEN Message Error',
  3: 'UPDATE Message Error',
  4: 'Hold Timer Expired',
  5: 'Finite State Machine Error',
  6: 'Cease',
};

export function notificationName(code: number): string {
  return notificationNames[code] ?? `error ${code}`;
}

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function prefixes(b: Uint8Array, o: number, end: number): { list: BgpPrefix[]; ok: boolean } {
  const list: BgpPrefix[] = [];
  let p = o;
  while (p < end) {
    const bits = b[p]!;
    const n = (bits + 7) >> 3;
    if (bits > 32 || p + 1 + n > end) return { list, ok: false };
    let address = 0;
    for (let i = 0; i < 4; i++) address = (address << 8) | (i < n ? b[p + 1 + i]! : 0);
    list.push({ text: `${ipv4Text(address >>> 0)}/${bits}`, offset: p, length: 1 + n });
    p += 1 + n;
  }
  return { list, ok: true };
}

/** An AS_PATH whose ASNs are 4 or 2 octets: the one whose segment lengths add up exactly. */
function asPath(b: Uint8Array, o: number, end: number): number[] | undefined {
  for (const width of [4, 2]) {
    const asns: number[] = [];
    let p = o;
    let ok = true;
    while (p < end) {
      if (end - p < 2) {
        ok = false;
        break;
      }
      const count = b[p + 1]!;
      if (p + 2 + count * width > end) {
        ok = false;
        break;
      }
      for (let i = 0; i < count; i++) asns.push(width === 4 ? u32(b, p + 2 + i * 4) : u16(b, p + 2 + i * 2));
      p += 2 + count * width;
    }
    if (ok) return asns;
  }
  return undefined;
}

function update(b: Uint8Array, o: number, end: number, message: BgpMessage): void {
  const u: NonNullable<BgpMessage['update']> = { withdrawn: [], nlri: [], attributes: [] };
  message.update = u;
  if (end - o < 2) return void (message.problem = 'UPDATE shorter than its withdrawn-routes length');
  const withdrawnLength = u16(b, o);
  const withdrawnEnd = o + 2 + withdrawnLength;
  if (withdrawnEnd + 2 > end) return void (message.problem = 'withdrawn-routes length beyond the message');
  const w = prefixes(b, o + 2, withdrawnEnd);
  u.withdrawn = w.list;
  if (!w.ok) message.problem = 'a withdrawn prefix is malformed';
  const attributesLength = u16(b, withdrawnEnd);
  const attributesEnd = withdrawnEnd + 2 + attributesLength;
  if (attributesEnd > end) return void (message.problem = 'path attributes length beyond the message');
  let p = withdrawnEnd + 2;
  while (p < attributesEnd) {
    if (attributesEnd - p < 3) return void (message.problem = 'a path attribute is cut short');
    const flags = b[p]!;
    const type = b[p + 1]!;
    const extended = (flags & 0x10) !== 0;
    if (extended && attributesEnd - p < 4) return void (message.problem = 'a path attribute is cut short');
    const length = extended ? u16(b, p + 2) : b[p + 2]!;
    const value = p + (extended ? 4 : 3);
    if (value + length > attributesEnd) return void (message.problem = 'a path attribute is longer than the attributes');
    u.attributes.push({ type, offset: p, length: value + length - p });
    if (type === 1 && length >= 1) u.origin = b[value]!;
    else if (type === 2) u.asPath = asPath(b, value, value + length);
    else if (type === 3 && length === 4) u.nextHop = ipv4Text(u32(b, value));
    p = value + length;
  }
  const n = prefixes(b, attributesEnd, end);
  u.nlri = n.list;
  if (!n.ok) message.problem = 'an NLRI prefix is malformed';
}

export function bgpMessages(b: Uint8Array, start: number, end: number): BgpMessage[] {
  const out: BgpMessage[] = [];
  let o = start;
  while (end - o >= 19) {
    for (let i = 0; i < 16; i++) {
      if (b[o + i] !== 0xff) return out; // not at a message boundary (a continued segment)
    }
    const length = u16(b, o + 16);
    const type = b[o + 18]!;
    const message: BgpMessage = { type, offset: o, length, complete: true };
    out.push(message);
    if (length < 19 || length > 65535) {
      message.problem = `message length ${length} below the 19-octet header`;
      return out;
    }
    const messageEnd = Math.min(end, o + length);
    if (o + length > end) message.complete = false;
    const body = o + 19;
    if (type === BgpType.Open && messageEnd - body >= 10) {
      message.open = { version: b[body]!, myAs: u16(b, body + 1), holdTime: u16(b, body + 3), identifier: ipv4Text(u32(b, body + 5)) };
      // A 4-octet AS travels in capability 65; show it rather than AS_TRANS.
      const as4 = openAs4(b, body + 10, messageEnd);
      if (as4 !== undefined) message.open.myAs = as4;
    } else if (type === BgpType.Update) update(b, body, messageEnd, message);
    else if (type === BgpType.Notification && messageEnd - body >= 2) message.notification = { code: b[body]!, subcode: b[body + 1]! };
    if (!message.complete) return out;
    o += length;
  }
  return out;
}

function openAs4(b: Uint8Array, o: number, end: number): number | undefined {
  const optionalLength = b[o];
  if (optionalLength === undefined) return undefined;
  let p = o + 1;
  const stop = Math.min(end, p + optionalLength);
  while (stop - p >= 2) {
    const paramType = b[p]!;
    const paramLength = b[p + 1]!;
    if (paramType === 2) {
      let c = p + 2;
      const capEnd = Math.min(stop, c + paramLength);
      while (capEnd - c >= 2) {
        if (b[c] === 65 && b[c + 1] === 4 && capEnd - c >= 6) return u32(b, c + 2);
        c += 2 + b[c + 1]!;
      }
    }
    p += 2 + paramLength;
  }
  return undefined;
}

function prefixList(sign: string, list: BgpPrefix[]): string {
  const shown = list.slice(0, 3).map((p) => sign + p.text);
  if (list.length > 3) shown.push(`and ${list.length - 3} more`);
  return shown.join(' ');
}

/** One message in a line: "UPDATE +192.168.1.0/26 via 10.240.1.11", "OPEN AS 64512 hold 90 ID 10.240.1.11". */
export function bgpMessageText(m: BgpMessage): string {
  let text = bgpTypeName(m.type);
  if (m.open) text += ` AS ${m.open.myAs} hold ${m.open.holdTime} ID ${m.open.identifier}`;
  else if (m.update) {
    const parts: string[] = [];
    if (m.update.nlri.length > 0) parts.push(prefixList('+', m.update.nlri) + (m.update.nextHop ? ` via ${m.update.nextHop}` : ''));
    if (m.update.withdrawn.length > 0) parts.push(prefixList('-', m.update.withdrawn));
    if (parts.length === 0 && m.update.attributes.length === 0) parts.push('End-of-RIB');
    if (parts.length > 0) text += ` ${parts.join(' ')}`;
  } else if (m.notification) text += ` ${m.notification.code}/${m.notification.subcode} ${notificationName(m.notification.code)}`;
  if (!m.complete) text += ' (continues in the next segment)';
  return text;
}
