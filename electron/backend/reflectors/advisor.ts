// Whether a cluster's BGP should move from the node-to-node mesh to route reflectors, and which
// nodes would make good reflectors: pure, from the cluster's objects (reflector-cluster.ts reads them).
import { meshThresholds, type BgpRole, type ReflectorAdvice, type ReflectorCandidate, type ReflectorNode } from '../../../shared/api/reflectors-contract.ts';
import type { ClusterNode } from '../../../shared/model/cluster-snapshot.ts';
import { formatCidr, formatIPv4, subnetOf } from '../../../shared/net/index.ts';

export interface AdvisorInput {
  context: string;
  nodes: ClusterNode[];
  meshEnabled: boolean;
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
    candidates,
    ...(input.sessions ? { sessions: input.sessions } : {}),
  };
}
