// From what the datastore knows to this node's BGP, the way confd's BIRD templates do it: whether
// BGP runs, what the node announces, and the speaker's configuration (the mesh of all other nodes
// with the lexical passive rule, explicit BGPPeers, own blocks announced). The dataplane's half of
// the desired state is shared/dataplane-plan/desired-state.ts. Pure functions, tested without a cluster.
import type { PeerConfigInput, SpeakerConfigFile } from '../bgp/config.ts';
import { DEFAULT_HOLD_TIME, configSchema as speakerConfigSchema } from '../bgp/config.ts';
import { bgpWanted as sharedBgpWanted } from '../../shared/dataplane-plan/bgp-wanted.ts';
import { blocksOf, borrowedRoutes, type LocalFacts } from '../../shared/dataplane-plan/desired-state.ts';
import { effectiveBgpSettings } from '../../shared/model/bgp-configuration.ts';
import { parsePeerAddress, type BGPPeer } from '../../shared/model/bgp-peer.ts';
import type { ClusterSnapshot } from '../../shared/model/cluster-snapshot.ts';
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
  const peers: PeerConfigInput[] = [];
  if (settings.nodeToNodeMeshEnabled) {
    for (const node of snapshot.nodes) {
      if (node.name === local.nodeName || !node.ipv4Address) continue;
      peers.push({ address: formatIPv4(node.ipv4Address.address), asn: node.asNumber ?? settings.asNumber, port: settings.listenPort, description: `node ${node.name}`, peerType: 'node-to-node mesh' });
    }
  }
  const labels = me?.labels ?? {};
  for (const peer of snapshot.bgpPeers) {
    const spec = peer.spec;
    const forMe = spec.node ? spec.node === local.nodeName : spec.nodeSelector ? selects(spec.nodeSelector, labels) : true;
    if (!forMe || !spec.peerIP) continue;
    const target = parsePeerAddress(spec.peerIP);
    if (!target || target.address === ip || peers.some((p) => p.address === target.address)) continue;
    const password = secrets.passwords.get(peer.metadata.name);
    const ref = spec.password?.secretKeyRef;
    if (ref && password === undefined && (secrets.problems.has(peer.metadata.name) || !ref.optional)) continue;
    // calicoctl node status: a BGPPeer for all nodes is `global`, one with node or nodeSelector `node specific`.
    const peerType = spec.node || spec.nodeSelector ? 'node specific' as const : 'global' as const;
    peers.push({
      address: target.address,
      ...(target.port ? { port: target.port } : {}),
      ...peerSettings(peer, asn),
      ...(password ? { password } : {}),
      description: `BGPPeer ${peer.metadata.name}`,
      peerType,
    });
  }
  return speakerConfigSchema.parse({
    routerId: ip,
    asn,
    listen: `${ip}:${settings.listenPort}`,
    peers: peers.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0)),
    announce: announcedBlocks(snapshot, local.nodeName),
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
 * eBGP is none). The password, kept in a Secret, comes from peer-passwords.ts.
 */
export function peerSettings(peer: BGPPeer, ourAsn: number): Omit<PeerConfigInput, 'address' | 'port' | 'description'> {
  const spec = peer.spec;
  const asn = spec.asNumber ?? ourAsn;
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
