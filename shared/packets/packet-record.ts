// A decoded packet as data: what the live list shows in its columns, what the display filter
// reads, and what `decode --json` prints. Built from PacketFacts, one object per packet (the
// fast path for text output is summaryLine; this is for packets someone will look at).
import { App, Encap, type PacketFacts } from './dissect.ts';
import { ipv4Text } from './ipv4-text.ts';
import { destinationText, encapText, infoText, protocolText, sourceText } from './summary.ts';

export type EncapKind = 'direct' | 'IPIP' | 'VXLAN';

export interface PacketRecord {
  /** 1-based packet number within its capture. */
  n: number;
  /** Seconds since the epoch, microsecond precision. */
  t: number;
  /** Length on the wire. */
  len: number;
  caplen: number;
  encap: EncapKind;
  encapText: string;
  src: string;
  dst: string;
  proto: string;
  info: string;
  outerSrc?: string;
  outerDst?: string;
  vni?: number;
  sport?: number;
  dport?: number;
  /** The IP protocol number of the innermost packet. */
  ipProto?: number;
  app?: 'BGP' | 'HTTP';
  mark?: 'truncated' | 'malformed';
}

const encapKinds: EncapKind[] = ['direct', 'IPIP', 'VXLAN'];

export function packetRecord(n: number, p: { tsSec: number; tsNsec: number }, f: PacketFacts): PacketRecord {
  const record: PacketRecord = {
    n,
    t: p.tsSec + Math.floor(p.tsNsec / 1000) / 1e6,
    len: f.origLen,
    caplen: f.caplen,
    encap: encapKinds[f.encap] ?? 'direct',
    encapText: encapText(f),
    src: sourceText(f),
    dst: destinationText(f),
    proto: protocolText(f),
    info: infoText(f),
  };
  if (f.encap !== Encap.Direct) {
    record.outerSrc = ipv4Text(f.outerSrc);
    record.outerDst = ipv4Text(f.outerDst);
  }
  if (f.vni >= 0) record.vni = f.vni;
  if (f.sport >= 0) record.sport = f.sport;
  if (f.dport >= 0) record.dport = f.dport;
  if (f.ipProto >= 0) record.ipProto = f.ipProto;
  if (f.app === App.Bgp) record.app = 'BGP';
  else if (f.app === App.Http) record.app = 'HTTP';
  if (f.problem) record.mark = 'malformed';
  else if (f.truncated) record.mark = 'truncated';
  return record;
}
