// Which other nodes' IPAM blocks the agent routes itself while BGP has not said everything yet
// (a speaker restart, a switch back from VXLAN, a session coming up): pure, for node-agent.ts.
import type { ClusterSnapshot } from '../../shared/model/cluster-snapshot.ts';
import { formatIPv4 } from '../../shared/net/index.ts';

/**
 * The nodes whose blocks stand in, by name. A node this one peers with stands in until its own
 * session is complete (up with End-of-RIB, or gone for longer than its restart time). A node it
 * does not peer with (a route reflector's client seen from another client, with the mesh off)
 * has its routes brought by the peers there are, the reflectors: it stands in until one of them
 * is complete, and no longer. Before, every node without a session of its own stood in for good,
 * so a client of reflectors routed the other clients from IPAM whatever BGP said, and a route
 * the reflectors lost was never missed.
 */
export function standInNodes(snapshot: ClusterSnapshot, nodeName: string, peerAddresses: readonly string[], complete: ReadonlySet<string>): Set<string> {
  const peers = new Set(peerAddresses);
  const throughPeers = peerAddresses.some((address) => complete.has(address));
  const names = new Set<string>();
  for (const node of snapshot.nodes) {
    if (node.name === nodeName || !node.ipv4Address) continue;
    const ip = formatIPv4(node.ipv4Address.address);
    if (peers.has(ip) ? !complete.has(ip) : !throughPeers) names.add(node.name);
  }
  return names;
}
