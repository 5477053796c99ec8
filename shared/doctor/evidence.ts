// What the doctor reads before it traces a path: the cluster's objects from the Kubernetes API
// and, per node, the kernel's own answers (`ip -json ...`, `bridge -json fdb`) and the BGP paths
// the agent or BIRD reports. Kept as the commands printed them (text), so that a trace can be
// replayed from a saved file, and shown to an admin exactly as the node said it.
import { z } from 'zod';
import { encapsulationModes } from '../model/modes.ts';
import { ProbeEvidence } from './probe.ts';

export const ClusterNodeFacts = z.object({
  name: z.string().min(1),
  internalIp: z.string().optional(),
  /** Calico's projectcalico.org/IPv4Address annotation: the address with its subnet's prefix length. */
  ipv4Address: z.string().optional(),
  /** projectcalico.org/IPv4IPIPTunnelAddr, IPv4VXLANTunnelAddr, VXLANTunnelMACAddr when present. */
  ipipTunnelAddress: z.string().optional(),
  vxlanTunnelAddress: z.string().optional(),
  vxlanMac: z.string().optional(),
});
export type ClusterNodeFacts = z.infer<typeof ClusterNodeFacts>;

export const PoolFacts = z.object({
  name: z.string().min(1),
  cidr: z.string(),
  ipipMode: z.enum(encapsulationModes),
  vxlanMode: z.enum(encapsulationModes),
  natOutgoing: z.boolean(),
  disabled: z.boolean(),
});
export type PoolFacts = z.infer<typeof PoolFacts>;

export const PodFacts = z.object({ name: z.string().min(1), namespace: z.string().min(1), node: z.string().min(1), ip: z.string() });
export type PodFacts = z.infer<typeof PodFacts>;

/** A BGPPeer resource: a peering with something that is not a cluster node (a ToR, the VPC's router). */
export const BgpPeerFacts = z.object({ name: z.string(), peerIP: z.string(), node: z.string().optional() });

export const ClusterFacts = z.object({
  nodes: z.array(ClusterNodeFacts),
  pools: z.array(PoolFacts),
  pods: z.array(PodFacts),
  bgpPeers: z.array(BgpPeerFacts).default([]),
  /** Pools the model refuses (written by another client past Calico's loose CRD), and why: left out, not fatal. */
  unreadPools: z.array(z.object({ name: z.string(), reason: z.string() })).default([]),
});
export type ClusterFacts = z.infer<typeof ClusterFacts>;

/** One BGP path for a prefix, as the agent's RIB or BIRD's `show route for ... all` gives it. */
export const BgpPathFacts = z.object({ prefix: z.string(), from: z.string(), nextHop: z.string(), best: z.boolean(), asPath: z.string().optional(), protocol: z.string().optional() });
export type BgpPathFacts = z.infer<typeof BgpPathFacts>;

/**
 * What one node said, for one local address (a pod on it) and one remote address (the other end):
 * each section the text a command printed (see electron/backend/doctor/node-evidence-script.ts).
 */
export const NodeEvidence = z.object({
  node: z.string().min(1),
  /** The local pod's address this evidence was read for, and the other end's. */
  local: z.string(),
  remote: z.string(),
  /** The other end's node address (for the underlay lookup). */
  peerNode: z.string().optional(),
  /** Section name (`routes`, `forward`, `arrive tunl0`, `pod-routes`, ...) -> what the command printed. */
  sections: z.record(z.string(), z.string()),
  bgp: z.object({ source: z.enum(['agent', 'bird', 'none']), paths: z.array(BgpPathFacts), note: z.string().optional() }),
});
export type NodeEvidence = z.infer<typeof NodeEvidence>;

export const TraceRequest = z.object({
  source: z.string().min(1).max(300),
  destination: z.string().min(1).max(300),
  port: z.number().int().min(1).max(65535).optional(),
});
export type TraceRequest = z.infer<typeof TraceRequest>;

export const TraceEvidence = z.object({
  request: TraceRequest,
  collectedAt: z.string(),
  cluster: ClusterFacts,
  /** The source's node's evidence (local = the source), then the destination's (local = the destination). */
  source: NodeEvidence.optional(),
  destination: NodeEvidence.optional(),
  /** What could not be read, and why (a node without SSH, a command that failed). */
  gaps: z.array(z.string()).default([]),
  /** The live probe's ping and captures, when one ran. */
  probe: ProbeEvidence.optional(),
});
export type TraceEvidence = z.infer<typeof TraceEvidence>;
