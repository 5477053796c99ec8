// What the reflector migration waits for before each step that takes sessions away: pure
// judgements over every node's sessions and RIB (read from the agents by reflector-cluster.ts).
// Each returns what is still missing, in words; an empty list means the step may go on.

/** One node's BGP as its agent answers `bgp.status` and `bgp.routes`. */
export interface NodeBgp {
  /** Peer address -> session Established. */
  sessions: Map<string, boolean>;
  /** Prefix -> the addresses of the peers that sent a path for it (the speaker's own: "local"). */
  paths: Map<string, Set<string>>;
}

export interface ClusterBgp {
  /** Node name -> its BGP address. */
  addresses: Map<string, string>;
  /** IPAM block -> the node it is affine to. */
  blocks: Map<string, string>;
  /** Node name -> its BGP, or why it could not be read. */
  bgp: Map<string, NodeBgp | string>;
}

function each(cluster: ClusterBgp, check: (node: string, bgp: NodeBgp) => string[]): string[] {
  const missing: string[] = [];
  for (const node of cluster.addresses.keys()) {
    const bgp = cluster.bgp.get(node);
    if (bgp === undefined || typeof bgp === 'string') missing.push(`${node}: its BGP could not be read${bgp ? ` (${bgp})` : ''}`);
    else missing.push(...check(node, bgp));
  }
  return missing;
}

const others = (cluster: ClusterBgp, node: string) => [...cluster.addresses.keys()].filter((n) => n !== node);
const blocksNotOf = (cluster: ClusterBgp, node: string) => [...cluster.blocks].filter(([, owner]) => owner !== node && cluster.addresses.has(owner));

/** Sessions of `node` with each of `peers` that are not Established. */
function sessionsMissing(cluster: ClusterBgp, node: string, bgp: NodeBgp, peers: string[]): string[] {
  return peers.flatMap((peer) => (bgp.sessions.get(cluster.addresses.get(peer)!) ? [] : [`${node}: no Established session with ${peer}`]));
}

/**
 * Before the mesh goes: every client has an Established session with every reflector and, for
 * every other node's block, a path from each reflector (the reflected copy it keeps once the mesh
 * peer's is gone); every reflector has sessions with every other node and a path to every block.
 */
export function reflectedEverywhere(cluster: ClusterBgp, reflectors: string[]): string[] {
  return each(cluster, (node, bgp) => {
    if (reflectors.includes(node)) {
      const missing = sessionsMissing(cluster, node, bgp, others(cluster, node));
      for (const [block, owner] of blocksNotOf(cluster, node)) if (!bgp.paths.get(block)?.size) missing.push(`${node}: no path to ${owner}'s ${block}`);
      return missing;
    }
    const missing = sessionsMissing(cluster, node, bgp, reflectors);
    for (const [block, owner] of blocksNotOf(cluster, node)) {
      for (const reflector of reflectors) {
        if (!bgp.paths.get(block)?.has(cluster.addresses.get(reflector)!)) missing.push(`${node}: ${owner}'s ${block} not yet received from ${reflector}`);
      }
    }
    return missing;
  });
}

/**
 * Before the reflectors go: every node that is not a reflector has an Established session with
 * every other such node and, from it, a path for its blocks (the mesh's copy, kept once the
 * reflected one is withdrawn).
 */
export function meshedEverywhere(cluster: ClusterBgp, reflectors: string[]): string[] {
  const meshed = (n: string) => !reflectors.includes(n);
  return each(cluster, (node, bgp) => {
    if (!meshed(node)) return [];
    const peers = others(cluster, node).filter(meshed);
    const missing = sessionsMissing(cluster, node, bgp, peers);
    for (const [block, owner] of blocksNotOf(cluster, node)) {
      if (meshed(owner) && !bgp.paths.get(block)?.has(cluster.addresses.get(owner)!)) missing.push(`${node}: ${owner}'s ${block} not yet received from ${owner}`);
    }
    return missing;
  });
}

/** The full mesh: every node with every other, each block from its own node. */
export function fullMesh(cluster: ClusterBgp): string[] {
  return meshedEverywhere(cluster, []);
}

/** Every node has a path to every other node's block, however it came. */
export function routedEverywhere(cluster: ClusterBgp): string[] {
  return each(cluster, (node, bgp) => blocksNotOf(cluster, node).flatMap(([block, owner]) => (bgp.paths.get(block)?.size ? [] : [`${node}: no path to ${owner}'s ${block}`])));
}

/** Sessions of clients with anyone but the reflectors: the mesh is not gone yet on them. */
export function meshSessionsLeft(cluster: ClusterBgp, reflectors: string[]): string[] {
  const reflectorAddresses = new Set(reflectors.map((r) => cluster.addresses.get(r)));
  return each(cluster, (node, bgp) => {
    if (reflectors.includes(node)) return [];
    return [...bgp.sessions.keys()].filter((address) => !reflectorAddresses.has(address)).map((address) => `${node}: still peers with ${address}`);
  });
}
