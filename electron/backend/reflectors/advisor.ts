// Whether a cluster's BGP should move from the node-to-node mesh to route reflectors, which nodes
// would make good reflectors, and what in the configuration leaves a node without sessions: pure,
// from the cluster's objects (reflector-cluster.ts reads them).
import { meshThresholds, reflectorLabel, type BgpRole, type ReflectorAdvice, type ReflectorCandidate, type ReflectorNode } from '../../../shared/api/reflectors-contract.ts';
import type { BGPConfiguration } from '../../../shared/model/bgp-configuration.ts';
import type { BGPPeer } from '../../../shared/model/bgp-peer.ts';
import { calicoPeerings } from '../../../shared/model/bgp-peerings.ts';
import type { ClusterNode, ClusterSnapshot } from '../../../shared/model/cluster-snapshot.ts';
import { formatCidr, formatIPv4, subnetOf } from '../../../shared/net/index.ts';

export interface AdvisorInput {
  context: string;
  nodes: ClusterNode[];
  meshEnabled: boolean;
  /** The BGP objects the sessions come from (the problems are judged by them). */
  bgpPeers?: BGPPeer[];
  bgpConfigurations?: BGPConfiguration[];
  /** Established of all sessions, as the agents publish them. */
  sessions?: { established: number; total: number };
  /** How many reflectors to propose; default: one per zone or subnet, at least 2, at most 3. */
  reflectors?: number;
}

/** The zone label Kubernetes sets (and its older beta name). */
const zoneOf = (node: ClusterNode) => node.labels['topology.kubernetes.io/zone'] ?? node.labels['failure-domain.beta.kubernetes.io/zone'];
const controlPlane = (node: ClusterNode) => 'node-role.kubernetes.io/control-plane' in node.labels || 'node-role.kubernetes.io/master' in node.labels;

/** Sessions of a full mesh of n nodes, and with r reflectors: each client peers with each reflector, the reflectors with each other. */
export const meshSessions = (n: number) => (n * (n - 1)) / 2;
export const reflectorSessions = (n: number, r: number) => r * (n - r) + (r * (r - 1)) / 2;

export function describeNodes(nodes: ClusterNode[], meshEnabled: boolean): ReflectorNode[] {
  const anyReflector = nodes.some((n) => n.routeReflectorClusterId);
  return nodes.map((node) => {
    const role: BgpRole = !node.ipv4Address ? 'none' : node.routeReflectorClusterId ? 'reflector' : anyReflector ? 'client' : meshEnabled ? 'mesh' : 'none';
    const zone = zoneOf(node);
    return {
      name: node.name,
      role,
      ...(node.ipv4Address ? { address: formatIPv4(node.ipv4Address.address), subnet: formatCidr(subnetOf(node.ipv4Address)) } : {}),
      ...(zone ? { zone } : {}),
      ...(node.routeReflectorClusterId ? { clusterId: node.routeReflectorClusterId } : {}),
    };
  });
}

/**
 * The reflectors to propose: the current ones first (moving them would cost sessions), then, one
 * at a time, a node from the zone and subnet with the fewest reflectors so far (a zone or subnet
 * cut off keeps reflectors elsewhere), a control-plane node before a worker (fewer pods come and
 * go there), by name for ties.
 */
export function pickReflectors(nodes: ClusterNode[], count: number): ReflectorCandidate[] {
  const eligible = nodes.filter((n) => n.ipv4Address).sort((a, b) => a.name.localeCompare(b.name));
  const subnet = (n: ClusterNode) => formatCidr(subnetOf(n.ipv4Address!));
  const picked: ClusterNode[] = eligible.filter((n) => n.routeReflectorClusterId).slice(0, Math.max(count, 0));
  const why = new Map<string, string>(picked.map((n) => [n.name, `a reflector already (cluster ID ${n.routeReflectorClusterId})`]));
  const tally = (key: (n: ClusterNode) => string | undefined, value: string | undefined) => picked.filter((p) => key(p) === value).length;
  while (picked.length < Math.min(count, eligible.length)) {
    const rest = eligible.filter((n) => !picked.includes(n));
    const score = (n: ClusterNode) => [tally(zoneOf, zoneOf(n)), tally(subnet, subnet(n)), controlPlane(n) ? 0 : 1];
    rest.sort((a, b) => {
      const [x, y] = [score(a), score(b)];
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return 0;
    });
    const next = rest[0]!;
    const zone = zoneOf(next);
    const reasons = [
      ...(zone ? [tally(zoneOf, zone) === 0 ? `the first in zone ${zone}` : `zone ${zone}`] : []),
      tally(subnet, subnet(next)) === 0 ? `the first in subnet ${subnet(next)}` : `subnet ${subnet(next)}`,
      ...(controlPlane(next) ? ['a control-plane node'] : []),
    ];
    why.set(next.name, reasons.join(', '));
    picked.push(next);
  }
  return picked.map((n) => {
    const zone = zoneOf(n);
    return { node: n.name, subnet: subnet(n), ...(zone ? { zone } : {}), why: why.get(n.name)! };
  });
}

/**
 * What leaves a node without the sessions it needs, judged by Calico's own peerings of every
 * node (shared/model/bgp-peerings.ts): a reflector no BGPPeer peers with anyone (Calico ignores
 * the mesh on a node with a cluster ID), a node with no session at all, a node that peers with
 * none of the reflectors while the mesh is off.
 */
export function configurationProblems(input: AdvisorInput): string[] {
  const snapshot: ClusterSnapshot = { pools: [], blocks: [], nodes: input.nodes, bgpPeers: input.bgpPeers ?? [], bgpConfigurations: input.bgpConfigurations ?? [] };
  const reflectors = input.nodes.filter((n) => n.ipv4Address && n.routeReflectorClusterId).map((n) => n.name);
  // A mesh without reflectors peers every node with every other: nothing to find, and 1000 nodes'
  // peerings cost about a second.
  if (input.meshEnabled && reflectors.length === 0) return [];
  const problems: string[] = [];
  for (const node of input.nodes) {
    if (!node.ipv4Address) continue;
    const peers = calicoPeerings(snapshot, node.name);
    if (node.routeReflectorClusterId && peers.length === 0) {
      problems.push(`${node.name} is a route reflector (cluster ID ${node.routeReflectorClusterId}) that no BGPPeer peers with any node: Calico leaves a reflector out of the mesh, so it has no BGP session. Calico's BGPPeer for reflectors: nodeSelector all(), peerSelector ${reflectorLabel} == 'true', with the label on it.`);
    } else if (peers.length === 0 && input.nodes.filter((n) => n.ipv4Address).length > 1) {
      problems.push(`${node.name} has no BGP session: the mesh is off${reflectors.length > 0 ? ' and no BGPPeer peers it with a reflector' : ' and no BGPPeer applies to it'}.`);
    } else if (!input.meshEnabled && reflectors.length > 0 && !node.routeReflectorClusterId && !peers.some((p) => p.node && reflectors.includes(p.node))) {
      problems.push(`${node.name} peers with none of the reflectors (${reflectors.join(', ')}): with the mesh off it learns no other node's routes through them.`);
    }
  }
  return problems;
}

export function adviseReflectors(input: AdvisorInput): ReflectorAdvice {
  const nodes = describeNodes(input.nodes, input.meshEnabled);
  const speaking = input.nodes.filter((n) => n.ipv4Address);
  const n = speaking.length;
  const spread = new Set(speaking.map((node) => zoneOf(node) ?? formatCidr(subnetOf(node.ipv4Address!)))).size;
  const count = Math.min(n, input.reflectors ?? Math.min(3, Math.max(2, spread)));
  const candidates = pickReflectors(input.nodes, count);
  const reflectorsNow = nodes.filter((x) => x.role === 'reflector').length;
  const topology = reflectorsNow > 0 ? (input.meshEnabled ? 'mesh-and-reflectors' : 'reflectors') : input.meshEnabled ? 'mesh' : 'none';
  const { consider, advised, stalledAt } = meshThresholds;
  const level = n > advised ? 'advised' : n >= consider ? 'consider' : 'mesh-fine';
  const mesh = meshSessions(n);
  const withReflectors = reflectorSessions(n, candidates.length);
  const reasons = [
    `${n} nodes speak BGP: a full mesh is ${mesh} sessions, ${Math.max(n - 1, 0)} on every node; with ${candidates.length} reflectors it is ${withReflectors}, ${candidates.length} on each client.`,
    level === 'mesh-fine'
      ? `Under ${consider} nodes the mesh is what Calico recommends: reflectors would add a hop of configuration for no gain.`
      : level === 'consider'
        ? `From ${consider} to ${advised} nodes Calico suggests considering route reflectors: every node joining the mesh opens a session on every other.`
        : `Beyond ${advised} nodes Calico advises route reflectors; in calico#1579 a 1000-node mesh stalled at about ${stalledAt}.`,
    ...(topology === 'mesh-and-reflectors' ? ['Reflectors are configured and the mesh is still on: a migration was left between its steps (run it again to finish, or back to the mesh).'] : []),
    ...(spread > 1 ? [`The candidates cover ${new Set(candidates.map((c) => c.zone ?? c.subnet)).size} of the ${spread} zones or subnets.`] : []),
  ];
  return {
    context: input.context,
    topology,
    nodes,
    meshSessions: mesh,
    meshSessionsPerNode: Math.max(n - 1, 0),
    reflectorSessions: withReflectors,
    level,
    thresholds: { consider, advised, stalledAt },
    reasons,
    problems: configurationProblems(input),
    candidates,
    ...(input.sessions ? { sessions: input.sessions } : {}),
  };
}
