// One packet followed across both ends of its path: the captures taken at each point of a flow
// (the source pod's veth, the tunnel device, the underlay on both nodes, the far tunnel device and
// veth) matched packet by packet, so that each inner packet has its time at every hop, its outer
// header on the underlay, and, when it vanished, the last hop that saw it.
//
// Packets are matched on the inner packet, which every hop carries unchanged: its addresses and
// ports, its IP ID and, for TCP, its sequence numbers. Offloads change how the bytes are cut, not
// the bytes: a pod's TSO super-packet leaves the veth as one 64 KiB packet and crosses the
// underlay as 45 segments (the tunnel cuts it), and the far node may join segments again (GRO,
// the user-space tunnel's receive coalescing). So TCP data is matched by sequence range: a piece
// at a later hop belongs to the journey whose range it overlaps, with the IP ID telling a
// retransmission (same bytes, a later ID) from the original; segments cut from one packet carry
// consecutive IDs, so a piece starting `d` bytes into a packet has an ID `d / segment size` above it.
// Everything else (SYN, pure ACKs, ICMP, UDP) is matched exactly, first come first served.
//
// Pure: captures in, journeys and statistics out; the same bytes always give the same answer.
import type { PacketToWrite } from '../packets/capture-writer.ts';
import { dissect, Encap, Net, PacketFacts } from '../packets/dissect.ts';
import { ipv4Text } from '../packets/ipv4-text.ts';
import { packetRecord, type PacketRecord } from '../packets/packet-record.ts';
import { encapText } from '../packets/summary.ts';
import { parseIPv4 } from '../net/index.ts';
import type { FlowDirection, FlowPlan } from './flow-hops.ts';

/** One capture point's packets, in capture order (a PacketStore, or a file read into memory). */
export interface CorrelationSource {
  readonly count: number;
  readonly linkType: number;
  get(index: number, out?: PacketToWrite): PacketToWrite;
  /**
   * The capture's number (0-based) of `get(0)`: a store that dropped its oldest packets to stay in
   * its bound holds packets from there, and journeys name packets by the capture's numbers (1-based).
   */
  readonly first?: number;
  /** When this point was capturing, in seconds since the epoch (from listening to the stop). */
  window?: { from: number; to?: number };
}

export type JourneyStatus = 'complete' | 'vanished' | 'missed' | 'unjudged';
export type DirectionName = 'forward' | 'reverse';

/** One journey at one hop. */
export interface JourneyHop {
  /** 1-based packet numbers in that point's capture (at most `maxPacketsListed`). */
  packets: number[];
  /** How many packets of that capture carried part of it. */
  count: number;
  /** Microseconds after the flow's origin: the first of those packets. */
  t: number;
  /** The share of the journey's bytes seen here (1 for a whole packet). */
  coverage: number;
  /** `same`: one packet, the same bytes; `split`: cut into `count` pieces; `joined`: inside a larger packet. */
  shape: 'same' | 'split' | 'joined';
  /** The outer header there, when the hop saw the packet encapsulated: `IPIP 10.240.1.11 -> 10.240.2.13`. */
  outer?: string;
}

export interface Journey {
  id: number;
  direction: DirectionName;
  /** The inner packet as its first hop saw it: `192.168.0.1 -> 192.168.0.129 TCP 47884 -> 5001 [P.] len 6990`. */
  summary: string;
  /** The decoded row of the first sighting, with the outer header of the underlay's (for the display filter). */
  record: PacketRecord;
  /** One entry per hop of its direction, null where no packet of it was seen. */
  hops: (JourneyHop | null)[];
  status: JourneyStatus;
  /** Index into the direction's hops of the first and the last hop that saw all of it (-1: none did). */
  firstSeen: number;
  lastSeen: number;
}

export interface LegLatency {
  /** Indices into the direction's hops. */
  from: number;
  to: number;
  /** Journeys seen whole at both. */
  count: number;
  p50Us: number;
  p99Us: number;
  minUs: number;
  maxUs: number;
}

export interface DirectionReport {
  direction: DirectionName;
  label: string;
  /** The plan's point of each hop. */
  hops: number[];
  journeys: number;
  complete: number;
  vanished: number;
  missed: number;
  unjudged: number;
  /** Per hop: journeys seen whole there. */
  seen: number[];
  /** Hop to next hop, and first hop to last. */
  legs: LegLatency[];
  endToEnd?: LegLatency;
}

export interface Correlation {
  /** Seconds since the epoch of the earliest packet: journeys' times are microseconds after it. */
  origin: number;
  journeys: Journey[];
  directions: DirectionReport[];
  /** Packets per point that belong to no journey (another flow's, not IPv4, a later fragment). */
  unmatched: number[];
  /** Per point, per packet: the journeys it carries, as [first, last] journey id (-1: none). */
  membership: Int32Array[];
}

export const maxPacketsListed = 64;


interface Observation {
  point: number;
  index: number;
  t: number;
  data: boolean;
  start: number;
  end: number;
  ipId: number;
  flow: string;
  key: string;
  outer?: string;
}

interface Unit {
  id: number;
  dir: 0 | 1;
  anchor: Observation;
  start: number;
  end: number;
  data: boolean;
  flow: string;
  seen: Observation[][];
}

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

/** The largest segment a packet is cut into: an MTU (jumbo frames included, with room). */
const maxSegment = 16384;

/**
 * Whether `b` may be a piece of `a` (or `a` of `b`), as their IP IDs tell: the segment size that
 * makes them agree, Infinity for the same start and ID, 0 when none does. Segments cut from one
 * packet (TSO, GSO, the user-space tunnel) take consecutive IDs from the packet's, and a joined
 * packet (GRO) keeps its first segment's; so two packets of one stretch of segments of size `m`
 * that start `d` bytes apart have IDs `d / m` apart, exactly. A retransmission of the same bytes
 * has later IDs, which fit no segment size, or only a smaller one than its own copy's (when the
 * path MTU shrank, a resent piece can fit the lost original at some odd size: the largest wins).
 */
function segmentSize(a: Observation | Unit, aId: number, b: Observation, bId: number): number {
  const [first, firstId, second, secondId] = a.start <= b.start ? [a, aId, b, bId] : [b, bId, a, aId];
  const offset = second.start - first.start;
  const idDelta = (secondId - firstId) & 0xffff;
  if (idDelta === 0) return offset === 0 ? Infinity : 0;
  return offset > 0 && offset % idDelta === 0 && offset / idDelta <= maxSegment ? offset / idDelta : 0;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function latency(from: number, to: number, deltas: number[]): LegLatency {
  const sorted = deltas.slice().sort((x, y) => x - y);
  const round = (n: number) => Math.round(n * 10) / 10;
  return { from, to, count: sorted.length, p50Us: round(percentile(sorted, 50)), p99Us: round(percentile(sorted, 99)), minUs: round(sorted[0] ?? 0), maxUs: round(sorted.at(-1) ?? 0) };
}

/** Finds every journey of the flow in the plan's captures. `sources[i]` holds the packets of `plan.points[i]`. */
export function correlateFlow(plan: Pick<FlowPlan, 'points' | 'forward' | 'reverse'>, sources: CorrelationSource[]): Correlation {
  if (sources.length !== plan.points.length) throw new Error(`${sources.length} captures for ${plan.points.length} capture points`);
  const directions: FlowDirection[] = [plan.forward, plan.reverse];
  const ends = directions.map((d) => [parseIPv4(d.from) >>> 0, parseIPv4(d.to) >>> 0] as const);
  const facts = new PacketFacts();
  const packet: PacketToWrite = { bytes: new Uint8Array(0), offset: 0, caplen: 0, origLen: 0, tsSec: 0, tsNsec: 0 };

  let originSec = Infinity;
  for (const s of sources) if (s.count > 0) originSec = Math.min(originSec, s.get(0, packet).tsSec);
  if (originSec === Infinity) originSec = 0;
  // Packets are in capture order, not always in time order (per-CPU buffers): the minimum over the first few.
  for (const s of sources) for (let i = 0; i < Math.min(s.count, 64); i++) originSec = Math.min(originSec, s.get(i, packet).tsSec);

  const seqBase = new Map<string, number>();
  const unmatched = sources.map(() => 0);
  const membership = sources.map((s) => new Int32Array(s.count * 2).fill(-1));
  // Per direction, per point: its observations in time order.
  const byPoint: Observation[][][] = [plan.points.map(() => []), plan.points.map(() => [])];

  sources.forEach((source, point) => {
    for (let index = 0; index < source.count; index++) {
      const p = source.get(index, packet);
      const f = dissect(p.bytes, p.offset, p.caplen, p.origLen, source.linkType, facts);
      if (f.net !== Net.Ipv4 || f.fragment || f.ipOffset < 0 || f.ipEnd - f.ipOffset < 20) {
        unmatched[point]!++;
        continue;
      }
      const src = f.src >>> 0;
      const dst = f.dst >>> 0;
      const dir = src === ends[0]![0] && dst === ends[0]![1] ? 0 : src === ends[1]![0] && dst === ends[1]![1] ? 1 : -1;
      if (dir < 0) {
        unmatched[point]!++;
        continue;
      }
      const b = f.bytes;
      const ip = f.ipOffset;
      const ipId = u16(b, ip + 4);
      const total = u16(b, ip + 2);
      const ihl = (b[ip]! & 15) * 4;
      const t = (p.tsSec - originSec) * 1e6 + p.tsNsec / 1e3;
      const obs: Observation = { point, index, t, data: false, start: 0, end: 0, ipId, flow: '', key: '' };
      if (f.encap !== Encap.Direct) obs.outer = encapText(f);
      if (f.ipProto === 6 && f.payloadOffset > 0) {
        const flow = `${dir} ${f.sport} ${f.dport}`;
        // The length from the headers, not from what was captured: a short snap length still matches.
        const tcpHeader = f.payloadOffset - (ip + ihl);
        // A GSO super-packet over 64 KiB (BIG TCP) has total length 0: then what was captured is all there is.
        const payload = total >= ihl + tcpHeader ? total - ihl - tcpHeader : f.payloadLength;
        let base = seqBase.get(flow);
        if (base === undefined) seqBase.set(flow, (base = f.seq));
        let rel = (f.seq - base) >>> 0;
        if (rel >= 0x80000000) rel -= 0x100000000;
        obs.flow = flow;
        if (payload > 0) {
          obs.data = true;
          obs.start = rel;
          obs.end = rel + payload;
        } else obs.key = `${flow} t ${f.seq} ${f.ack} ${f.tcpFlags} ${ipId}`;
      } else if (f.ipProto === 1 && f.icmpOffset >= 0 && f.end - f.icmpOffset >= 8) {
        const o = f.icmpOffset;
        obs.flow = `${dir} icmp`;
        obs.key = `${dir} i ${f.icmpType} ${f.icmpCode} ${u16(b, o + 4)} ${u16(b, o + 6)} ${ipId}`;
      } else if (f.ipProto === 17 && f.sport >= 0) {
        obs.flow = `${dir} ${f.sport} ${f.dport} udp`;
        obs.key = `${obs.flow} ${ipId} ${f.udpLength}`;
      } else {
        obs.flow = `${dir} ${b[ip + 9]}`;
        obs.key = `${obs.flow} p ${ipId} ${total}`;
      }
      byPoint[dir]![point]!.push(obs);
    }
  });

  const units: Unit[] = [];
  for (const dir of [0, 1] as const) {
    const direction = directions[dir]!;
    const hops = direction.hops;
    const exact = new Map<string, Unit[]>();
    const ranges = new Map<string, Unit[]>(); // per flow, sorted by start
    const longest = new Map<string, number>(); // per flow, the longest unit: how far back an overlap can start
    const mine: Unit[] = [];
    hops.forEach((point, k) => {
      const list = byPoint[dir]![point]!.slice().sort((x, y) => x.t - y.t);
      const fresh: Unit[] = [];
      const newUnit = (obs: Observation): Unit => {
        const unit: Unit = { id: 0, dir, anchor: obs, start: obs.start, end: obs.end, data: obs.data, flow: obs.flow, seen: hops.map(() => []) };
        unit.seen[k]!.push(obs);
        fresh.push(unit);
        return unit;
      };
      for (const obs of list) {
        if (!obs.data) {
          const candidates = exact.get(obs.key);
          const unit = candidates?.find((u) => u.seen[k]!.length === 0);
          if (unit) unit.seen[k]!.push(obs);
          else newUnit(obs);
          continue;
        }
        const line = ranges.get(obs.flow) ?? [];
        const reach = obs.start - (longest.get(obs.flow) ?? 0);
        let lo = 0;
        let hi = line.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (line[mid]!.start < reach) lo = mid + 1;
          else hi = mid;
        }
        const overlapping: Unit[] = [];
        for (let i = lo; i < line.length && line[i]!.start < obs.end; i++) if (line[i]!.end > obs.start) overlapping.push(line[i]!);
        const sizes = new Map(overlapping.map((u) => [u, segmentSize(u, u.anchor.ipId, obs, obs.ipId)]));
        const fits = overlapping.filter((u) => sizes.get(u)! > 0);
        // Of two that fit and cover the same bytes (an original and its retransmission), the larger segment size wins.
        const agreeing = fits.filter((u) => !fits.some((v) => v !== u && sizes.get(v)! > sizes.get(u)! && v.start < u.end && u.start < v.end));
        // No IP ID agrees: still the same bytes unless the ranges are identical (then it is a retransmission of its own).
        const chosen = agreeing.length > 0 ? agreeing : overlapping.filter((u) => u.start !== obs.start || u.end !== obs.end);
        if (chosen.length > 0) for (const u of chosen) u.seen[k]!.push(obs);
        else newUnit(obs);
      }
      // Units first seen at this hop take part from the next hop on (two sightings at one hop are two packets).
      const grown = new Set<Unit[]>();
      for (const unit of fresh) {
        mine.push(unit);
        if (unit.data) {
          const line = ranges.get(unit.flow) ?? [];
          ranges.set(unit.flow, line);
          line.push(unit);
          grown.add(line);
          longest.set(unit.flow, Math.max(longest.get(unit.flow) ?? 0, unit.end - unit.start));
        } else {
          const list2 = exact.get(unit.anchor.key) ?? [];
          exact.set(unit.anchor.key, list2);
          list2.push(unit);
        }
      }
      for (const line of grown) line.sort((x, y) => x.start - y.start || x.anchor.t - y.anchor.t);
    });
    mine.sort((x, y) => x.anchor.t - y.anchor.t || x.anchor.index - y.anchor.index);
    units.push(...mine);
  }

  // The window every point was capturing in, as microseconds after the origin.
  const from = Math.max(...sources.map((s) => s.window?.from ?? -Infinity));
  const to = Math.min(...sources.map((s) => s.window?.to ?? Infinity));
  const fromUs = (from - originSec) * 1e6;
  const toUs = (to - originSec) * 1e6;

  const journeys: Journey[] = [];
  const reports: DirectionReport[] = directions.map((d, dir) => ({
    direction: dir === 0 ? 'forward' : 'reverse',
    label: d.label,
    hops: d.hops,
    journeys: 0,
    complete: 0,
    vanished: 0,
    missed: 0,
    unjudged: 0,
    seen: d.hops.map(() => 0),
    legs: [],
  }));
  const deltas: number[][][] = directions.map((d) => d.hops.map(() => []));
  const totals: number[][] = directions.map(() => []);

  for (const unit of units) {
    const id = journeys.length + 1;
    const report = reports[unit.dir]!;
    const length = unit.end - unit.start;
    const hops: (JourneyHop | null)[] = unit.seen.map((seen) => {
      if (seen.length === 0) return null;
      seen.sort((x, y) => x.t - y.t);
      let coverage = 1;
      let shape: JourneyHop['shape'] = 'same';
      if (unit.data) {
        const pieces = seen.map((o) => [Math.max(o.start, unit.start), Math.min(o.end, unit.end)] as const).sort((x, y) => x[0] - y[0]);
        let covered = 0;
        let at = unit.start;
        for (const [s, e] of pieces) {
          if (e <= at) continue;
          covered += e - Math.max(s, at);
          at = e;
        }
        coverage = length > 0 ? covered / length : 1;
        if (seen.some((o) => o.start < unit.start || o.end > unit.end)) shape = 'joined';
        else if (seen.length > 1 || seen[0]!.start !== unit.start || seen[0]!.end !== unit.end) shape = 'split';
      }
      const outer = seen.find((o) => o.outer)?.outer;
      return {
        packets: seen.slice(0, maxPacketsListed).map((o) => (sources[o.point]!.first ?? 0) + o.index + 1),
        count: seen.length,
        t: Math.round(seen[0]!.t * 1000) / 1000,
        coverage: Math.round(coverage * 1000) / 1000,
        shape,
        ...(outer ? { outer } : {}),
      };
    });
    for (const seen of unit.seen) {
      for (const o of seen) {
        const m = membership[o.point]!;
        if (m[o.index * 2]! < 0) m[o.index * 2] = id;
        m[o.index * 2 + 1] = id;
      }
    }
    const whole = hops.map((h) => h !== null && h.coverage >= 0.999);
    const firstSeen = whole.indexOf(true);
    const lastSeen = whole.lastIndexOf(true);
    const anchorT = unit.anchor.t;
    let status: JourneyStatus;
    if (anchorT < fromUs || anchorT > toUs) status = 'unjudged';
    else if (whole.every(Boolean)) status = 'complete';
    else if (!whole.at(-1)) status = 'vanished';
    else status = 'missed';
    report.journeys++;
    report[status]++;
    whole.forEach((w, k) => w && report.seen[k]!++);
    for (let k = 0; k + 1 < hops.length; k++) {
      if (whole[k] && whole[k + 1]) deltas[unit.dir]![k]!.push(hops[k + 1]!.t - hops[k]!.t);
    }
    if (whole[0] && whole.at(-1) && hops.length > 1) totals[unit.dir]!.push(hops.at(-1)!.t - hops[0]!.t);

    // The row for the display filter: the first sighting's decode, the underlay's outer header.
    const anchor = unit.anchor;
    const source = sources[anchor.point]!;
    const p = source.get(anchor.index, packet);
    const f = dissect(p.bytes, p.offset, p.caplen, p.origLen, source.linkType, facts);
    const record = packetRecord((source.first ?? 0) + anchor.index + 1, p, f);
    const wrapped = unit.seen.flat().find((o) => o.outer);
    if (wrapped && record.encap === 'direct') {
      const w = sources[wrapped.point]!;
      const wp = w.get(wrapped.index, packet);
      const wf = dissect(wp.bytes, wp.offset, wp.caplen, wp.origLen, w.linkType, facts);
      record.encap = wf.encap === Encap.Vxlan ? 'VXLAN' : 'IPIP';
      record.encapText = encapText(wf);
      record.outerSrc = ipv4Text(wf.outerSrc);
      record.outerDst = ipv4Text(wf.outerDst);
      if (wf.vni >= 0) record.vni = wf.vni;
    }
    if (unit.data) {
      // The length from the headers (a short snap length cut the bytes, not the packet), and tcpdump's relative sequence numbers.
      record.info = record.info.replace(/ len \d+/, ` seq ${unit.start}:${unit.end} len ${length}`).replace(' [truncated]', '');
    } else record.info = record.info.replace(' [truncated]', '');
    journeys.push({
      id,
      direction: unit.dir === 0 ? 'forward' : 'reverse',
      summary: `${record.src} -> ${record.dst} ${record.proto} ${record.info}`,
      record,
      hops,
      status,
      firstSeen,
      lastSeen,
    });
  }
  reports.forEach((report, dir) => {
    const n = directions[dir]!.hops.length;
    for (let k = 0; k + 1 < n; k++) report.legs.push(latency(k, k + 1, deltas[dir]![k]!));
    if (n > 1) report.endToEnd = latency(0, n - 1, totals[dir]!);
  });
  return { origin: originSec, journeys, directions: reports, unmatched, membership };
}
