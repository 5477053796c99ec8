// Builds wire-format packets for unit tests, fuzzing and the benchmark's generated capture:
// Ethernet, IPv4 (with a correct header checksum), IP-in-IP, UDP, VXLAN, TCP, ICMP, ARP and BGP.

export function ip(text: string): number {
  const [a, b, c, d] = text.split('.').map(Number) as [number, number, number, number];
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const macA = Uint8Array.of(0x02, 0, 0, 0, 0, 0x01);
const macB = Uint8Array.of(0x02, 0, 0, 0, 0, 0x02);

export function ethernet(type: number, payload: Uint8Array, dst = macB, src = macA): Uint8Array {
  const h = new Uint8Array(14);
  h.set(dst, 0);
  h.set(src, 6);
  h[12] = type >> 8;
  h[13] = type & 255;
  return concat(h, payload);
}

export function ipv4(src: string, dst: string, proto: number, payload: Uint8Array, options: { ttl?: number; id?: number; flags?: number } = {}): Uint8Array {
  const h = new Uint8Array(20);
  const view = new DataView(h.buffer);
  h[0] = 0x45;
  view.setUint16(2, 20 + payload.length);
  view.setUint16(4, options.id ?? 0x1234);
  view.setUint16(6, (options.flags ?? 2) << 13);
  h[8] = options.ttl ?? 64;
  h[9] = proto;
  view.setUint32(12, ip(src));
  view.setUint32(16, ip(dst));
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += view.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  view.setUint16(10, ~sum & 0xffff);
  return concat(h, payload);
}

export function udp(sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const h = new Uint8Array(8);
  const view = new DataView(h.buffer);
  view.setUint16(0, sport);
  view.setUint16(2, dport);
  view.setUint16(4, 8 + payload.length);
  return concat(h, payload);
}

export function vxlan(vni: number, frame: Uint8Array): Uint8Array {
  const h = new Uint8Array(8);
  h[0] = 0x08;
  h[4] = (vni >> 16) & 255;
  h[5] = (vni >> 8) & 255;
  h[6] = vni & 255;
  return concat(h, frame);
}

export const Tcp = { fin: 1, syn: 2, rst: 4, psh: 8, ack: 16 } as const;

export function tcp(sport: number, dport: number, flags: number, payload: Uint8Array = new Uint8Array(0), seq = 1000, ack = 0): Uint8Array {
  const h = new Uint8Array(20);
  const view = new DataView(h.buffer);
  view.setUint16(0, sport);
  view.setUint16(2, dport);
  view.setUint32(4, seq);
  view.setUint32(8, ack);
  h[12] = 5 << 4;
  h[13] = flags;
  view.setUint16(14, 64240);
  return concat(h, payload);
}

export function icmpEcho(type: 8 | 0, id: number, seq: number): Uint8Array {
  const h = new Uint8Array(16);
  h[0] = type;
  h[4] = id >> 8;
  h[5] = id & 255;
  h[6] = seq >> 8;
  h[7] = seq & 255;
  return h;
}

export function arpRequest(sender: string, target: string): Uint8Array {
  const h = new Uint8Array(28);
  const view = new DataView(h.buffer);
  view.setUint16(0, 1);
  view.setUint16(2, 0x0800);
  h[4] = 6;
  h[5] = 4;
  view.setUint16(6, 1);
  h.set(macA, 8);
  view.setUint32(14, ip(sender));
  view.setUint32(24, ip(target));
  return h;
}

export function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function bgpMessage(type: number, body: Uint8Array): Uint8Array {
  const h = new Uint8Array(19).fill(0xff);
  h[16] = (19 + body.length) >> 8;
  h[17] = (19 + body.length) & 255;
  h[18] = type;
  return concat(h, body);
}

export function bgpKeepalive(): Uint8Array {
  return bgpMessage(4, new Uint8Array(0));
}

export function bgpOpen(as: number, hold: number, id: string): Uint8Array {
  const b = new Uint8Array(10);
  const view = new DataView(b.buffer);
  b[0] = 4;
  view.setUint16(1, as);
  view.setUint16(3, hold);
  view.setUint32(5, ip(id));
  return bgpMessage(1, b);
}

function prefixBytes(prefix: string): Uint8Array {
  const [address, bits] = prefix.split('/') as [string, string];
  const n = (Number(bits) + 7) >> 3;
  const a = ip(address);
  return Uint8Array.from([Number(bits), ...[a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].slice(0, n)]);
}

export function bgpUpdate(nlri: string[], nextHop: string, withdrawn: string[] = []): Uint8Array {
  const w = concat(...withdrawn.map(prefixBytes));
  const attrs = concat(
    Uint8Array.of(0x40, 1, 1, 0), // ORIGIN IGP
    Uint8Array.of(0x40, 2, 6, 2, 1, 0, 0, 0xfc, 0x00), // AS_PATH: AS_SEQUENCE 64512 (4 octets)
    concat(Uint8Array.of(0x40, 3, 4), (() => {
      const a = ip(nextHop);
      return Uint8Array.of(a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255);
    })()),
  );
  const body = concat(Uint8Array.of(w.length >> 8, w.length & 255), w, Uint8Array.of(attrs.length >> 8, attrs.length & 255), attrs, ...nlri.map(prefixBytes));
  return bgpMessage(2, body);
}

export function bgpNotification(code: number, subcode: number): Uint8Array {
  return bgpMessage(3, Uint8Array.of(code, subcode));
}

export { concat };
