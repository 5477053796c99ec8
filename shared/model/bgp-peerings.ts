// Which BGP sessions a node has under Calico's objects, as confd computes them for BIRD (its
// client.go and bird.cfg.template): the mesh, BGPPeers by address or by selector with their
// reverse peerings, route reflectors and their clients. Pure: the agent turns these into its
// speaker's peers (agent/run/desired-bgp.ts), the console judges a configuration by them
// (electron/backend/reflectors/advisor.ts).
import type { BGPPeer } from './bgp-peer.ts';
import { parsePeerAddress } from './bgp-peer.ts';
import { effectiveBgpSettings } from './bgp-configuration.ts';
import type { ClusterNode, ClusterSnapshot } from './cluster-snapshot.ts';
import { selects } from './selector.ts';
import { formatIPv4 } from '../net/index.ts';

/** One session of a node, as Calico configures it. */
export interface Peering {
  address: string;
  /** The peer's port: a node's listen port, or the one peerIP names. */
  port?: number;
  /** The peer's AS: a node's own, or the BGPPeer's asNumber (this node's when unset). */
  asn: number;
  /** The peer node, when the peer is one (the mesh, a selector, a reverse peering). */
  node?: string;
  /** The BGPPeer it comes from; none for the mesh. */
  bgpPeer?: BGPPeer;
  /** As `calicoctl node status` names it. */
  peerType: 'node-to-node mesh' | 'global' | 'node specific';
  /** This node reflects for the peer (BIRD's `rr client`). */
  routeReflectorClient: boolean;
}

/** A node as a BGPPeer's selector picks it: its address, AS, port and route reflector cluster ID. */
interface NodeTarget {
  node: string;
  address: string;
  asn: number;
  port: number;
  clusterId?: string;
}

/**
 * The sessions of `nodeName`:
 * - the mesh, unless this node is a route reflector (it has a routeReflectorClusterID: confd
 *   ignores the mesh setting then), and without the nodes that are reflectors;
 * - the BGPPeers that apply to this node (every node when neither `node` nor `nodeSelector` is
 *   set: `global` first, then the others) with the address of `peerIP`, or every node
 *   `peerSelector` selects;
 * - the reverse peerings: a BGPPeer whose `peerSelector` selects this node (or whose `peerIP`
 *   and AS are this node's) makes it peer with the nodes its `node` / `nodeSelector` picks
 *   (every node when neither is set). That is how reflectors get their clients from one
 *   `nodeSelector: all(), peerSelector: route-reflector == 'true'`.
 * The first peering to an address wins; never this node itself. A peer is a route reflector
 * client when this node has a cluster ID, the peer is in its AS, and the peer's cluster ID is
 * not the same (BIRD's `rr client; rr cluster id` in the template). `usable` leaves BGPPeers out
 * (one whose password is not known yet). A node with no address has no sessions.
 */
export function calicoPeerings(
  snapshot: ClusterSnapshot,
  nodeName: string,
  options: {
    /** The node's own address, when its Node does not say it yet (the agent knows it first). */
    address?: string;
    usable?: (peer: BGPPeer) => boolean;
  } = {},
): Peering[] {
  const me = snapshot.nodes.find((n) => n.name === nodeName);
  const ip = options.address ?? (me?.ipv4Address ? formatIPv4(me.ipv4Address.address) : undefined);
  if (!ip) return [];
  const usable = options.usable ?? (() => true);
  const settings = effectiveBgpSettings(snapshot.bgpConfigurations, nodeName);
  const asn = me?.asNumber ?? settings.asNumber;
  const myCluster = me?.routeReflectorClusterId;
  const labels = me?.labels ?? {};
  const globalAsn = effectiveBgpSettings(snapshot.bgpConfigurations).asNumber;
  const peerings: Peering[] = [];
  // A set, not a scan of the list: a 1000-node mesh is 999 peerings per node.
  const taken = new Set<string>([ip]);
  const add = (peering: Omit<Peering, 'routeReflectorClient'>, peerCluster: string | undefined) => {
    if (taken.has(peering.address)) return;
    taken.add(peering.address);
    peerings.push({ ...peering, routeReflectorClient: myCluster !== undefined && peering.asn === asn && peerCluster !== myCluster });
  };
  if (settings.nodeToNodeMeshEnabled && !myCluster) {
    for (const node of snapshot.nodes) {
      if (node.name === nodeName || !node.ipv4Address || node.routeReflectorClusterId) continue;
      add({ address: formatIPv4(node.ipv4Address.address), port: settings.listenPort, asn: node.asNumber ?? settings.asNumber, node: node.name, peerType: 'node-to-node mesh' }, undefined);
    }
  }
  const targetOf = (node: ClusterNode): NodeTarget | undefined =>
    node.ipv4Address && node.name !== nodeName
      ? {
          node: node.name,
          address: formatIPv4(node.ipv4Address.address),
          asn: node.asNumber ?? globalAsn,
          port: effectiveBgpSettings(snapshot.bgpConfigurations, node.name).listenPort,
          ...(node.routeReflectorClusterId ? { clusterId: node.routeReflectorClusterId } : {}),
        }
      : undefined;
  const nodesBy = (selector: string) => snapshot.nodes.filter((n) => selects(selector, n.labels)).flatMap((n) => targetOf(n) ?? []);
  const fromNode = (bgpPeer: BGPPeer, target: NodeTarget, peerType: Peering['peerType']) =>
    add({ address: target.address, port: target.port, asn: target.asn, node: target.node, bgpPeer, peerType }, target.clusterId);
  const isGlobal = (peer: BGPPeer) => !peer.spec.node && !peer.spec.nodeSelector;
  // confd's first loop: the BGPPeers for this node, global ones first.
  for (const global of [true, false]) {
    for (const peer of snapshot.bgpPeers) {
      const spec = peer.spec;
      if (isGlobal(peer) !== global) continue;
      const forMe = spec.node ? spec.node === nodeName : spec.nodeSelector ? selects(spec.nodeSelector, labels) : true;
      if (!forMe || !usable(peer)) continue;
      // calicoctl node status: a BGPPeer for all nodes is `global`, one with node or nodeSelector `node specific`.
      const peerType = global ? ('global' as const) : ('node specific' as const);
      if (spec.peerSelector) {
        for (const target of nodesBy(spec.peerSelector)) fromNode(peer, target, peerType);
        continue;
      }
      const target = spec.peerIP ? parsePeerAddress(spec.peerIP) : undefined;
      if (target) add({ address: target.address, ...(target.port ? { port: target.port } : {}), asn: spec.asNumber ?? asn, bgpPeer: peer, peerType }, undefined);
    }
  }
  // confd's second loop: the reverse peerings, for the nodes a BGPPeer peers with.
  for (const peer of snapshot.bgpPeers) {
    const spec = peer.spec;
    const selected = spec.peerSelector ? selects(spec.peerSelector, labels) : reverseByAddress(spec, ip, asn, globalAsn, settings.listenPort);
    if (!selected || !usable(peer)) continue;
    const others = spec.nodeSelector ? nodesBy(spec.nodeSelector) : spec.node ? snapshot.nodes.filter((n) => n.name === spec.node).flatMap((n) => targetOf(n) ?? []) : nodesBy('all()');
    for (const target of others) fromNode(peer, target, 'node specific');
  }
  return peerings;
}

/** Whether a BGPPeer's peerIP (and AS, and port when given) are this node's: confd then peers back from here. */
function reverseByAddress(spec: BGPPeer['spec'], ip: string, asn: number, globalAsn: number, listenPort: number): boolean {
  const target = spec.peerIP ? parsePeerAddress(spec.peerIP) : undefined;
  if (!target || target.address !== ip) return false;
  if ((spec.asNumber ?? globalAsn) !== asn) return false;
  return target.port === undefined || target.port === listenPort;
}
