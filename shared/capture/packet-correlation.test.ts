// The correlation core on real captures: the lab's flow captures of pod-1 -> pod-3 in IP-in-IP (the
// user-space tunl0) and VXLAN, as the console exported them (testdata/README.md says how they were
// made). Every packet is matched at every hop both ways; packets taken out of a hop's capture turn
// into vanished or missed journeys with the right last hop; a retransmission is told from the
// original by its IP ID; the export's SLL2 is rewritten as SLL for older Wireshark.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CaptureReader } from '../packets/capture-reader.ts';
import { concatParts, type PacketToWrite } from '../packets/capture-writer.ts';
import { dissect, PacketFacts } from '../packets/dissect.ts';
import { LinkType } from '../packets/linktypes.ts';
import { exportFlow, readFlowCapture, sll2ToSll, type FlowExportSource } from './flow-export.ts';
import type { FlowPlan } from './flow-hops.ts';
import { correlateFlow, type Correlation, type CorrelationSource, type Journey } from './packet-correlation.ts';

const testdata = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testdata');
const load = (name: string) => readFlowCapture(new Uint8Array(readFileSync(path.join(testdata, name))));

/** A point's capture with some packets taken out (as if that hop never saw them). */
function without(source: FlowExportSource, drop: (index: number, p: PacketToWrite) => boolean): FlowExportSource {
  const kept: number[] = [];
  for (let i = 0; i < source.count; i++) if (!drop(i, source.get(i))) kept.push(i);
  return { ...source, count: kept.length, get: (i, out) => source.get(kept[i]!, out) };
}

/** A point's capture with one packet added at the end (its bytes changed by `edit`). */
function withExtra(source: FlowExportSource, index: number, edit: (bytes: Uint8Array) => void): FlowExportSource {
  const p = source.get(index);
  const bytes = p.bytes.slice(p.offset, p.offset + p.caplen);
  edit(bytes);
  const extra: PacketToWrite = { ...p, bytes, offset: 0, tsNsec: (p.tsNsec + 1000) % 1e9 };
  return { ...source, count: source.count + 1, get: (i, out) => (i === source.count ? Object.assign(out ?? ({} as PacketToWrite), extra) : source.get(i, out)) };
}

const facts = new PacketFacts();
const innerOf = (source: CorrelationSource, p: PacketToWrite) => dissect(p.bytes, p.offset, p.caplen, p.origLen, source.linkType, facts);
const names = (plan: FlowPlan, hops: number[]) => hops.map((h) => plan.points[h]!.name);
const echoes = (c: Correlation, direction: Journey['direction'], kind: 'request' | 'reply') => c.journeys.filter((j) => j.direction === direction && j.summary.includes(`echo ${kind}`));

describe('correlateFlow on the lab: IP-in-IP through the user-space tunl0', () => {
  const { plan, sources } = load('ipip-pod1-pod3.pcapng');
  const c = correlateFlow(plan, sources);

  it('follows both directions through six hops each, the way back reversed', () => {
    expect(names(plan, plan.forward.hops).map((n) => n.replace(/cali[0-9a-f]+$/, 'cali'))).toEqual(['worker-1/cali', 'worker-1/tunl0', 'worker-1/ens5', 'worker-3/ens5', 'worker-3/tunl0', 'worker-3/cali']);
    expect(plan.reverse.hops).toEqual([...plan.forward.hops].reverse());
  });

  it('matches every packet at every hop, both ways', () => {
    expect(c.unmatched).toEqual([0, 0, 0, 0, 0, 0]);
    for (const d of c.directions) {
      expect(d.complete).toBe(d.journeys);
      expect(d.seen).toEqual(d.hops.map(() => d.journeys));
    }
    expect(c.directions.map((d) => d.journeys)).toEqual([27, 38]);
    // Every packet of every capture belongs to a journey.
    for (const m of c.membership) for (let i = 0; i < m.length; i += 2) expect(m[i]).toBeGreaterThan(0);
  });

  it("shows one ping's path hop by hop: the outer header on the underlay, the time rising at each hop", () => {
    const [first] = echoes(c, 'forward', 'request');
    expect(first!.summary).toMatch(/^192\.168\.0\.1 -> 192\.168\.0\.129 ICMP echo request id \d+ seq 1$/);
    expect(first!.hops.map((h) => h?.outer ?? '')).toEqual(['', '', 'IPIP 10.240.1.11 -> 10.240.2.13', 'IPIP 10.240.1.11 -> 10.240.2.13', '', '']);
    expect(first!.record).toMatchObject({ encap: 'IPIP', outerSrc: '10.240.1.11', outerDst: '10.240.2.13', proto: 'ICMP' });
    const t = first!.hops.map((h) => h!.t);
    expect(t.every((x, i) => i === 0 || x > t[i - 1]!)).toBe(true);
    expect(echoes(c, 'forward', 'request')).toHaveLength(5);
    expect(echoes(c, 'reverse', 'reply')).toHaveLength(5);
    expect(echoes(c, 'reverse', 'reply')[0]!.hops[2]!.outer).toBe('IPIP 10.240.2.13 -> 10.240.1.11');
  });

  it("follows the pod's TSO super-packets as the tunnel cuts them into wire segments (by sequence range and IP ID)", () => {
    const data = c.journeys.filter((j) => j.direction === 'forward' && j.record.dport === 5001 && / seq \d+:\d+/.test(j.summary));
    expect(dataBytes(data)).toBe(300_000);
    const split = data.filter((j) => j.hops[2]!.shape === 'split');
    expect(split.length).toBeGreaterThan(5);
    for (const j of split) {
      expect(j.hops[0]!.count).toBe(1);
      expect(j.hops[2]!.count).toBeGreaterThan(1);
      expect(j.hops.every((h) => h!.coverage === 1)).toBe(true);
    }
    // The far tunnel joins segments again (receive coalescing): fewer packets than the wire carried.
    expect(data.some((j) => j.hops[4]!.count < j.hops[3]!.count)).toBe(true);
  });

  it('shows a packet lost on the far node with the last hop that saw it', () => {
    // The third echo request never reaches pod-3's veth: as if worker-3 dropped it after decapsulating.
    const veth3 = plan.forward.hops[5]!;
    const seq3 = (s: CorrelationSource, p: PacketToWrite) => innerOf(s, p).icmpType === 8 && ((p.bytes[facts.icmpOffset + 6]! << 8) | p.bytes[facts.icmpOffset + 7]!) === 3;
    const lost = sources.map((s, i) => (i === veth3 ? without(s, (_, p) => seq3(s, p)) : s));
    const r = correlateFlow(plan, lost);
    const vanished = r.journeys.filter((j) => j.status === 'vanished');
    expect(vanished.map((j) => j.summary)).toEqual([expect.stringMatching(/echo request id \d+ seq 3$/)]);
    expect(plan.points[plan.forward.hops[vanished[0]!.lastSeen]!]!.name).toBe('worker-3/tunl0');
    expect(vanished[0]!.hops[5]).toBeNull();
    expect(r.directions[0]).toMatchObject({ journeys: 27, complete: 26, vanished: 1 });
  });

  it('a segment lost from one capture but seen after it is missed there, and the super-packet partly covered', () => {
    const ens5 = plan.forward.hops[3]!;
    let dropped = -1;
    const lost = sources.map((s, i) =>
      i === ens5
        ? without(s, (index, p) => {
            const f = innerOf(s, p);
            if (dropped < 0 && f.dport === 5001 && f.payloadOffset > 0 && (p.bytes[f.ipOffset + 2]! << 8 | p.bytes[f.ipOffset + 3]!) > 1000) dropped = index;
            return index === dropped;
          })
        : s,
    );
    const r = correlateFlow(plan, lost);
    const missed = r.journeys.filter((j) => j.status === 'missed');
    expect(missed).toHaveLength(1);
    expect(missed[0]!.hops[3]!.coverage).toBeLessThan(1);
    expect(missed[0]!.hops[3]!.coverage).toBeGreaterThan(0);
    expect(missed[0]!.hops[4]!.coverage).toBe(1);
  });

  it('tells a retransmission from the original by its IP ID: the copy the wire never carried vanishes after the veth', () => {
    const veth1 = plan.forward.hops[0]!;
    let index = -1;
    for (let i = 0; i < sources[veth1]!.count && index < 0; i++) {
      const f = innerOf(sources[veth1]!, sources[veth1]!.get(i));
      if (f.dport === 5001 && f.payloadLength > 0) index = i;
    }
    const ipOffset = facts.ipOffset; // the packets read back start at offset 0
    const resent = sources.map((s, i) => (i === veth1 ? withExtra(s, index, (b) => (b[ipOffset + 5] = b[ipOffset + 5]! ^ 0x40)) : s));
    const r = correlateFlow(plan, resent);
    expect(r.directions[0]).toMatchObject({ journeys: 28, complete: 27, vanished: 1 });
    expect(r.journeys.find((j) => j.status === 'vanished')!.lastSeen).toBe(0);
  });

  it('does not judge packets outside the time every point was capturing', () => {
    const firstEcho = echoes(c, 'forward', 'request')[0]!;
    const at = c.origin + firstEcho.hops[0]!.t / 1e6;
    const late = sources.map((s, i) => (i === 3 ? { ...s, window: { from: at + 0.001 } } : s));
    const r = correlateFlow(plan, late);
    expect(r.journeys.find((j) => j.id === firstEcho.id)!.status).toBe('unjudged');
    expect(r.directions[0]!.unjudged).toBeGreaterThan(0);
  });

  it('gives each hop its latency (p50 and p99 in microseconds)', () => {
    const d = c.directions[0]!;
    expect(d.legs.map((l) => [l.from, l.to, l.count])).toEqual([[0, 1, 27], [1, 2, 27], [2, 3, 27], [3, 4, 27], [4, 5, 27]]);
    for (const leg of d.legs) {
      expect(leg.minUs).toBeGreaterThanOrEqual(0);
      expect(leg.p50Us).toBeLessThanOrEqual(leg.p99Us);
    }
    expect(d.endToEnd!.p50Us).toBeGreaterThan(0);
  });
});

describe('correlateFlow on the lab: VXLAN', () => {
  const { plan, sources } = load('vxlan-pod1-pod3.pcapng');
  const c = correlateFlow(plan, sources);

  it('matches every packet at every hop, with VNI 4096 around it on the underlay', () => {
    expect(plan.vni).toBe(4096);
    for (const d of c.directions) expect([d.complete, d.seen]).toEqual([d.journeys, d.hops.map(() => d.journeys)]);
    const [reply] = echoes(c, 'reverse', 'reply');
    expect(reply!.hops.map((h) => h?.outer ?? '')).toEqual(['', '', 'VXLAN VNI 4096 10.240.2.13 -> 10.240.1.11', 'VXLAN VNI 4096 10.240.2.13 -> 10.240.1.11', '', '']);
    expect(c.journeys.every((j) => j.record.vni === 4096 && j.record.encap === 'VXLAN')).toBe(true);
  });

  it("sees the fabric's router cut the source's VXLAN super-packets: one packet on worker-1's ens5, segments on worker-3's", () => {
    const cut = c.journeys.filter((j) => j.hops[2]!.count === 1 && j.hops[3]!.count > 1);
    expect(cut.length).toBeGreaterThan(3);
    expect(cut.every((j) => j.hops[3]!.shape === 'split' && j.hops[3]!.coverage === 1)).toBe(true);
  });
});

/** The bytes of a flow's data journeys, each byte counted once (a retransmission repeats bytes). */
function dataBytes(journeys: Journey[]): number {
  const ranges = journeys.flatMap((j) => {
    const m = / seq (\d+):(\d+)/.exec(j.summary);
    return m ? [[Number(m[1]), Number(m[2])] as const] : [];
  });
  ranges.sort((a, b) => a[0] - b[0]);
  let total = 0;
  let at = -Infinity;
  for (const [s, e] of ranges) {
    if (e > at) total += e - Math.max(s, at);
    at = Math.max(at, e);
  }
  return total;
}

describe("correlateFlow on the lab: VXLAN with the pods at IP-in-IP's MTU", () => {
  // pod-1 at MTU 1480 forgot the path MTU (ip route flush cache): its first two super-packets of
  // 1428-byte segments do not fit VXLAN on a 1500-byte ens5, worker-1 drops them (and tells
  // pod-1, which resends the same bytes in smaller segments, with new IP IDs).
  const { plan, sources } = load('vxlan-mtu-pod1-pod3.pcapng');
  const c = correlateFlow(plan, sources);

  it("shows the two lost super-packets vanished after pod-1's veth, never reaching vxlan.calico", () => {
    const vanished = c.journeys.filter((j) => j.status === 'vanished');
    expect(vanished.map((j) => j.summary.replace(/^.*\[P\.\] /, ''))).toEqual(['seq 1:7141 len 7140', 'seq 7141:14281 len 7140']);
    for (const j of vanished) {
      expect(plan.points[plan.forward.hops[j.lastSeen]!]!.name).toBe('worker-1/cali83dbd022cd5');
      expect(j.hops.slice(1)).toEqual([null, null, null, null, null]);
    }
  });

  it('matches the resent bytes, not the lost packets, at every later hop: all 200,000 bytes arrive', () => {
    expect(c.directions.map((d) => [d.journeys, d.complete, d.vanished, d.missed])).toEqual([
      [23, 21, 2, 0],
      [18, 18, 0, 0],
    ]);
    const data = c.journeys.filter((j) => j.direction === 'forward' && j.record.dport === 5001);
    expect(dataBytes(data.filter((j) => j.status === 'complete'))).toBe(200_000);
  });
});

describe('exportFlow', () => {
  it('writes an interface per node and hop and reads back to the same journeys', () => {
    const { plan, sources } = load('vxlan-pod1-pod3.pcapng');
    const c = correlateFlow(plan, sources);
    const file = concatParts(exportFlow(plan, sources, c, new Date('2026-12-07T00:00:00Z')).parts);
    const again = readFlowCapture(file);
    expect(again.interfaces.map((i) => i.name)).toEqual(plan.points.map((p) => p.name));
    expect(again.interfaces.map((i) => i.filter)).toEqual(plan.points.map((p) => p.filter));
    expect(correlateFlow(again.plan, again.sources).directions).toEqual(c.directions);
  });

  it("rewrites Linux cooked v2 (tcpdump -i any on libpcap 1.10) as v1, which Wireshark 3.x reads", () => {
    const reader = new CaptureReader();
    const packets: PacketToWrite[] = [];
    reader.push(new Uint8Array(readFileSync(path.join(testdata, 'any-sll2-ping.pcap'))), (p) => packets.push({ ...p, bytes: p.bytes.slice(p.offset, p.offset + p.caplen), offset: 0 }));
    expect(reader.interfaces[0]!.linkType).toBe(LinkType.LinuxSll2);
    const v1 = sll2ToSll(packets[0]!.bytes, 0, packets[0]!.caplen);
    expect(v1.length).toBe(packets[0]!.caplen - 4);
    const a = dissect(packets[0]!.bytes, 0, packets[0]!.caplen, packets[0]!.origLen, LinkType.LinuxSll2, new PacketFacts());
    const b = dissect(v1, 0, v1.length, v1.length, LinkType.LinuxSll, new PacketFacts());
    expect([b.src, b.dst, b.icmpType, b.etherType]).toEqual([a.src, a.dst, a.icmpType, 0x0800]);
    const plan: FlowPlan = {
      source: { pod: 'a', ip: '127.0.0.1', node: 'n' },
      destination: { pod: 'b', ip: '127.0.0.1', node: 'n' },
      points: [{ node: 'n', iface: 'any', role: 'pod', name: 'n/any', title: 'any', filter: 'icmp' }],
      forward: { from: '127.0.0.1', to: '127.0.0.1', label: 'a -> b', encap: 'local', hops: [0] },
      reverse: { from: '127.0.0.1', to: '127.0.0.1', label: 'b -> a', encap: 'local', hops: [0] },
      notes: [],
    };
    const source: FlowExportSource = { count: packets.length, linkType: LinkType.LinuxSll2, snapLen: 262144, get: (i, out) => Object.assign(out ?? ({} as PacketToWrite), packets[i]!) };
    const read = readFlowCapture(concatParts(exportFlow(plan, [source], undefined, new Date()).parts));
    expect(read.interfaces[0]!.linkType).toBe(LinkType.LinuxSll);
    expect(read.sources[0]!.count).toBe(4);
  });
});

describe('correlateFlow on stores that dropped their oldest packets (a capture past its bound)', () => {
  const { plan, sources } = load('ipip-pod1-pod3.pcapng');
  const whole = correlateFlow(plan, sources);

  it('names packets by their capture numbers: a source holding packets from `first` on numbers them from first + 1', () => {
    // The same packets, as a store that had dropped 1,000 before them would hand them over.
    const shifted = correlateFlow(plan, sources.map((s) => ({ ...s, first: 1000 })));
    expect(shifted.journeys.length).toBe(whole.journeys.length);
    for (let j = 0; j < whole.journeys.length; j++) {
      const [a, b] = [whole.journeys[j]!, shifted.journeys[j]!];
      expect(b.record.n).toBe(a.record.n + 1000);
      expect(b.hops.map((h) => h?.packets)).toEqual(a.hops.map((h) => h?.packets.map((n) => n + 1000)));
    }
  });
});
