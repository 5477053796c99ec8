// The decoders on crafted packets (each mode's wire format, BGP messages, HTTP), the readers and
// writers (round trips, any chunking), and fuzzing: random and cut-off bytes decode as far as they
// go, are marked, and never throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CaptureReader, type CapturedPacket } from './capture-reader.ts';
import { concatParts, PcapngWriter, PcapWriter } from './capture-writer.ts';
import { dissect, PacketFacts } from './dissect.ts';
import { LinkType } from './linktypes.ts';
import { packetRecord } from './packet-record.ts';
import { packetTree, type TreeNode } from './packet-tree.ts';
import { summaryLine } from './summary.ts';
import * as B from './testing/packet-builder.ts';

function summarize(frame: Uint8Array, linkType: number = LinkType.Ethernet, origLen = frame.length): string {
  return summaryLine(dissect(frame, 0, frame.length, origLen, linkType, new PacketFacts()));
}

const get = B.ascii('GET /index.html HTTP/1.1\r\nHost: pod-3\r\n\r\n');
const innerTcp = B.ipv4('192.168.1.65', '192.168.3.1', 6, B.tcp(43512, 80, B.Tcp.psh | B.Tcp.ack, get));
const ipipFrame = B.ethernet(0x0800, B.ipv4('10.240.1.11', '10.240.2.13', 4, innerTcp));
const vxlanFrame = B.ethernet(0x0800, B.ipv4('10.240.1.11', '10.240.2.13', 17, B.udp(51234, 4789, B.vxlan(4096, B.ethernet(0x0800, innerTcp)))));
const directFrame = B.ethernet(0x0800, B.ipv4('192.168.1.65', '192.168.2.2', 6, B.tcp(43512, 80, B.Tcp.syn)));

describe('summaries read like the seed', () => {
  it('IP-in-IP: outer node addresses, then the pod addresses and the HTTP request line', () => {
    expect(summarize(ipipFrame)).toBe('IPIP 10.240.1.11 -> 10.240.2.13 | 192.168.1.65 -> 192.168.3.1 HTTP 43512 -> 80 [P.] len 41 GET /index.html HTTP/1.1');
  });

  it('IP-in-IP on tunl0 (raw IP link type) decodes the same', () => {
    expect(summarize(B.ipv4('10.240.1.11', '10.240.2.13', 4, innerTcp), LinkType.Raw)).toMatch(/^IPIP 10\.240\.1\.11 -> 10\.240\.2\.13 \| 192\.168\.1\.65 -> 192\.168\.3\.1 HTTP/);
  });

  it('VXLAN: the VNI and outer addresses, then the inner frame', () => {
    expect(summarize(vxlanFrame)).toBe('VXLAN VNI 4096 10.240.1.11 -> 10.240.2.13 | 192.168.1.65 -> 192.168.3.1 HTTP 43512 -> 80 [P.] len 41 GET /index.html HTTP/1.1');
  });

  it('direct: plain pod addresses', () => {
    expect(summarize(directFrame)).toBe('direct | 192.168.1.65 -> 192.168.2.2 TCP 43512 -> 80 [S] len 0');
  });

  it('ARP and ICMP', () => {
    expect(summarize(B.ethernet(0x0806, B.arpRequest('10.240.1.11', '10.240.1.1')))).toBe('direct | 10.240.1.11 -> 10.240.1.1 ARP who-has 10.240.1.1 tell 10.240.1.11');
    expect(summarize(B.ethernet(0x0800, B.ipv4('10.0.0.1', '10.0.0.2', 1, B.icmpEcho(8, 7, 3))))).toBe('direct | 10.0.0.1 -> 10.0.0.2 ICMP echo request id 7 seq 3');
  });

  it('BGP: OPEN, UPDATE with prefixes and next hop, KEEPALIVE and NOTIFICATION in one segment', () => {
    const payload = B.concat(B.bgpOpen(64512, 90, '10.240.1.11'), B.bgpUpdate(['192.168.1.64/26', '192.168.2.0/26'], '10.240.1.11', ['192.168.9.0/24']), B.bgpKeepalive(), B.bgpNotification(6, 2));
    const line = summarize(B.ethernet(0x0800, B.ipv4('10.240.1.11', '10.240.1.12', 6, B.tcp(179, 40000, B.Tcp.psh | B.Tcp.ack, payload))));
    expect(line).toBe(
      `direct | 10.240.1.11 -> 10.240.1.12 BGP 179 -> 40000 [P.] len ${payload.length} OPEN AS 64512 hold 90 ID 10.240.1.11, UPDATE +192.168.1.64/26 +192.168.2.0/26 via 10.240.1.11 -192.168.9.0/24, KEEPALIVE, NOTIFICATION 6/2 Cease`,
    );
  });

  it('marks a packet cut by the snap length as truncated, keeping what was read', () => {
    const cut = vxlanFrame.slice(0, 14 + 20 + 8 + 8 + 14 + 20 + 4);
    expect(summarize(cut, LinkType.Ethernet, vxlanFrame.length)).toBe('VXLAN VNI 4096 10.240.1.11 -> 10.240.2.13 | 192.168.1.65 -> 192.168.3.1 TCP 43512 -> 80 [truncated]');
  });

  it('marks an impossible header as malformed', () => {
    const bad = directFrame.slice();
    bad[14] = 0x43; // IHL 3
    expect(summarize(bad)).toBe('direct | 192.168.1.65 -> 192.168.2.2 TCP [malformed: IPv4 header length below 20]');
  });
});

describe('detail tree', () => {
  it('has byte ranges that point at each field in the packet', () => {
    const tree = packetTree(vxlanFrame, 0, vxlanFrame.length, vxlanFrame.length, LinkType.Ethernet);
    const fields: TreeNode[] = [];
    const walk = (nodes: TreeNode[]) => nodes.forEach((n) => (n.field ? fields.push(n) : undefined, n.children && walk(n.children)));
    walk(tree);
    const vni = fields.find((f) => f.field === 'vxlan.vni')!;
    expect(vni.value).toBe('4096');
    expect([...vxlanFrame.subarray(vni.start, vni.start + vni.length)]).toEqual([0, 0x10, 0]);
    const srcs = fields.filter((f) => f.field === 'ip.src').map((f) => f.value);
    expect(srcs).toEqual(['10.240.1.11', '192.168.1.65']);
    expect(fields.find((f) => f.field === 'http.request.uri')!.value).toBe('/index.html');
  });
});

function readAll(bytes: Uint8Array, chunkSizes: number[] = [bytes.length]): { packets: Array<{ data: number[]; tsSec: number; tsNsec: number; linkType: number; iface: number }>; reader: CaptureReader } {
  const reader = new CaptureReader();
  const packets: Array<{ data: number[]; tsSec: number; tsNsec: number; linkType: number; iface: number }> = [];
  const take = (p: CapturedPacket) => packets.push({ data: [...p.bytes.subarray(p.offset, p.offset + p.caplen)], tsSec: p.tsSec, tsNsec: p.tsNsec, linkType: p.linkType, iface: p.interfaceIndex });
  let o = 0;
  let i = 0;
  while (o < bytes.length) {
    const n = Math.max(1, chunkSizes[i++ % chunkSizes.length]!);
    reader.push(bytes.subarray(o, o + n), take);
    o += n;
  }
  return { packets, reader };
}

describe('pcap and pcapng', () => {
  const frames = [ipipFrame, vxlanFrame, directFrame];

  it('pcap round trip: the same bytes and timestamps, whatever the chunking', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 10 }), (chunks) => {
        const w = new PcapWriter(LinkType.Ethernet);
        frames.forEach((f, i) => w.add({ bytes: f, offset: 0, caplen: f.length, origLen: f.length, tsSec: 1_795_000_000 + i, tsNsec: 123_456_000 }));
        const { packets, reader } = readAll(concatParts(w.parts), chunks);
        expect(reader.error).toBeUndefined();
        expect(reader.heldBytes).toBe(0);
        expect(packets.map((p) => p.data)).toEqual(frames.map((f) => [...f]));
        expect(packets.map((p) => [p.tsSec, p.tsNsec])).toEqual(frames.map((_, i) => [1_795_000_000 + i, 123_456_000]));
      }),
    );
  });

  it('pcapng round trip: interfaces with names and filters, nanosecond timestamps', () => {
    const w = new PcapngWriter({ comment: 'worker-1' });
    const a = w.addInterface({ linkType: LinkType.Ethernet, name: 'ens5', filter: 'ip proto 4', comment: 'node worker-1' });
    const b = w.addInterface({ linkType: LinkType.Raw, name: 'tunl0' });
    w.add(a, { bytes: ipipFrame, offset: 0, caplen: ipipFrame.length, origLen: ipipFrame.length, tsSec: 1_795_681_863, tsNsec: 999_999_999 });
    w.add(b, { bytes: innerTcp, offset: 0, caplen: innerTcp.length, origLen: innerTcp.length, tsSec: 1_795_681_864, tsNsec: 1 });
    const { packets, reader } = readAll(concatParts(w.parts), [7, 13, 64]);
    expect(reader.error).toBeUndefined();
    expect(reader.comments).toEqual(['worker-1']);
    expect(reader.interfaces.map((i) => [i.name, i.filter, i.comment, i.linkType])).toEqual([
      ['ens5', 'ip proto 4', 'node worker-1', LinkType.Ethernet],
      ['tunl0', undefined, undefined, LinkType.Raw],
    ]);
    expect(packets.map((p) => [p.iface, p.linkType, p.tsSec, p.tsNsec])).toEqual([
      [0, LinkType.Ethernet, 1_795_681_863, 999_999_999],
      [1, LinkType.Raw, 1_795_681_864, 1],
    ]);
    expect(packets[1]!.data).toEqual([...innerTcp]);
  });

  it('says clearly when a file is not a capture', () => {
    const { reader } = readAll(B.ascii('hello world, not a capture'));
    expect(reader.error).toBe('Not a pcap or pcapng file: it starts with 0x68656c6c.');
  });

  it('stops at a corrupt record length instead of allocating it', () => {
    const w = new PcapWriter(LinkType.Ethernet);
    w.add({ bytes: directFrame, offset: 0, caplen: directFrame.length, origLen: directFrame.length, tsSec: 1, tsNsec: 0 });
    const bytes = concatParts(w.parts);
    new DataView(bytes.buffer).setUint32(24 + 8, 0x7fffffff, true);
    expect(readAll(bytes).reader.error).toMatch(/^Corrupt pcap: a record claims 2147483647 bytes/);
  });
});

describe('fuzzing', () => {
  const linkTypes = [LinkType.Ethernet, LinkType.Raw, LinkType.LinuxSll, LinkType.LinuxSll2, LinkType.Null];

  it('random bytes never throw, in the summary, the record or the tree', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(...linkTypes), (bytes, linkType) => {
        const facts = dissect(bytes, 0, bytes.length, bytes.length, linkType, new PacketFacts());
        expect(typeof summaryLine(facts)).toBe('string');
        packetRecord(1, { tsSec: 0, tsNsec: 0 }, facts);
        packetTree(bytes, 0, bytes.length, bytes.length, linkType);
      }),
      { numRuns: 3000 },
    );
  });

  it('valid packets cut anywhere or with a byte changed decode as far as they go and are marked when cut', () => {
    const bgp = B.ethernet(0x0800, B.ipv4('10.0.0.1', '10.0.0.2', 6, B.tcp(179, 4000, 24, B.concat(B.bgpOpen(64512, 90, '10.0.0.1'), B.bgpUpdate(['192.168.0.0/26'], '10.0.0.1')))));
    const arp = B.ethernet(0x0806, B.arpRequest('10.0.0.1', '10.0.0.2'));
    fc.assert(
      fc.property(fc.constantFrom(ipipFrame, vxlanFrame, directFrame, bgp, arp), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), (frame, cutAt, at, value) => {
        const cut = frame.slice(0, cutAt % (frame.length + 1));
        const facts = dissect(cut, 0, cut.length, frame.length, LinkType.Ethernet, new PacketFacts());
        const line = summaryLine(facts);
        if (cut.length < frame.length) expect(line).toMatch(/\[truncated\]|\[malformed/);
        packetTree(cut, 0, cut.length, frame.length, LinkType.Ethernet);
        const changed = frame.slice();
        changed[at % frame.length] = value;
        summaryLine(dissect(changed, 0, changed.length, changed.length, LinkType.Ethernet, facts));
        packetTree(changed, 0, changed.length, changed.length, LinkType.Ethernet);
      }),
      { numRuns: 3000 },
    );
  });

  it('random capture files never throw: they read or stop with an error', () => {
    const w = new PcapngWriter();
    w.addInterface({ linkType: LinkType.Ethernet, name: 'eth0' });
    w.add(0, { bytes: vxlanFrame, offset: 0, caplen: vxlanFrame.length, origLen: vxlanFrame.length, tsSec: 1, tsNsec: 2 });
    const good = concatParts(w.parts);
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }), (at, value, chunks) => {
        const bytes = good.slice();
        bytes[at % bytes.length] = value;
        readAll(bytes, chunks);
      }),
      { numRuns: 2000 },
    );
  });
});
