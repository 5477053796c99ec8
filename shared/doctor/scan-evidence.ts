// What the scan reads, kept as it was read so that a scan can be replayed from a saved file: the
// cluster's Calico objects as the API returned them (slimmed: no managed fields), and per node the
// sections of the scan script (electron/backend/doctor/scan-script.ts), the BGP sessions and RIB
// the agent or BIRD reports, and what the agent says of itself.
import { z } from 'zod';
import { parseBGPConfiguration } from '../model/bgp-configuration.ts';
import { parseBGPPeer } from '../model/bgp-peer.ts';
import { parseCalicoNode } from '../model/calico-node.ts';
import type { ClusterSnapshot } from '../model/cluster-snapshot.ts';
import { parseIPAMBlock } from '../model/ipam.ts';
import { parseIPPool } from '../model/ippool.ts';
import { BgpPathFacts } from './evidence.ts';

export const ClusterObjects = z.object({
  pools: z.array(z.unknown()),
  blocks: z.array(z.unknown()),
  nodes: z.array(z.unknown()),
  bgpConfigurations: z.array(z.unknown()).default([]),
  bgpPeers: z.array(z.unknown()).default([]),
  /** Read for Felix's feature overrides (featureDetectOverride); empty when the kind is not installed. */
  felixConfigurations: z.array(z.unknown()).default([]),
});
export type ClusterObjects = z.infer<typeof ClusterObjects>;

export const BgpSessionFacts = z.object({ address: z.string(), state: z.string(), since: z.string().optional(), info: z.string().optional(), lastError: z.string().optional() });
export type BgpSessionFacts = z.infer<typeof BgpSessionFacts>;

export const ScanNodeEvidence = z.object({
  node: z.string().min(1),
  /** Section name -> what the command printed (see scan-script.ts). */
  sections: z.record(z.string(), z.string()),
  bgp: z.object({
    source: z.enum(['agent', 'bird', 'none']),
    sessions: z.array(BgpSessionFacts),
    /** Every path in the speaker's RIB. */
    routes: z.array(BgpPathFacts),
    /** The speaker's own clock when `since` is a time of day (BIRD): `HH:MM:SS`. */
    note: z.string().optional(),
    /** The agent says BGP is not running, and why (only VXLAN pools). */
    notRunning: z.string().optional(),
  }),
  /** The sessions read again about a second later: a session that changed in between flaps. */
  sessionsAgain: z.array(BgpSessionFacts).optional(),
  agent: z.object({ answered: z.boolean(), synced: z.boolean().optional(), connected: z.boolean().optional(), note: z.string().optional() }).optional(),
});
export type ScanNodeEvidence = z.infer<typeof ScanNodeEvidence>;

export const ScanEvidence = z.object({
  collectedAt: z.string(),
  /** Absent when the API server could not be read (then `apiError` says why). */
  objects: ClusterObjects.optional(),
  apiError: z.string().optional(),
  nodes: z.array(ScanNodeEvidence),
  /** Nodes that could not be read over SSH, and why. */
  unreachable: z.array(z.object({ node: z.string(), error: z.string() })).default([]),
  gaps: z.array(z.string()).default([]),
});
export type ScanEvidence = z.infer<typeof ScanEvidence>;

/** An object the model refuses, by kind and name, and why (left out of the plan, named in the scan). */
export interface Unread {
  kind: string;
  name: string;
  reason: string;
  /** An IPv6 pool: refused because the scan (and the agent) handle IPv4 only for now. */
  ipv6?: boolean;
}

const nameOf = (raw: unknown) => String((raw as { metadata?: { name?: unknown } } | null)?.metadata?.name ?? '?');

/** The cluster's objects through the model's parsers, as the agent reads them: what is refused is named, not fatal. */
export function snapshotFromObjects(objects: ClusterObjects): { snapshot: ClusterSnapshot; unread: Unread[] } {
  const unread: Unread[] = [];
  const parse = <T>(kind: string, list: unknown[], parser: (raw: unknown) => T): T[] =>
    list.flatMap((raw) => {
      try {
        return [parser(raw)];
      } catch (error) {
        const cidr = (raw as { spec?: { cidr?: unknown } } | null)?.spec?.cidr;
        unread.push({ kind, name: nameOf(raw), reason: (error as Error).message, ...(typeof cidr === 'string' && cidr.includes(':') ? { ipv6: true } : {}) });
        return [];
      }
    });
  const snapshot: ClusterSnapshot = {
    pools: parse('IPPool', objects.pools, parseIPPool),
    blocks: parse('IPAMBlock', objects.blocks, parseIPAMBlock).filter((b) => !b.spec.cidr.includes(':')),
    nodes: parse('Node', objects.nodes, (raw) => ({ ...parseCalicoNode(raw), labels: (raw as { metadata?: { labels?: Record<string, string> } }).metadata?.labels ?? {} })),
    bgpConfigurations: parse('BGPConfiguration', objects.bgpConfigurations, parseBGPConfiguration),
    bgpPeers: parse('BGPPeer', objects.bgpPeers, parseBGPPeer),
  };
  return { snapshot, unread };
}

/** A core Node as the scan keeps it: name, labels, annotations, addresses (no status images or managed fields). */
export function slimNode(raw: { metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; status?: { addresses?: unknown[] } }): unknown {
  return {
    metadata: { name: raw.metadata?.name, labels: raw.metadata?.labels ?? {}, annotations: raw.metadata?.annotations ?? {} },
    status: { addresses: raw.status?.addresses ?? [] },
  };
}
