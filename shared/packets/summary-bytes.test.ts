// The byte writer `npm run decode` prints with says exactly what summary.ts says, line for line:
// on every kind of packet the decoders know (each mode's encapsulation, TCP with and without
// payload, HTTP, BGP, UDP, ICMP echo and the rest, ARP, IPv6, truncated and malformed ones), on
// those packets with a byte changed anywhere, on random bytes, and for times of day.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dissect, PacketFacts } from './dissect.ts';
import { LinkType } from './linktypes.ts';
import { SummaryBytes } from './summary-bytes.ts';
import { summaryLine, timeOfDay } from './summary.ts';
import * as B from './testing/packet-builder.ts';

const facts = new PacketFacts();
const latin1 = (b: Uint8Array) => Array.from(b, (c) => String.fromCharCode(c)).join('');

/** What summary.ts says and what the byte writer wrote, for one packet. */
function both(frame: Uint8Array, linkType: number = LinkType.Ethernet, caplen = frame.length, origLen = frame.length, tsSec = 1_795_681_863, tsNsec = 123_456_789): [string, string] {
  const f = dissect(frame, 0, caplen, origLen, linkType, facts);
  const expected = `${timeOfDay(tsSec, tsNsec)} ${summaryLine(f)}\n`;
  const writer = new SummaryBytes(64);
  writer.line(f, tsSec, tsNsec);
  return [latin1(writer.take()), expected];
}

const get = B.ascii('GET /index.html HTTP/1.1\r\nHost: pod-3\r\n\r\n');
const tcpIn = (flags: number, payload?: Uint8Array, dport = 80) => B.ipv4('192.168.1.65', '192.168.3.1', 6, B.tcp(43512, dport, flags, payload));
const wrap = (inner: Uint8Array) => [
  B.ethernet(0x0800, inner),
  B.ethernet(0x0800, B.ipv4('10.240.1.11', '10.240.2.13', 4, inner)),
  B.ethernet(0x0800, B.ipv4('10.240.1.11', '10.240.2.13', 17, B.udp(51234, 4789, B.vxlan(4096, B.ethernet(0x0800, inner))))),
];
const inners = [
  tcpIn(B.Tcp.psh | B.Tcp.ack, get),
  tcpIn(B.Tcp.syn),
  tcpIn(B.Tcp.ack, new Uint8Array(200)),
  tcpIn(B.Tcp.fin | B.Tcp.ack | B.Tcp.rst | 0x1e0),
  tcpIn(B.Tcp.psh | B.Tcp.ack, B.bgpOpen(64512, 90, '10.240.1.11'), 179),
  tcpIn(B.Tcp.psh | B.Tcp.ack, B.concat(B.bgpUpdate(['192.168.3.0/26'], '10.240.2.13', ['192.168.9.0/26']), B.bgpKeepalive()), 179),
  tcpIn(B.Tcp.psh | B.Tcp.ack, B.bgpNotification(6, 2), 179),
  tcpIn(B.Tcp.psh | B.Tcp.ack, B.ascii('POST /\xe9\x01\x7f HTTP/1.1\r\n'), 80),
  B.ipv4('192.168.1.65', '192.168.3.1', 17, B.udp(5353, 53, new Uint8Array(33))),
  B.ipv4('192.168.1.65', '192.168.3.1', 1, B.icmpEcho(8, 7, 1)),
  B.ipv4('192.168.3.1', '192.168.1.65', 1, B.icmpEcho(0, 65535, 65535)),
  B.ipv4('192.168.3.1', '192.168.1.65', 1, Uint8Array.of(3, 3, 0, 0, 0, 0, 0, 0)),
  B.ipv4('192.168.3.1', '192.168.1.65', 1, Uint8Array.of(11, 0, 0, 0, 0, 0, 0, 0)),
  B.ipv4('192.168.3.1', '192.168.1.65', 1, Uint8Array.of(5, 1, 0, 0, 0, 0, 0, 0)),
  B.ipv4('192.168.1.65', '192.168.3.1', 47, new Uint8Array(8)),
  B.ipv4('192.168.1.65', '192.168.3.1', 6, B.tcp(1, 2, B.Tcp.ack), { flags: 0x2001 }),
  B.ipv4('255.255.255.255', '0.0.0.0', 17, B.udp(0, 65535, new Uint8Array(0))),
];
const frames = [
  ...inners.flatMap(wrap),
  B.ethernet(0x0806, B.arpRequest('10.240.1.11', '10.240.1.1')),
  B.ethernet(0x86dd, new Uint8Array(40)),
  B.ethernet(0x88cc, new Uint8Array(20)),
  new Uint8Array(10),
];

describe('SummaryBytes writes what summary.ts says', () => {
  it('on every kind of packet, whole, raw IP (tunl0) and cooked (any)', () => {
    for (const frame of frames) {
      const [written, expected] = both(frame);
      expect(written).toBe(expected);
    }
    for (const inner of inners) {
      const [written, expected] = both(inner, LinkType.Raw);
      expect(written).toBe(expected);
    }
    for (const frame of frames) {
      const [written, expected] = both(frame, 999);
      expect(written).toBe(expected);
    }
  });

  it('on truncated packets (caplen below the length): every cut of every packet', () => {
    for (const frame of frames) {
      for (let caplen = 0; caplen < frame.length; caplen += 3) {
        const [written, expected] = both(frame, LinkType.Ethernet, caplen, frame.length);
        expect(written).toBe(expected);
      }
    }
  });

  it('on those packets with any byte changed, and on random bytes', () => {
    fc.assert(
      fc.property(fc.nat(frames.length - 1), fc.nat(), fc.integer({ min: 0, max: 255 }), (which, where, value) => {
        const frame = frames[which]!.slice();
        frame[where % frame.length] = value;
        const [written, expected] = both(frame);
        expect(written).toBe(expected);
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(LinkType.Ethernet, LinkType.Raw, 113, 276), (frame, linkType) => {
        const [written, expected] = both(frame, linkType);
        expect(written).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('times of day as timeOfDay writes them, the odd ones too', () => {
    const times = [
      [0, 0],
      [86399, 999_999_999],
      [1_795_681_863, 5_000],
      [1_795_681_863, 1_500_000_000],
      [-5, 0],
      [12.5, 0],
    ] as const;
    for (const [s, ns] of times) {
      const [written, expected] = both(frames[0]!, LinkType.Ethernet, frames[0]!.length, frames[0]!.length, s, ns);
      expect(written).toBe(expected);
    }
  });

  it('lines past the buffer grow it, and take() hands the bytes over and starts again', () => {
    const writer = new SummaryBytes(16);
    const f = dissect(frames[0]!, 0, frames[0]!.length, frames[0]!.length, LinkType.Ethernet, facts);
    for (let i = 0; i < 100; i++) writer.line(f, 1_795_681_863, i * 1000);
    const first = latin1(writer.take());
    expect(first.split('\n')).toHaveLength(101);
    expect(first.split('\n')[99]).toBe(`${timeOfDay(1_795_681_863, 99_000)} ${summaryLine(f)}`);
    expect(writer.length).toBe(0);
    writer.line(f, 0, 0);
    expect(latin1(writer.take())).toBe(`00:00:00.000000 ${summaryLine(f)}\n`);
  });
});
