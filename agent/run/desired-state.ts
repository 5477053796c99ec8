// From what the datastore and BGP know to what this node should do, as data, the way Felix's
// calculation graph and confd's BIRD templates do it: the dataplane document (pools, own blocks,
// local pods, the other nodes, BGP-learned routes) and the BGP speaker's configuration (the mesh
// of all other nodes with the lexical passive rule, explicit BGPPeers, own blocks announced).
// Pure functions: the same inputs give the same outputs, so they are tested without a cluster.
import type { SpeakerConfigFile } from '../bgp/config.ts';
import { configSchema as speakerConfigSchema } from '../bgp/config.ts';
import { effectiveBgpSettings } from '../../shared/model/bgp-configuration.ts';
import { parsePeerAddress } from '../../shared/model/bgp-peer.ts';
import { dataplaneStateSchema, type DataplaneState } from '../../shared/model/dataplane-state.ts';
import type { IPPool } from '../../shared/model/ippool.ts';
import { caliInterfaceName, containsCidr, formatIPv4, formatInterfaceAddress, parseCidr, type InterfaceAddress } from '../../shared/net/index.ts';
import type { ClusterNode, ClusterSnapshot } from '../datastore/datastore.ts';
import { selects } from '../datastore/selector.ts';
import { addressAt } from '../ipam/block-allocations.ts';

export interface LocalFacts {
  nodeName: string;
  /** The host interface (ens5, eth0). */
  interface: string;
  /** The node's address with its subnet's prefix length. */
  address: InterfaceAddress;
  ipipTunnelAddress?: string;
  vxlanTunnelAddress?: string;
}

export interface BgpRoute {
  cidr: string;
  nextHop: string;
}

const podHandlePrefix = 'k8s-pod-network.';

function blocksOf(snapshot: ClusterSnapshot, node: string) {
  return snapshot.blocks.filter((b) => b.spec.affinity === `host:${node}`);
}

const enabled = (pools: IPPool[]) => pools.filter((p) => !p.spec.disabled);

/** BGP runs unless every enabled pool is a VXLAN pool (Calico runs no BIRD in VXLAN-only clusters). */
export function bgpWanted(pools: IPPool[]): boolean {
  const active = enabled(pools);
  return active.length === 0 || active.some((p) => p.spec.vxlanMode === 'Never');
}

/** The dataplane document for this node. `bgpRoutes` undefined: remote blocks from IPAM for every pool. */
export function desiredDataplane(snapshot: ClusterSnapshot, local: LocalFacts, bgpRoutes: BgpRoute[] | undefined): DataplaneState {
  // Local pods, from the allocations of this node's blocks (what Calico's CNI plugin recorded).
  const endpoints = blocksOf(snapshot, local.nodeName).flatMap((block) =>
    block.spec.allocations.flatMap((index, ordinal) => {
      const attributes = index === null ? undefined : block.spec.attributes[index];
      const pod = attributes?.secondary?.pod;
      if (!attributes?.handle_id?.startsWith(podHandlePrefix) || !pod) return [];
      const namespace = attributes.secondary?.namespace ?? 'default';
      return [{ name: `${namespace}/${pod}`, ip: addressAt(block.spec.cidr, ordinal), interface: caliInterfaceName(namespace, pod) }];
    }),
  );
  const peers = snapshot.nodes
    .filter((n): n is ClusterNode & { ipv4Address: InterfaceAddress } => n.name !== local.nodeName && n.ipv4Address !== undefined)
    .map((n) => ({
      name: n.name,
      address: formatInterfaceAddress(n.ipv4Address),
      blocks: blocksOf(snapshot, n.name).map((b) => b.spec.cidr),
      ...(n.vxlanTunnelAddress ? { vxlanTunnelAddress: n.vxlanTunnelAddress } : {}),
      ...(n.vxlanTunnelMac ? { vxlanMac: n.vxlanTunnelMac } : {}),
    }));
  return dataplaneStateSchema.parse({
    node: {
      name: local.nodeName,
      interface: local.interface,
      address: formatInterfaceAddress(local.address),
      ...(local.ipipTunnelAddress ? { ipipTunnelAddress: local.ipipTunnelAddress } : {}),
      ...(local.vxlanTunnelAddress ? { vxlanTunnelAddress: local.vxlanTunnelAddress } : {}),
    },
    pools: snapshot.pools.map((p) => ({
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
    ...(bgpRoutes ? { bgpRoutes } : {}),
  });
}

/** The blocks this node announces: its own, from pools that are neither disabled nor kept out of BGP. */
export function announcedBlocks(snapshot: ClusterSnapshot, nodeName: string): string[] {
  const exporting = snapshot.pools.filter((p) => !p.spec.disabled && !p.spec.disableBGPExport);
  return blocksOf(snapshot, nodeName)
    .map((b) => b.spec.cidr)
    .filter((cidr) => exporting.some((p) => containsCidr(p.cidr, parseCidr(cidr))))
    .sort();
}

/** The speaker's configuration, or undefined when this node runs no BGP. */
export function desiredBgp(snapshot: ClusterSnapshot, local: LocalFacts): SpeakerConfigFile | undefined {
  if (!bgpWanted(snapshot.pools)) return undefined;
  const settings = effectiveBgpSettings(snapshot.bgpConfigurations, local.nodeName);
  const me = snapshot.nodes.find((n) => n.name === local.nodeName);
  const asn = me?.asNumber ?? settings.asNumber;
  const ip = formatIPv4(local.address.address);
  const peers: Array<{ address: string; asn: number; port?: number; description: string }> = [];
  if (settings.nodeToNodeMeshEnabled) {
    for (const node of snapshot.nodes) {
      if (node.name === local.nodeName || !node.ipv4Address) continue;
      peers.push({ address: formatIPv4(node.ipv4Address.address), asn: node.asNumber ?? settings.asNumber, port: settings.listenPort, description: `node ${node.name}` });
    }
  }
  const labels = me?.labels ?? {};
  for (const peer of snapshot.bgpPeers) {
    const spec = peer.spec;
    const forMe = spec.node ? spec.node === local.nodeName : spec.nodeSelector ? selects(spec.nodeSelector, labels) : true;
    if (!forMe || !spec.peerIP) continue;
    const target = parsePeerAddress(spec.peerIP);
    if (!target || target.address === ip || peers.some((p) => p.address === target.address)) continue;
    peers.push({ address: target.address, asn: spec.asNumber ?? asn, ...(target.port ? { port: target.port } : {}), description: `BGPPeer ${peer.metadata.name}` });
  }
  return speakerConfigSchema.parse({
    routerId: ip,
    asn,
    listen: `${ip}:${settings.listenPort}`,
    peers: peers.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0)),
    announce: announcedBlocks(snapshot, local.nodeName),
  });
}
