// The node-pair table: for every ordered pair of nodes and every enabled IP pool, whether pod
// traffic between them is encapsulated (IP-in-IP, VXLAN) or sent direct, and why, as the agent's
// planner (and Felix) decide it; which pairs cross a subnet boundary, and which pairs decide
// differently in the two directions (a node registered as a /32, calico#2375). From the cluster's
// objects alone: what the fabric does with direct traffic is the trace's (and its probe's) to show.
import { z } from 'zod';
import { parseInterfaceAddress } from '../net/index.ts';
import { sameSubnet } from '../net/cross-subnet.ts';
import { expectedEncap, nodeAddress, tryAddress } from './encapsulation.ts';
import type { ClusterFacts, ClusterNodeFacts } from './evidence.ts';

export const NodePair = z.object({
  from: z.string(),
  to: z.string(),
  pool: z.string(),
  encapsulation: z.enum(['ipip', 'vxlan', 'direct', 'local']),
  /** Whether `to`'s address is outside `from`'s subnet as Calico compares them (unknown without addresses). */
  crossesSubnet: z.boolean().optional(),
  /** The way back (to -> from) is decided differently. */
  asymmetric: z.boolean(),
  why: z.string(),
});
export type NodePair = z.infer<typeof NodePair>;

export const NodePairTable = z.object({ nodes: z.array(z.string()), pools: z.array(z.string()), pairs: z.array(NodePair), gaps: z.array(z.string()) });
export type NodePairTable = z.infer<typeof NodePairTable>;

function crosses(from: ClusterNodeFacts, to: ClusterNodeFacts): boolean | undefined {
  const remote = nodeAddress(to);
  if (!from.ipv4Address || !remote || tryAddress(remote) === undefined) return undefined;
  try {
    return !sameSubnet(parseInterfaceAddress(from.ipv4Address), tryAddress(remote)!);
  } catch {
    return undefined;
  }
}

export function nodePairs(cluster: ClusterFacts): NodePairTable {
  const nodes = [...cluster.nodes].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  const pools = cluster.pools.filter((p) => !p.disabled);
  const gaps = [
    ...cluster.unreadPools.map((p) => `IPPool ${p.name} was left out: ${p.reason}`),
    ...nodes.filter((n) => !n.ipv4Address).map((n) => `${n.name} has no projectcalico.org/IPv4Address: its CrossSubnet decisions cannot be made`),
  ];
  const pairs: NodePair[] = [];
  for (const pool of pools) {
    for (const from of nodes) {
      for (const to of nodes) {
        if (from === to) continue;
        const forward = expectedEncap(pool, from, to);
        const back = expectedEncap(pool, to, from);
        const crossesSubnet = crosses(from, to);
        pairs.push({
          from: from.name,
          to: to.name,
          pool: pool.name,
          encapsulation: forward.encap,
          ...(crossesSubnet === undefined ? {} : { crossesSubnet }),
          asymmetric: forward.encap !== back.encap,
          why: forward.why.join('; '),
        });
      }
    }
  }
  return { nodes: nodes.map((n) => n.name), pools: pools.map((p) => p.name), pairs, gaps };
}
