// The speaker's status views: what `gingham-agent bgp status` / `routes` and the agent's RPC show
// (peers in BIRD's and calicoctl's words, the RIB's size, the kernel side, the routes with their
// paths). Read-only: nothing here changes the speaker.
import { formatIPv4 } from '../../shared/net/index.ts';
import { type Capability, summarizeCapabilities } from './codec/open.ts';
import { formatAsPath } from './codec/update.ts';
import type { SpeakerConfigFile } from './config.ts';
import { listenAddress } from './config.ts';
import type { KernelRoutes } from './kernel-routes.ts';
import type { Peer } from './peer.ts';
import type { Rib } from './rib/rib.ts';
import { LOCAL_PEER } from './rib/route-attributes.ts';

export interface PeerStatus {
  address: string;
  port: number;
  asn: number;
  type: string;
  state: string;
  since: string;
  info: string;
  passive: boolean;
  routeReflectorClient: boolean;
  ebgp: boolean;
  description?: string;
  /** Consecutive failed attempts (RFC 4271 ConnectRetryCounter) and the last wait before retrying. */
  connectRetry: { failures: number; lastDelayMs: number };
  received: number;
  accepted: number;
  advertised: number;
  stale: number;
  holdTime?: number;
  keepaliveTime?: number;
  peerRouterId?: string;
  capabilities?: { local: string[]; peer: string[]; negotiated: string[] };
  statistics: Peer['stats'];
  lastError: string;
}

export interface SpeakerStatus {
  routerId: string;
  asn: number;
  listen: string;
  since: string;
  restarting: boolean;
  adoptedKernelRoutes: number;
  peers: PeerStatus[];
  rib: { prefixes: number; paths: number; attributeSets: number; bytes: number };
  /** The process's memory in bytes (Node's process.memoryUsage), to see what a table costs. */
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
  kernel?: { installed: number; errors: number; lastError: string; refused: number; protocol: number; table: string | number };
}

export interface RibRoute {
  prefix: string;
  paths: Array<{
    best: boolean;
    from: string;
    nextHop: string;
    asPath: string;
    origin: string;
    localPref: number;
    med?: number;
    originatorId?: string;
    clusterList?: string[];
    communities?: string[];
    pathId?: number;
    stale: boolean;
  }>;
}

const ORIGIN_NAMES = ['IGP', 'EGP', 'incomplete'];

/** A best path a peer sent, as the dataplane takes it. */
export interface LearnedRoute {
  cidr: string;
  nextHop: string;
}

/** Every prefix whose best path came from a peer (not our own), sorted by prefix, with no limit. */
export function learnedRoutes(rib: Rib): LearnedRoute[] {
  const found: Array<[number, number, number]> = [];
  rib.forEachPrefix((address, length) => {
    const best = rib.best(address, length);
    const a = best >= 0 ? rib.attributes[best]! : undefined;
    if (a && a.source.index !== LOCAL_PEER) found.push([address, length, a.nextHop]);
  });
  found.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  return found.map(([address, length, nextHop]) => ({ cidr: `${formatIPv4(address)}/${length}`, nextHop: formatIPv4(nextHop) }));
}

/** What the speaker status is made from. */
export interface StatusSource {
  readonly config: SpeakerConfigFile;
  readonly started: Date;
  readonly restarting: boolean;
  readonly adoptedKernelRoutes: number;
  readonly peers: readonly Peer[];
  readonly rib: Rib;
  readonly kernel: KernelRoutes | undefined;
}

export function speakerStatus(s: StatusSource): SpeakerStatus {
  const listen = listenAddress(s.config);
  const rib = s.rib;
  return {
    routerId: s.config.routerId,
    asn: s.config.asn,
    listen: `${listen.address}:${listen.port}`,
    since: s.started.toISOString(),
    restarting: s.restarting,
    adoptedKernelRoutes: s.adoptedKernelRoutes,
    peers: s.peers.map((p) => peerStatus(rib, p)),
    rib: { prefixes: rib.prefixCount, paths: rib.pathTotal, attributeSets: rib.attributeSets, bytes: rib.bytes },
    memory: (({ rss, heapUsed, heapTotal, external, arrayBuffers }) => ({ rss, heapUsed, heapTotal, external, arrayBuffers }))(process.memoryUsage()),
    ...(s.kernel && s.config.kernel ? { kernel: { installed: rib.installedCount, ...s.kernel.status, protocol: s.config.kernel.protocol, table: s.config.kernel.table } } : {}),
  };
}

/** One peer's line: state and info as BIRD words them, counts, and what was negotiated. */
export function peerStatus(rib: Rib, p: Peer): PeerStatus {
  const state = p.state;
  const n = p.negotiated;
  const accepted = rib.pathCount[p.index] ?? 0;
  const info = state === 'Established' ? 'Established'
    : p.lastError && state !== 'OpenSent' && state !== 'OpenConfirm' ? `${state === 'Idle' && p.settings.passive ? 'Passive' : state} ${p.lastError}`
      : state === 'Active' && p.settings.passive ? 'Passive' : state;
  return {
    address: p.settings.address,
    port: p.settings.port,
    asn: p.settings.asn,
    type: p.settings.peerType,
    state: !p.enabled ? 'down' : state === 'Established' ? 'up' : 'start',
    since: p.since.toISOString(),
    info,
    passive: p.settings.passive,
    routeReflectorClient: p.settings.routeReflectorClient,
    ebgp: p.ebgp,
    ...(p.description !== undefined ? { description: p.description } : {}),
    connectRetry: { failures: p.connectRetryCounter, lastDelayMs: p.lastRetryDelayMs },
    received: accepted + p.rejected.size,
    accepted,
    advertised: p.adjRibOut.size,
    stale: p.staleSince ? rib.staleCount(p.index) : 0,
    ...(n ? {
      holdTime: n.holdTime,
      keepaliveTime: n.keepaliveTime,
      peerRouterId: formatIPv4(n.peerRouterId),
      capabilities: { local: capabilityNames(n.localCapabilities), peer: capabilityNames(n.peerCapabilities), negotiated: negotiatedNames(n) },
    } : {}),
    statistics: { ...p.stats },
    lastError: p.lastError,
  };
}

/**
 * Routes in the RIB, best path first, sorted by prefix; at most `limit` prefixes. `peerName`
 * names the peer of a RIB index.
 */
export function ribRoutes(rib: Rib, peerName: (index: number) => string | undefined, limit: number): { total: number; routes: RibRoute[] } {
  const prefixes: Array<[number, number]> = [];
  rib.forEachPrefix((address, length) => prefixes.push([address, length]));
  prefixes.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const routes = prefixes.slice(0, limit).map(([address, length]) => ({
    prefix: `${formatIPv4(address)}/${length}`,
    paths: rib.paths(address, length).map((path, i) => {
      const a = rib.attributes[path.attrIndex]!;
      return {
        best: i === 0,
        from: path.peer === LOCAL_PEER ? 'local' : peerName(path.peer) ?? String(path.peer),
        nextHop: path.peer === LOCAL_PEER ? 'self' : formatIPv4(a.nextHop),
        asPath: formatAsPath(a.asPath),
        origin: ORIGIN_NAMES[a.origin] ?? String(a.origin),
        localPref: a.localPref,
        ...(a.attributes.med !== undefined ? { med: a.attributes.med } : {}),
        ...(a.attributes.originatorId !== undefined ? { originatorId: formatIPv4(a.attributes.originatorId) } : {}),
        ...(a.attributes.clusterList ? { clusterList: a.attributes.clusterList.map(formatIPv4) } : {}),
        ...(a.attributes.communities ? { communities: a.attributes.communities.map((c) => `${c >>> 16}:${c & 0xffff}`) } : {}),
        ...(path.pathId ? { pathId: path.pathId } : {}),
        stale: path.stale,
      };
    }),
  }));
  return { total: prefixes.length, routes };
}

export function capabilityNames(caps: readonly Capability[]): string[] {
  const s = summarizeCapabilities(caps);
  const names: string[] = [];
  if (s.ipv4Unicast) names.push('ipv4-unicast');
  if (s.fourOctetAs !== undefined) names.push('4-octet-as');
  if (s.routeRefresh) names.push('route-refresh');
  if (s.enhancedRouteRefresh) names.push('enhanced-route-refresh');
  if (s.extendedMessage) names.push('extended-message');
  if (s.gracefulRestart) names.push(`graceful-restart(${s.gracefulRestart.restartTime}s${s.gracefulRestart.restarting ? ',restarting' : ''}${s.gracefulRestart.ipv4Forwarding ? ',forwarding' : ''})`);
  if (s.addPathIpv4 !== undefined) names.push(`add-path(${['', 'receive', 'send', 'send-receive'][s.addPathIpv4] ?? s.addPathIpv4})`);
  return names;
}

export function negotiatedNames(n: NonNullable<Peer['negotiated']>): string[] {
  const names: string[] = [];
  if (n.as4) names.push('4-octet-as');
  if (n.routeRefresh) names.push('route-refresh');
  if (n.enhancedRouteRefresh) names.push('enhanced-route-refresh');
  if (n.extendedMessage) names.push('extended-message');
  if (n.gracefulRestart) names.push('graceful-restart');
  if (n.addPathReceive) names.push('add-path-receive');
  return names;
}
