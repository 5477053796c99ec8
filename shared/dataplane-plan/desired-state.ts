// From the cluster's objects to what one node's dataplane should be, as data, the way Felix's
// calculation graph does it: the node's pools, own blocks, local pods (from IPAM, as Calico's CNI
// plugin recorded them), the other nodes with their blocks and VTEPs, and the BGP-learned routes.
// The agent runs it for its own node; the console can run it for any node, from the same objects.
// Pure: the same inputs give the same outputs.
import { addressAt } from '../model/block-allocations.ts';
import type { ClusterNode, ClusterSnapshot } from '../model/cluster-snapshot.ts';
import { dataplaneStateSchema, type DataplaneState } from '../model/dataplane-state.ts';
import type { Encapsulation } from '../model/node-encapsulation.ts';
import { caliInterfaceName, formatIPv4, formatInterfaceAddress, isIPv4, type InterfaceAddress } from '../net/index.ts';
import { allFromPeers, effectivePools } from './mode-switch.ts';

export interface LocalFacts {
  nodeName: string;
  /** The host interface (ens5, eth0). */
  interface: string;
  /** The node's address with its subnet's prefix length. */
  address: InterfaceAddress;
  ipipTunnelAddress?: string;
  vxlanTunnelAddress?: string;
  /**
   * Encapsulations to keep receiving for peers that still send them during a mode switch; absent:
   * every one they may send (allFromPeers). The agent passes its own, bounded in time.
   */
  keepAccepting?: Encapsulation[];
}

export interface BgpRoute {
  cidr: string;
  nextHop: string;
}

const podHandlePrefix = 'k8s-pod-network.';

export function blocksOf(snapshot: ClusterSnapshot, node: string) {
  return snapshot.blocks.filter((b) => b.spec.affinity === `host:${node}`);
}

interface PodAllocation {
  ip: string;
  namespace: string;
  pod: string;
  block: string;
  /** The address is in another node's block. */
  borrowed: boolean;
}

/**
 * The pods on `node`, from IPAM: allocations in its own blocks, except those another node
 * borrowed (their attributes name that node), and allocations in other nodes' blocks that name
 * `node` (borrowed by it, as Calico's autoAssign records them).
 */
export function podsOf(snapshot: ClusterSnapshot, node: string): PodAllocation[] {
  const affinity = `host:${node}`;
  return snapshot.blocks.flatMap((block) => {
    const own = block.spec.affinity === affinity;
    return block.spec.allocations.flatMap((index, ordinal) => {
      const attributes = index === null ? undefined : block.spec.attributes[index];
      const pod = attributes?.secondary?.pod;
      if (!attributes?.handle_id?.startsWith(podHandlePrefix) || !pod) return [];
      const holder = attributes.secondary?.node;
      if (own ? holder !== undefined && holder !== node : holder !== node) return [];
      return [{ ip: addressAt(block.spec.cidr, ordinal), namespace: attributes.secondary?.namespace ?? 'default', pod, block: block.spec.cidr, borrowed: !own }];
    });
  });
}

/** The /32s of the addresses `node` borrowed from other nodes' blocks: routed to it, not to the block's owner. */
export function borrowedRoutes(snapshot: ClusterSnapshot, node: string): string[] {
  return podsOf(snapshot, node)
    .filter((p) => p.borrowed)
    .map((p) => `${p.ip}/32`)
    .sort();
}

/**
 * Every address a cluster host may send tunnel packets from: each Node's Calico address (the
 * IPv4Address annotation) and its Kubernetes InternalIP, as Felix's all-hosts ipset holds them.
 */
export function clusterHostAddresses(snapshot: ClusterSnapshot): string[] {
  const addresses = new Set<string>();
  for (const node of snapshot.nodes) {
    if (node.ipv4Address) addresses.add(formatIPv4(node.ipv4Address.address));
    if (node.internalIP && isIPv4(node.internalIP)) addresses.add(node.internalIP);
  }
  return [...addresses].sort();
}

/** The dataplane document for this node. `bgpRoutes` undefined: remote blocks from IPAM for every pool. */
export function desiredDataplane(snapshot: ClusterSnapshot, local: LocalFacts, bgpRoutes: BgpRoute[] | undefined): DataplaneState {
  // Local pods, from the allocations recorded for this node (what Calico's CNI plugin recorded):
  // in its own blocks, and borrowed from other nodes' blocks.
  const endpoints = podsOf(snapshot, local.nodeName).map((p) => ({ name: `${p.namespace}/${p.pod}`, ip: p.ip, interface: caliInterfaceName(p.namespace, p.pod) }));
  const peers = snapshot.nodes
    .filter((n): n is ClusterNode & { ipv4Address: InterfaceAddress } => n.name !== local.nodeName && n.ipv4Address !== undefined)
    .map((n) => ({
      name: n.name,
      address: formatInterfaceAddress(n.ipv4Address),
      blocks: blocksOf(snapshot, n.name).map((b) => b.spec.cidr),
      borrowed: borrowedRoutes(snapshot, n.name),
      ...(n.vxlanTunnelAddress ? { vxlanTunnelAddress: n.vxlanTunnelAddress } : {}),
      ...(n.vxlanTunnelMac ? { vxlanMac: n.vxlanTunnelMac } : {}),
      ...(n.encapsulations ? { accepts: n.encapsulations.accepts } : {}),
    }));
  // A staged rollout's override for this node: its pools' modes, for this node only.
  const me = snapshot.nodes.find((n) => n.name === local.nodeName);
  const pools = effectivePools(snapshot.pools, me?.poolModes);
  const keepAccepting = local.keepAccepting ?? allFromPeers(snapshot, local.nodeName);
  const document = dataplaneStateSchema.parse({
    node: {
      name: local.nodeName,
      interface: local.interface,
      address: formatInterfaceAddress(local.address),
      ...(local.ipipTunnelAddress ? { ipipTunnelAddress: local.ipipTunnelAddress } : {}),
      ...(local.vxlanTunnelAddress ? { vxlanTunnelAddress: local.vxlanTunnelAddress } : {}),
      tunnelAddressesAllocated: true,
      ...(keepAccepting.length > 0 ? { keepAccepting } : {}),
    },
    pools: pools.map((p) => ({
      name: p.metadata.name,
      cidr: p.spec.cidr,
      blockSize: p.spec.blockSize,
      ipipMode: p.spec.ipipMode,
      vxlanMode: p.spec.vxlanMode,
      natOutgoing: p.spec.natOutgoing,
      disabled: p.spec.disabled,
    })),
    blocks: blocksOf(snapshot, local.nodeName).map((b) => b.spec.cidr),
    endpoints,
    peers,
    hosts: clusterHostAddresses(snapshot),
  });
  // The learned routes go in as they are, not through the schema: they are the speaker's best
  // paths, formatted from its RIB's numbers (valid by construction), and the plan parses each one
  // again. Checking 100k of them here took most of a recomputation while routes streamed in.
  return bgpRoutes ? { ...document, bgpRoutes } : document;
}
