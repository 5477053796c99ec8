// From what the datastore knows to this node's BGP, the way confd's BIRD templates do it: whether
// BGP runs, what the node announces, and the speaker's configuration (the mesh of all other nodes
// with the lexical passive rule, BGPPeers by address or by selector with their reverse peerings,
// route reflectors and their clients, own blocks announced). The dataplane's half of the desired
// state is shared/dataplane-plan/desired-state.ts. Pure functions, tested without a cluster.
import type { PeerConfigInput, SpeakerConfigFile } from '../bgp/config.ts';
import { DEFAULT_HOLD_TIME, configSchema as speakerConfigSchema } from '../bgp/config.ts';
import { bgpWanted as sharedBgpWanted } from '../../shared/dataplane-plan/bgp-wanted.ts';
import { blocksOf, borrowedRoutes, type LocalFacts } from '../../shared/dataplane-plan/desired-state.ts';
import { effectiveBgpSettings, type EffectiveBgpSettings } from '../../shared/model/bgp-configuration.ts';
import { parsePeerAddress, type BGPPeer } from '../../shared/model/bgp-peer.ts';
import type { ClusterNode, ClusterSnapshot } from '../../shared/model/cluster-snapshot.ts';
import type { IPPool } from '../../shared/model/ippool.ts';
import { containsCidr, formatIPv4, parseCidr } from '../../shared/net/index.ts';
import { selects } from '../datastore/selector.ts';
import type { ResolvedPasswords } from './peer-passwords.ts';

/** BGP runs unless every enabled pool is a VXLAN pool: the one rule, shared with the console's preview. */
export function bgpWanted(pools: IPPool[]): boolean {
  return sharedBgpWanted(pools.map((p) => ({ disabled: p.spec.disabled, vxlanMode: p.spec.vxlanMode })));
}

/** What this node announces: its own blocks and borrowed addresses, in pools that are neither disabled nor kept out of BGP. */
export function announcedBlocks(snapshot: ClusterSnapshot, nodeName: string): string[] {
  const exporting = snapshot.pools.filter((p) => !p.spec.disabled && !p.spec.disableBGPExport);
  // Borrowed addresses too, as single routes: Calico's BIRD exports the kernel's /32 of each.
  return [...blocksOf(snapshot, nodeName).map((b) => b.spec.cidr), ...borrowedRoutes(snapshot, nodeName)]
    .filter((cidr) => exporting.some((p) => containsCidr(p.cidr, parseCidr(cidr))))
    .sort();
}

/**
 * The speaker's configuration, or undefined when this node runs no BGP. A BGPPeer whose password
 * is kept in a Secret gets it from `secrets`; one whose password is not known (yet) is left out, as
 * a session without it would only be refused (unless the reference is optional and the Secret or
 * key does not exist: then it peers without one, as Calico does).
 */
export function desiredBgp(
  snapshot: ClusterSnapshot,
  local: LocalFacts,
  secrets: ResolvedPasswords = { passwords: new Map(), problems: new Map() },
  /** Keep BGP running although every pool is VXLAN: peers still route by it during a mode switch (mode-switch.ts). */
  keep = false,
): SpeakerConfigFile | undefined {
  if (!keep && !bgpWanted(snapshot.pools)) return undefined;
  const settings = effectiveBgpSettings(snapshot.bgpConfigurations, local.nodeName);
  const me = snapshot.nodes.find((n) => n.name === local.nodeName);
  const asn = me?.asNumber ?? settings.asNumber;
  const ip = formatIPv4(local.address.address);
  const peers = calicoPeers(snapshot, local.nodeName, ip, asn, settings, secrets);
  const clusterId = me?.routeReflectorClusterId;
  return speakerConfigSchema.parse({
    routerId: ip,
    asn,
    listen: `${ip}:${settings.listenPort}`,
    ...(clusterId ? { clusterId } : {}),
    peers: peers.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0)),
    announce: announcedBlocks(snapshot, local.nodeName),
  });
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
 * This node's peers as confd computes them for BIRD (its client.go and bird.cfg.template):
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
 * not the same (BIRD's `rr client; rr cluster id` in the template).
 */
function calicoPeers(
  snapshot: ClusterSnapshot,
  nodeName: string,
  ip: string,
  asn: number,
  settings: EffectiveBgpSettings,
  secrets: ResolvedPasswords,
): PeerConfigInput[] {
  const me = snapshot.nodes.find((n) => n.name === nodeName);
  const myCluster = me?.routeReflectorClusterId;
  const labels = me?.labels ?? {};
  const globalAsn = effectiveBgpSettings(snapshot.bgpConfigurations).asNumber;
  const peers: PeerConfigInput[] = [];
  const add = (peer: PeerConfigInput, peerCluster: string | undefined) => {
    if (peer.address === ip || peers.some((p) => p.address === peer.address)) return;
    const client = myCluster !== undefined && (peer.asn ?? asn) === asn && peerCluster !== myCluster;
    peers.push(client ? { ...peer, routeReflectorClient: true } : peer);
  };
  if (settings.nodeToNodeMeshEnabled && !myCluster) {
    for (const node of snapshot.nodes) {
      if (node.name === nodeName || !node.ipv4Address || node.routeReflectorClusterId) continue;
      add({ address: formatIPv4(node.ipv4Address.address), asn: node.asNumber ?? settings.asNumber, port: settings.listenPort, description: `node ${node.name}`, peerType: 'node-to-node mesh' }, undefined);
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
  const password = (peer: BGPPeer): { password?: string } | undefined => {
    const value = secrets.passwords.get(peer.metadata.name);
    const ref = peer.spec.password?.secretKeyRef;
    if (ref && value === undefined && (secrets.problems.has(peer.metadata.name) || !ref.optional)) return undefined;
    return value ? { password: value } : {};
  };
  const fromNode = (peer: BGPPeer, target: NodeTarget, peerType: 'global' | 'node specific'): PeerConfigInput => ({
    address: target.address,
    port: target.port,
    ...peerSettings(peer, asn, target.asn),
    description: `BGPPeer ${peer.metadata.name} (node ${target.node})`,
    peerType,
  });
  const isGlobal = (peer: BGPPeer) => !peer.spec.node && !peer.spec.nodeSelector;
  // confd's first loop: the BGPPeers for this node, global ones first.
  for (const global of [true, false]) {
    for (const peer of snapshot.bgpPeers) {
      const spec = peer.spec;
      if (isGlobal(peer) !== global) continue;
      const forMe = spec.node ? spec.node === nodeName : spec.nodeSelector ? selects(spec.nodeSelector, labels) : true;
      const secret = password(peer);
      if (!forMe || !secret) continue;
      // calicoctl node status: a BGPPeer for all nodes is `global`, one with node or nodeSelector `node specific`.
      const peerType = global ? ('global' as const) : ('node specific' as const);
      if (spec.peerSelector) {
        for (const target of nodesBy(spec.peerSelector)) add({ ...fromNode(peer, target, peerType), ...secret }, target.clusterId);
        continue;
      }
      const target = spec.peerIP ? parsePeerAddress(spec.peerIP) : undefined;
      if (!target) continue;
      add({ address: target.address, ...(target.port ? { port: target.port } : {}), ...peerSettings(peer, asn), ...secret, description: `BGPPeer ${peer.metadata.name}`, peerType }, undefined);
    }
  }
  // confd's second loop: the reverse peerings, for the nodes a BGPPeer peers with.
  for (const peer of snapshot.bgpPeers) {
    const spec = peer.spec;
    const selected = spec.peerSelector
      ? selects(spec.peerSelector, labels)
      : reverseByAddress(spec, ip, asn, globalAsn, settings.listenPort);
    const secret = password(peer);
    if (!selected || !secret) continue;
    const others = spec.nodeSelector ? nodesBy(spec.nodeSelector) : spec.node ? snapshot.nodes.filter((n) => n.name === spec.node).flatMap((n) => targetOf(n) ?? []) : nodesBy('all()');
    for (const target of others) add({ ...fromNode(peer, target, 'node specific'), ...secret }, target.clusterId);
  }
  return peers;
}

/** Whether a BGPPeer's peerIP (and AS, and port when given) are this node's: confd then peers back from here. */
function reverseByAddress(spec: BGPPeer['spec'], ip: string, asn: number, globalAsn: number, listenPort: number): boolean {
  const target = spec.peerIP ? parsePeerAddress(spec.peerIP) : undefined;
  if (!target || target.address !== ip) return false;
  if ((spec.asNumber ?? globalAsn) !== asn) return false;
  return target.port === undefined || target.port === listenPort;
}

/** Seconds of a Go duration (`90s`, `1m30s`, `500ms`), rounded up to a whole second. */
export function durationSeconds(text: string): number {
  const unit: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  let total = 0;
  for (const [, value, name] of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(value) * unit[name!]!;
  return Math.max(1, Math.ceil(total - 1e-9));
}

/**
 * A BGPPeer's per-peer settings as the speaker takes them, as Calico's confd renders them for
 * BIRD: keepaliveTime (`keepalive time`), maxRestartTime (`graceful restart time`),
 * sourceAddress None (no `source address`), nextHopMode (or keepOriginalNextHop), and for an
 * eBGP peer BIRD's import all / export of the node's routes (the speaker's RFC 8212 default for
 * eBGP is none). The password, kept in a Secret, comes from peer-passwords.ts. `peerAsn`: the
 * AS of a node the BGPPeer's peerSelector (or a reverse peering) picked.
 */
export function peerSettings(peer: BGPPeer, ourAsn: number, peerAsn?: number): Omit<PeerConfigInput, 'address' | 'port' | 'description'> {
  const spec = peer.spec;
  // A peer picked by selector (or a reverse peering) is a node: its own AS, not the BGPPeer's.
  const asn = peerAsn ?? spec.asNumber ?? ourAsn;
  const nextHop = spec.nextHopMode ? (spec.nextHopMode.toLowerCase() as 'auto' | 'self' | 'keep') : spec.keepOriginalNextHop ? 'keep' : undefined;
  const keepalive = spec.keepaliveTime ? Math.min(21845, durationSeconds(spec.keepaliveTime)) : undefined;
  return {
    asn,
    ...(keepalive !== undefined ? { keepaliveTime: keepalive } : {}),
    // The speaker refuses a keepalive not below the hold time; BIRD, holding 240 s, takes up to
    // that: such a peer gets three keepalives' worth of hold time instead of our 90 s.
    ...(keepalive !== undefined && keepalive >= DEFAULT_HOLD_TIME ? { holdTime: Math.min(65535, keepalive * 3) } : {}),
    ...(spec.maxRestartTime ? { restartTime: Math.min(4095, durationSeconds(spec.maxRestartTime)) } : {}),
    ...(spec.sourceAddress === 'None' ? { sourceAddress: 'none' as const } : {}),
    ...(nextHop ? { nextHop } : {}),
    ...(asn !== ourAsn ? { import: 'all' as const, export: 'announced' as const } : {}),
  };
}
