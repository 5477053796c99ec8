// A flow capture as one pcapng file: one interface block per capture point, named as the console
// shows it (`worker-1/ens5`, with the point's role, title and BPF filter), every packet of every
// point in time order, byte for byte, each with a comment naming the journeys it carries and its
// hop ("journey 12 (pod-1 -> pod-3) hop 3/6 worker-1/ens5 +41.2 us"). The plan goes into the
// section's comments as JSON, so that the file alone can be correlated again (readFlowCapture).
// Link types stay those Wireshark 3.x reads: a Linux cooked v2 capture (`-i any` on libpcap >= 1.10)
// is rewritten as v1, which broke older tshark (ksniff#100).
import type { CaptureInterface } from '../packets/capture-reader.ts';
import { CaptureReader } from '../packets/capture-reader.ts';
import { PcapngWriter, type PacketToWrite } from '../packets/capture-writer.ts';
import { LinkType } from '../packets/linktypes.ts';
import { FlowPlan } from './flow-hops.ts';
import type { Correlation, CorrelationSource } from './packet-correlation.ts';

/** The section comment that carries the plan, after this prefix. */
export const planCommentPrefix = 'gingham-flow-plan ';

/**
 * A Linux cooked v2 (SLL2, 20 bytes) header rewritten as v1 (SLL, 16 bytes): packet type, ARPHRD
 * type, address length, 8 address bytes, protocol. Returns the new packet bytes.
 */
export function sll2ToSll(bytes: Uint8Array, offset: number, caplen: number): Uint8Array {
  if (caplen < 20) return bytes.slice(offset, offset + caplen);
  const b = bytes.subarray(offset, offset + caplen);
  const out = new Uint8Array(caplen - 4);
  out[0] = 0;
  out[1] = b[10]!; // packet type
  out[2] = b[8]!; // ARPHRD type
  out[3] = b[9]!;
  out[4] = 0;
  out[5] = b[11]!; // address length
  out.set(b.subarray(12, 20), 6); // address
  out[14] = b[0]!; // protocol
  out[15] = b[1]!;
  out.set(b.subarray(20), 16);
  return out;
}

export interface FlowExportSource extends CorrelationSource {
  snapLen: number;
}

export interface FlowExport {
  parts: Uint8Array[];
  packets: number;
}

function journeysText(first: number, last: number): string {
  return first === last ? `journey ${first}` : `journeys ${first}-${last}`;
}

export function exportFlow(plan: FlowPlan, sources: FlowExportSource[], correlation: Correlation | undefined, now: Date): FlowExport {
  const writer = new PcapngWriter({
    comment: [
      `Gingham flow capture of ${plan.source.pod} (${plan.source.ip}, ${plan.source.node}) <-> ${plan.destination.pod} (${plan.destination.ip}, ${plan.destination.node}), exported ${now.toISOString()}: one interface per node and hop`,
      `${planCommentPrefix}${JSON.stringify(plan)}`,
    ],
    application: 'Gingham',
  });
  const ids = plan.points.map((point, i) => {
    const source = sources[i]!;
    const linkType = source.linkType === LinkType.LinuxSll2 ? LinkType.LinuxSll : source.linkType < 0 ? LinkType.Ethernet : source.linkType;
    return writer.addInterface({ linkType, snapLen: source.snapLen, name: point.name, description: point.title, filter: point.filter, comment: `${point.role} on ${point.node}: ${point.title}` });
  });
  // Each direction's hop numbers, per point.
  const hopOf = plan.points.map((_, i) => [plan.forward.hops.indexOf(i), plan.reverse.hops.indexOf(i)]);
  const journeyDir = new Map<number, number>();
  const journeyHopTimes = new Map<number, (number | undefined)[]>();
  for (const j of correlation?.journeys ?? []) {
    journeyDir.set(j.id, j.direction === 'forward' ? 0 : 1);
    journeyHopTimes.set(j.id, j.hops.map((h) => h?.t));
  }
  const next = sources.map(() => 0);
  const packet: PacketToWrite = { bytes: new Uint8Array(0), offset: 0, caplen: 0, origLen: 0, tsSec: 0, tsNsec: 0 };
  const time = (s: number) => {
    const p = sources[s]!.get(next[s]!, packet);
    return p.tsSec * 1e9 + p.tsNsec;
  };
  let packets = 0;
  for (;;) {
    let best = -1;
    let bestTime = Infinity;
    for (let s = 0; s < sources.length; s++) {
      if (next[s]! >= sources[s]!.count) continue;
      const t = time(s);
      if (t < bestTime) [best, bestTime] = [s, t];
    }
    if (best < 0) break;
    const index = next[best]!++;
    const source = sources[best]!;
    const p = source.get(index, packet);
    let comment: string | undefined;
    const m = correlation?.membership[best];
    if (m && m[index * 2]! >= 0) {
      const first = m[index * 2]!;
      const last = m[index * 2 + 1]!;
      const dir = journeyDir.get(first) ?? 0;
      const direction = dir === 0 ? plan.forward : plan.reverse;
      const hop = hopOf[best]![dir]!;
      const times = journeyHopTimes.get(first);
      const since = hop > 0 && times?.[0] !== undefined && times[hop] !== undefined ? ` +${(times[hop]! - times[0]!).toFixed(1)} us after ${plan.points[direction.hops[0]!]!.name}` : '';
      comment = `${journeysText(first, last)} (${direction.label}) hop ${hop + 1}/${direction.hops.length} ${plan.points[best]!.name}${since}`;
    }
    if (source.linkType === LinkType.LinuxSll2) {
      const bytes = sll2ToSll(p.bytes, p.offset, p.caplen);
      writer.add(ids[best]!, { ...p, bytes, offset: 0, caplen: bytes.length, origLen: p.origLen - 4 }, comment);
    } else writer.add(ids[best]!, p, comment);
    packets++;
  }
  return { parts: writer.parts, packets };
}

/** A flow capture file read back: its plan (from the section comment) and each point's packets, for correlateFlow. */
export function readFlowCapture(file: Uint8Array): { plan: FlowPlan; sources: FlowExportSource[]; interfaces: CaptureInterface[] } {
  const reader = new CaptureReader();
  const packets: PacketToWrite[][] = [];
  reader.push(file, (p) => {
    (packets[p.interfaceIndex] ??= []).push({ bytes: p.bytes.slice(p.offset, p.offset + p.caplen), offset: 0, caplen: p.caplen, origLen: p.origLen, tsSec: p.tsSec, tsNsec: p.tsNsec });
  });
  if (reader.error) throw new Error(reader.error);
  const planText = reader.comments.find((c) => c.startsWith(planCommentPrefix));
  if (!planText) throw new Error('not a Gingham flow capture: no plan in its section comments');
  const plan = FlowPlan.parse(JSON.parse(planText.slice(planCommentPrefix.length)));
  const sources = plan.points.map((point, i): FlowExportSource => {
    const iface = reader.interfaces[i];
    if (!iface || iface.name !== point.name) throw new Error(`interface ${i} is ${iface?.name ?? 'missing'}, the plan says ${point.name}`);
    const list = packets[i] ?? [];
    return { count: list.length, linkType: iface.linkType, snapLen: iface.snapLen, get: (index, out) => Object.assign(out ?? ({} as PacketToWrite), list[index]!) };
  });
  return { plan, sources, interfaces: reader.interfaces };
}
