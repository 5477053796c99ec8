// Export of one or more captures as pcap or pcapng. Packets are copied byte for byte as tcpdump
// delivered them, merged across captures in time order. pcapng keeps one interface block per
// capture, named for the interface, with the node and capture filter in its description, filter
// and comment; classic pcap has one link type per file, so captures of different link types
// (an Ethernet ens5 and a raw-IP tunl0) can only go to pcapng. A capture whose store dropped its
// oldest packets (its bound in bytes, packet-store.ts) exports the ones it kept, and pcapng says in
// its comments how many went, in the console and in the node's kernel.
import { ConsoleError } from '../../../shared/api/errors.ts';
import { PcapngWriter, PcapWriter } from '../../../shared/packets/capture-writer.ts';
import type { PacketStore, StoredPacket } from './packet-store.ts';

export interface ExportSource {
  store: PacketStore;
  linkType: number;
  snapLen: number;
  node: string;
  iface: string;
  filter: string;
  /** tcpdump's count of packets the node's kernel dropped. */
  kernelDropped?: number | undefined;
}

export interface ExportedFile {
  parts: Uint8Array[];
  packets: number;
  bytes: number;
}

/** Visits every kept packet of every source in time order (ties keep capture order). */
function merged(sources: ExportSource[], visit: (source: number, packet: StoredPacket) => void): number {
  const next = sources.map((s) => s.store.first);
  const packet: StoredPacket = { bytes: new Uint8Array(0), offset: 0, caplen: 0, origLen: 0, tsSec: 0, tsNsec: 0 };
  let total = 0;
  for (;;) {
    let best = -1;
    let bestTime = Infinity;
    for (let s = 0; s < sources.length; s++) {
      if (next[s]! >= sources[s]!.store.count) continue;
      const t = sources[s]!.store.time(next[s]!);
      if (t < bestTime) [best, bestTime] = [s, t];
    }
    if (best < 0) return total;
    visit(best, sources[best]!.store.get(next[best]!++, packet));
    total++;
  }
}

/** What a capture lost, in words for a comment; empty when it lost nothing. */
export function lossText(source: Pick<ExportSource, 'store' | 'kernelDropped'>): string {
  const { store } = source;
  const parts: string[] = [];
  if (store.dropped > 0) {
    parts.push(
      `the console dropped the oldest ${store.dropped} packets (${store.droppedBytes} bytes) to stay within its ${Math.round(store.maxBytes / 1048576)} MiB bound: packets ${store.first + 1}-${store.count} are here`,
    );
  }
  if (source.kernelDropped) parts.push(`the node's kernel dropped ${source.kernelDropped} packets (tcpdump's count)`);
  return parts.join('; ');
}

export function exportCaptures(sources: ExportSource[], format: 'pcap' | 'pcapng', now = new Date()): ExportedFile {
  const withLink = sources.filter((s) => s.linkType >= 0);
  if (withLink.length === 0) throw new ConsoleError('not-found', 'These captures have no packets yet: nothing to export.');
  if (format === 'pcap') {
    const linkTypes = new Set(withLink.map((s) => s.linkType));
    if (linkTypes.size > 1) {
      throw new ConsoleError('invalid-request', 'These captures have different link types (for example Ethernet and raw IP); pcap holds only one. Export as pcapng instead.');
    }
    const writer = new PcapWriter(withLink[0]!.linkType, Math.max(...withLink.map((s) => s.snapLen)));
    const packets = merged(withLink, (_s, p) => writer.add(p));
    return { parts: writer.parts, packets, bytes: writer.parts.reduce((n, p) => n + p.length, 0) };
  }
  const writer = new PcapngWriter({
    comment: `Gingham capture exported ${now.toISOString()}: ${withLink
      .map((s) => {
        const loss = lossText(s);
        return `${s.node} ${s.iface}${s.filter ? ` (${s.filter})` : ''}${loss ? ` [${loss}]` : ''}`;
      })
      .join(', ')}`,
    application: 'Gingham',
  });
  const interfaceIds = withLink.map((s) =>
    writer.addInterface({
      linkType: s.linkType,
      snapLen: s.snapLen,
      name: s.iface,
      description: `${s.iface} on ${s.node}`,
      ...(s.filter ? { filter: s.filter } : {}),
      comment: `node ${s.node}, interface ${s.iface}, capture filter ${s.filter ? `"${s.filter}"` : '(none)'}${lossText(s) ? `; ${lossText(s)}` : ''}`,
    }),
  );
  const packets = merged(withLink, (s, p) => writer.add(interfaceIds[s]!, p));
  return { parts: writer.parts, packets, bytes: writer.parts.reduce((n, p) => n + p.length, 0) };
}
