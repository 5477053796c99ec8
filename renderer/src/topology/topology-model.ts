// What the topology view draws, from what the console knows without asking a node: the cluster's
// nodes (zone label, InternalIP), each agent's published status (its address with the subnet's
// prefix, its BGP sessions, the mode it programs), and the doctor's node-pair table when there
// is one. Nodes are grouped by zone, then subnet; a collapsed group is drawn as one box, and the
// sessions of its nodes become edges of the box. Every edge is a bundle of BGP sessions between
// two boxes (or nodes), coloured by the encapsulation pod traffic takes between them.
//
// Sessions: an agent lists each session while it has at most 32, else only those not established
// (shared/model/node-agent-status.ts), so a large mesh is known by its counts: a node whose
// listed sessions are mesh sessions, or which lists only failing ones and counts a session for
// every other node, is a member of the full mesh, and the mesh's sessions are counted per pair of
// boxes rather than listed (500 nodes are 124,750 of them). Other sessions (route reflectors,
// BGPPeers) are drawn one by one, to the node whose address is the peer's, else to an outside peer.
import type { ClusterNode } from '../../../shared/api/console-contract.ts';
import type { NodeStatusEntry } from '../../../shared/api/node-status-contract.ts';
import { expectedEncap, type Encap } from '../../../shared/doctor/encapsulation.ts';
import type { ClusterNodeFacts, PoolFacts } from '../../../shared/doctor/evidence.ts';
import type { NodePairTable } from '../../../shared/doctor/pairs.ts';
import { formatCidr, parseInterfaceAddress, subnetOf } from '../../../shared/net/cidr.ts';
import { appliedModes, type AppliedMode } from '../../../shared/model/node-encapsulation.ts';

export type EdgeEncap = Encap | 'mixed' | 'unknown';

export interface TopologyNode {
  name: string;
  zone: string;
  subnet: string;
  address: string | undefined;
  health: string;
  established: number;
  total: number;
  mesh: boolean;
}

export interface TopologyGroup {
  id: string;
  kind: 'zone' | 'subnet';
  label: string;
  /** The zone a subnet group is in. */
  parent?: string;
  nodes: string[];
}

/** A box or a node as drawn: a node whose subnet is expanded, a collapsed subnet, a collapsed zone, or a peer outside the cluster. */
export interface Element {
  id: string;
  kind: 'node' | 'subnet' | 'zone' | 'outside';
  label: string;
  /** The expanded group it is drawn in. */
  parent?: string;
  nodes: number;
  /** The mesh's sessions between nodes of a group box, and how many are down. */
  inside?: { sessions: number; down: number; encapsulation: EdgeEncap };
  unhealthy: number;
  node?: TopologyNode;
}

export interface Edge {
  id: string;
  source: string;
  target: string;
  kind: 'mesh' | 'peer';
  sessions: number;
  down: number;
  encapsulation: EdgeEncap;
}

export interface TopologyInput {
  nodes: readonly ClusterNode[];
  statuses: ReadonlyMap<string, NodeStatusEntry>;
  /** The doctor's pair table, when it was read (small clusters): the encapsulation of each node pair. */
  pairs?: NodePairTable | undefined;
}

export interface Topology {
  nodes: Map<string, TopologyNode>;
  groups: TopologyGroup[];
  /** Where the encapsulations came from, in words for the legend. */
  encapsulationSource: string;
  /** The encapsulation from one node to another. */
  encapsulation(from: string, to: string): EdgeEncap;
  /** Mesh members by name, and the sessions listed as down, as unordered pairs `a b` (a < b). */
  meshDown: Set<string>;
  /** Sessions that are not the mesh's: node -> peer node (or outside address). */
  peerings: Array<{ from: string; to: string; outside: boolean; down: boolean }>;
}

const noZone = 'no zone';
const noSubnet = 'no address';

function subnetText(annotation: string | undefined): string | undefined {
  if (!annotation) return undefined;
  try {
    return formatCidr(subnetOf(parseInterfaceAddress(annotation)));
  } catch {
    return undefined;
  }
}

/** A pool as an agent programs it (`IPIP CrossSubnet`), as the doctor's rule takes it. */
function poolFromMode(name: string, cidr: string, mode: string): PoolFacts | undefined {
  if (!(appliedModes as readonly string[]).includes(mode)) return undefined;
  const [kind, value] = (mode as AppliedMode).split(' ') as ['IPIP' | 'VXLAN' | 'Never', 'Always' | 'CrossSubnet' | undefined];
  return { name, cidr, ipipMode: kind === 'IPIP' ? value! : 'Never', vxlanMode: kind === 'VXLAN' ? value! : 'Never', natOutgoing: false, disabled: false };
}

const pairKey = (a: string, b: string) => (a < b ? `${a} ${b}` : `${b} ${a}`);

export function buildTopology(input: TopologyInput): Topology {
  const nodes = new Map<string, TopologyNode>();
  const byAddress = new Map<string, string>();
  const statusOf = (name: string) => input.statuses.get(name)?.status;
  const bgpNodes = input.nodes.filter((n) => statusOf(n.name)?.bgp.running).length;
  for (const node of [...input.nodes].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))) {
    const entry = input.statuses.get(node.name);
    const status = entry?.status;
    const internal = node.addresses.find((a) => a.type === 'InternalIP')?.address;
    const address = status?.address?.split('/')[0] ?? internal;
    if (address) byAddress.set(address, node.name);
    const listedMesh = status?.bgp.sessions.some((s) => s.type === 'node-to-node mesh') ?? false;
    const countedMesh = status?.bgp.listed === 'not-established' && status.bgp.total >= bgpNodes - 1;
    nodes.set(node.name, {
      name: node.name,
      zone: node.zone ?? noZone,
      subnet: subnetText(status?.address) ?? (internal ? `${internal}/?` : noSubnet),
      address,
      health: !entry ? 'no status' : !status ? 'invalid' : entry.stale ? 'stale' : status.health,
      established: status?.bgp.established ?? 0,
      total: status?.bgp.total ?? 0,
      mesh: Boolean(status?.bgp.running) && (listedMesh || countedMesh),
    });
  }

  const groups: TopologyGroup[] = [];
  const zones = new Map<string, Map<string, string[]>>();
  for (const node of nodes.values()) {
    const subnets = zones.get(node.zone) ?? new Map<string, string[]>();
    zones.set(node.zone, subnets);
    subnets.set(node.subnet, [...(subnets.get(node.subnet) ?? []), node.name]);
  }
  for (const [zone, subnets] of [...zones].sort(([a], [b]) => a.localeCompare(b))) {
    const zoneId = `zone:${zone}`;
    groups.push({ id: zoneId, kind: 'zone', label: zone, nodes: [...subnets.values()].flat() });
    for (const [subnet, names] of [...subnets].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))) {
      groups.push({ id: `subnet:${zone}:${subnet}`, kind: 'subnet', label: subnet, parent: zoneId, nodes: names });
    }
  }

  // The mesh's failing sessions (listed by one end or both) and every other session.
  const meshDown = new Set<string>();
  const peerings: Topology['peerings'] = [];
  const seen = new Set<string>();
  for (const node of nodes.values()) {
    for (const session of statusOf(node.name)?.bgp.sessions ?? []) {
      const peer = byAddress.get(session.address);
      const down = session.state !== 'Established';
      if (session.type === 'node-to-node mesh' && peer && node.mesh && nodes.get(peer)?.mesh) {
        if (down) meshDown.add(pairKey(node.name, peer));
        continue;
      }
      const key = peer ? pairKey(node.name, peer) : `${node.name} ${session.address}`;
      if (seen.has(key)) continue;
      seen.add(key);
      peerings.push({ from: node.name, to: peer ?? session.address, outside: !peer, down });
    }
  }

  // The encapsulation of each pair: the doctor's table when read, else the doctor's own rule for
  // one pair of nodes of each two subnets, with the pool's mode as the agents program it (Calico
  // compares the source's subnet with the destination's address, the same for every node of a subnet).
  let encapsulation: (from: string, to: string) => EdgeEncap;
  let encapsulationSource: string;
  if (input.pairs && input.pairs.pairs.length > 0) {
    const pool = input.pairs.pools[0];
    const table = new Map(input.pairs.pairs.filter((p) => p.pool === pool).map((p) => [`${p.from} ${p.to}`, p.encapsulation as Encap]));
    encapsulation = (from, to) => (from === to ? 'local' : (table.get(`${from} ${to}`) ?? 'unknown'));
    encapsulationSource = `the doctor's node-pair table (pool ${pool})`;
  } else {
    const poolStatus = [...input.statuses.values()].find((e) => e.status?.pools[0])?.status?.pools[0];
    const pool = poolStatus && poolFromMode(poolStatus.name, poolStatus.cidr, poolStatus.mode);
    const facts = (name: string): ClusterNodeFacts => {
      const status = statusOf(name);
      const address = nodes.get(name)?.address;
      return { name, ...(status?.address ? { ipv4Address: status.address } : {}), ...(address ? { internalIp: address } : {}) };
    };
    const bySubnets = new Map<string, EdgeEncap>();
    encapsulation = (from, to) => {
      if (from === to) return 'local';
      if (!pool) return 'unknown';
      const a = nodes.get(from)!;
      const b = nodes.get(to)!;
      const key = `${a.subnet} ${b.subnet}`;
      let found = bySubnets.get(key);
      if (found === undefined) {
        found = expectedEncap(pool, facts(from), facts(to)).encap;
        bySubnets.set(key, found);
      }
      return found;
    };
    encapsulationSource = pool ? `the doctor's rule for pool ${pool.name} as the agents program it (${poolStatus!.mode}), one pair of nodes per two subnets` : 'no pool is known';
  }
  return { nodes, groups, encapsulationSource, encapsulation, meshDown, peerings };
}

const combine = (a: EdgeEncap | undefined, b: EdgeEncap): EdgeEncap => (a === undefined || a === b ? b : 'mixed');

/** The elements and edges to draw with the groups in `collapsed` drawn as single boxes. */
export function visibleGraph(topology: Topology, collapsed: ReadonlySet<string>): { elements: Element[]; edges: Edge[] } {
  const elements: Element[] = [];
  /** Each node's element: itself, its collapsed subnet or its collapsed zone. */
  const drawnAs = new Map<string, string>();
  /**
   * Where a node's mesh sessions are drawn: its subnet's box (open or not), or its collapsed zone.
   * A mesh drawn node to node is a hairball past a dozen nodes; per pair of subnets it is a few
   * lines, each with its count, and the sessions within a subnet are its box's.
   */
  const meshAt = new Map<string, string>();
  const unhealthy = (names: string[]) => names.filter((n) => topology.nodes.get(n)!.health !== 'Ready').length;
  for (const group of topology.groups) {
    if (group.kind === 'zone') {
      const shut = collapsed.has(group.id);
      elements.push({ id: group.id, kind: 'zone', label: group.label, nodes: group.nodes.length, unhealthy: unhealthy(group.nodes) });
      if (shut)
        for (const n of group.nodes) {
          drawnAs.set(n, group.id);
          meshAt.set(n, group.id);
        }
      continue;
    }
    if (collapsed.has(group.parent!)) continue;
    const shut = collapsed.has(group.id);
    elements.push({ id: group.id, kind: 'subnet', label: group.label, parent: group.parent!, nodes: group.nodes.length, unhealthy: unhealthy(group.nodes) });
    for (const name of group.nodes) {
      meshAt.set(name, group.id);
      if (shut) drawnAs.set(name, group.id);
      else {
        drawnAs.set(name, `node:${name}`);
        const node = topology.nodes.get(name)!;
        elements.push({ id: `node:${name}`, kind: 'node', label: name, parent: group.id, nodes: 1, unhealthy: node.health === 'Ready' ? 0 : 1, node });
      }
    }
  }

  // The mesh, counted per pair of elements: members(A) x members(B), less the sessions listed as down.
  const members = new Map<string, string[]>();
  for (const node of topology.nodes.values()) if (node.mesh) members.set(meshAt.get(node.name)!, [...(members.get(meshAt.get(node.name)!) ?? []), node.name]);
  const bundles = new Map<string, Edge>();
  const inside = new Map<string, NonNullable<Element['inside']>>();
  const ids = [...members.keys()];
  /** Two nodes of each subnet among `names`: enough for every kind of pair (within a subnet, across two). */
  const representatives = (names: string[]) => {
    const bySubnet = new Map<string, string[]>();
    for (const name of names) {
      const subnet = topology.nodes.get(name)!.subnet;
      const kept = bySubnet.get(subnet) ?? [];
      if (kept.length < 2) bySubnet.set(subnet, [...kept, name]);
    }
    return [...bySubnet.values()].flat();
  };
  for (let i = 0; i < ids.length; i++) {
    for (let j = i; j < ids.length; j++) {
      const a = members.get(ids[i]!)!;
      const b = members.get(ids[j]!)!;
      const sessions = i === j ? (a.length * (a.length - 1)) / 2 : a.length * b.length;
      if (sessions === 0) continue;
      // One pair of nodes per two subnets decides for all their pairs (a node registered as a /32 is a subnet of its own).
      let encapsulation: EdgeEncap | undefined;
      const ra = representatives(a);
      const rb = i === j ? ra : representatives(b);
      for (const x of ra) for (const y of rb) if (x !== y) encapsulation = combine(encapsulation, topology.encapsulation(x, y));
      if (i === j) inside.set(ids[i]!, { sessions, down: 0, encapsulation: encapsulation ?? 'local' });
      else bundles.set(pairKey(ids[i]!, ids[j]!), { id: `mesh ${pairKey(ids[i]!, ids[j]!)}`, source: ids[i]!, target: ids[j]!, kind: 'mesh', sessions, down: 0, encapsulation: encapsulation ?? 'unknown' });
    }
  }
  for (const pair of topology.meshDown) {
    const [x, y] = pair.split(' ') as [string, string];
    const a = meshAt.get(x)!;
    const b = meshAt.get(y)!;
    if (a === b) inside.get(a)!.down++;
    else bundles.get(pairKey(a, b))!.down++;
  }
  // Every other session, one by one, bundled per pair of elements.
  for (const peering of topology.peerings) {
    const a = drawnAs.get(peering.from)!;
    let b = drawnAs.get(peering.to);
    if (peering.outside) {
      b = `outside:${peering.to}`;
      if (!elements.some((e) => e.id === b)) elements.push({ id: b, kind: 'outside', label: `${peering.to} (outside the cluster)`, nodes: 0, unhealthy: 0 });
    }
    if (!b || a === b) continue;
    const key = `peer ${pairKey(a, b)}`;
    const encapsulation = peering.outside ? 'direct' : topology.encapsulation(peering.from, peering.to);
    const edge = bundles.get(key) ?? { id: key, source: a, target: b, kind: 'peer' as const, sessions: 0, down: 0, encapsulation };
    edge.sessions++;
    if (peering.down) edge.down++;
    edge.encapsulation = combine(edge.encapsulation, encapsulation);
    bundles.set(key, edge);
  }
  for (const element of elements) {
    const within = inside.get(element.id);
    if (within && element.kind !== 'node') element.inside = within;
  }
  return { elements, edges: [...bundles.values()] };
}
