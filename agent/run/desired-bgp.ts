// From what the datastore knows to this node's BGP, the way confd's BIRD templates do it: whether
// BGP runs, what the node announces, and the speaker's configuration (the mesh of all other nodes
// with the lexical passive rule, BGPPeers by address or by selector with their reverse peerings,
// route reflectors and their clients, own blocks announced). The dataplane's half of the desired
// state is shared/dataplane-plan/desired-state.ts. Pure functions, tested without a cluster.
import type { PeerConfigInput, SpeakerConfigFile } from '../bgp/config.ts';
import { DEFAULT_HOLD_TIME, configSchema as speakerConfigSchema } from '../bgp/config.ts';
import { bgpWanted as sharedBgpWanted } from '../../shared/dataplane-plan/bgp-wanted.ts';
import { blocksOf, borrowedRoutes, type LocalFacts } from '../../shared/dataplane-plan/desired-state.ts';
import { effectiveBgpSettings } from '../../shared/model/bgp-configuration.ts';
import { calicoPeerings } from '../../shared/model/bgp-peerings.ts';
import type { BGPPeer } from '../../shared/model/bgp-peer.ts';
import type { ClusterSnapshot } from '../../shared/model/cluster-snapshot.ts';
import type { IPPool } from '../../shared/model/ippool.ts';
import { containsCidr, formatIPv4, parseCidr } from '../../shared/net/index.ts';
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
  const peers = calicoPeers(snapshot, local.nodeName, ip, asn, secrets);
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

/**
 * The speaker's peers for Calico's sessions of this node (shared/model/bgp-peerings.ts, as confd
 * computes them): each with its BGPPeer's settings and password. A BGPPeer whose password is kept
 * in a Secret not known (yet) is left out, unless the reference is optional and the Secret or key
 * does not exist.
 */
function calicoPeers(snapshot: ClusterSnapshot, nodeName: string, ip: string, asn: number, secrets: ResolvedPasswords): PeerConfigInput[] {
  const usable = (peer: BGPPeer) => {
    const ref = peer.spec.password?.secretKeyRef;
    return !ref || secrets.passwords.has(peer.metadata.name) || (!secrets.problems.has(peer.metadata.name) && ref.optional === true);
  };
  return calicoPeerings(snapshot, nodeName, { address: ip, usable }).map((p): PeerConfigInput => {
    const password = p.bgpPeer ? secrets.passwords.get(p.bgpPeer.metadata.name) : undefined;
    const description = !p.bgpPeer ? `node ${p.node}` : p.node ? `BGPPeer ${p.bgpPeer.metadata.name} (node ${p.node})` : `BGPPeer ${p.bgpPeer.metadata.name}`;
    return {
      address: p.address,
      ...(p.port !== undefined ? { port: p.port } : {}),
      ...(p.bgpPeer ? peerSettings(p.bgpPeer, asn, p.asn) : { asn: p.asn }),
      ...(password ? { password } : {}),
      ...(p.routeReflectorClient ? { routeReflectorClient: true } : {}),
      description,
      peerType: p.peerType,
    };
  });
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
