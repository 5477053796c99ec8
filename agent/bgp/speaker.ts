// The BGP speaker (GoBGP's server): the configured peers and their sessions, the RIB between them,
// and the flush that carries best-path changes to the kernel and to every peer. Import policy is
// in import-policy.ts, export and the Adj-RIB-Out in route-export.ts, graceful restart (RFC 4724)
// in graceful-restart.ts, and what `status` shows in speaker-status.ts.
import { type Server, type Socket, createServer } from 'node:net';
import type { Logger } from 'pino';
import { parseIPv4 } from '../../shared/net/index.ts';
import { Afi, CeaseSubcode, RouteRefreshSubtype, Safi } from './codec/constants.ts';
import { type Capability, localCapabilities } from './codec/open.ts';
import { type RouteRefreshMessage, encodeRouteRefresh } from './codec/simple-messages.ts';
import {
  type DecodedUpdate, type Nlri, type PathAttributes, encodeEndOfRib, isEndOfRib, reconstructAsPath,
} from './codec/update.ts';
import {
  type PeerConfigFile, type PeerConfigInput, type SpeakerConfigFile, announcedPrefixes, isPassive, listenAddress, validatePeer,
} from './config.ts';
import { GracefulRestart } from './graceful-restart.ts';
import { importRefusal } from './import-policy.ts';
import { KernelRoutes } from './kernel-routes.ts';
import { Peer, type PeerSettings } from './peer.ts';
import { type PendingUpdates, RouteExport, noUpdates } from './route-export.ts';
import { type LearnedRoute, type PeerStatus, type RibRoute, type SpeakerStatus, learnedRoutes, peerStatus, ribRoutes, speakerStatus } from './speaker-status.ts';
import { dialMd5, setListenPassword } from './tcp-md5.ts';
import { Rib } from './rib/rib.ts';
import { LOCAL_PEER, RouteAttributes, type RouteSource } from './rib/route-attributes.ts';

export type { LearnedRoute, PeerStatus, RibRoute, SpeakerStatus } from './speaker-status.ts';

/** How often adds the kernel refused are tried again (Calico's BIRD scans the kernel every 2 s). */
const KERNEL_RETRY_MS = 2000;

export interface SpeakerHooks {
  /** Opens an outgoing connection; with a password, TCP-MD5 is set before the SYN. Default: tcp-md5.ts's dialMd5. */
  dial?(settings: PeerSettings): Socket | Promise<Socket>;
  /** Sets (or with undefined removes) a peer's TCP-MD5 key on the listening socket. Default: tcp-md5.ts. */
  setListenPassword?(server: Server, address: string, password: string | undefined): void;
}

/** What Speaker.setPeers did, peers named address[:port]. */
export interface PeerChanges {
  added: string[];
  removed: string[];
  /** Changed without touching the session (export policy, next hop, description; import policy by route refresh). */
  updated: string[];
  /** Changed in a way that needs a new session (AS, password, timers, ...): closed with Cease and reopened. */
  reset: string[];
  unchanged: string[];
}

export class Speaker {
  readonly rib = new Rib();
  /** The configured peers, in the order they were added. */
  readonly peers: Peer[] = [];
  /** Peers by RIB index; an index is reused only after its peer's paths have left the RIB. */
  private readonly byIndex = new Map<number, Peer>();
  readonly routerId: number;
  /** The route reflector cluster ID (config.clusterId or the router ID); setClusterId changes it at runtime. */
  clusterId: number;
  readonly kernel: KernelRoutes | undefined;
  private server: Server | undefined;
  private flushScheduled = false;
  private readonly localSource: RouteSource;
  private readonly hooks: Required<SpeakerHooks>;
  private stopping = false;
  private running = false;
  private readonly export: RouteExport;
  private readonly restart: GracefulRestart;
  readonly started = new Date();
  private kernelRetry: NodeJS.Timeout | undefined;
  private readonly changeListeners = new Set<() => void>();
  private changeScheduled = false;

  constructor(readonly config: SpeakerConfigFile, private readonly log: Logger, hooks: SpeakerHooks = {}) {
    this.routerId = parseIPv4(config.routerId);
    this.clusterId = parseIPv4(config.clusterId ?? config.routerId);
    this.localSource = { index: LOCAL_PEER, address: this.routerId, routerId: this.routerId, asn: config.asn, ebgp: false, routeReflectorClient: false };
    this.hooks = { dial: hooks.dial ?? dialMd5, setListenPassword: hooks.setListenPassword ?? setListenPassword };
    if (config.kernel) this.kernel = new KernelRoutes(config.kernel, log.child({ part: 'kernel' }));
    // The export reads the cluster ID as it is now (setClusterId changes it).
    const clusterId = () => this.clusterId;
    this.export = new RouteExport({
      rib: this.rib, asn: config.asn, routerId: this.routerId, hasClients: () => this.hasClients,
      get clusterId() { return clusterId(); },
    });
    this.restart = new GracefulRestart({
      rib: this.rib, kernel: this.kernel, config: config.gracefulRestart, log,
      peers: () => this.peers, endDeferral: () => this.endDeferral(), scheduleFlush: () => this.scheduleFlush(),
    });
    for (const p of config.peers) this.createPeer(p);
  }

  /** Our own graceful restart: kernel routes from the previous run are kept until peers resync. */
  get restarting(): boolean {
    return this.restart.restarting;
  }

  /** Kernel routes found from the previous run at start (our graceful restart). */
  get adoptedKernelRoutes(): number {
    return this.restart.adoptedKernelRoutes;
  }

  /**
   * Route reflector clients among the peers (any: this speaker reflects). Counted as peers come
   * and go: export asks for every prefix and peer, and a scan of the peers each time made a
   * reflector's work grow with the square of its clients.
   */
  private clients = 0;

  private get hasClients(): boolean {
    return this.clients > 0;
  }

  /** The session settings of a configured peer (defaults from the speaker's configuration and Calico's rules). */
  private peerSettings(p: PeerConfigFile): PeerSettings {
    const config = this.config;
    const ebgp = p.asn !== config.asn;
    const listen = listenAddress(config);
    const source = p.sourceAddress === 'none' ? undefined : p.sourceAddress ?? (listen.address !== '0.0.0.0' ? listen.address : undefined);
    return {
      address: p.address,
      port: p.port,
      asn: p.asn,
      passive: isPassive(config, p),
      routeReflectorClient: p.routeReflectorClient,
      holdTime: p.holdTime ?? config.holdTime,
      ...(p.keepaliveTime !== undefined ? { keepaliveTime: p.keepaliveTime } : {}),
      connectRetryTime: config.connectRetryTime,
      connectRetryMax: config.connectRetryMax,
      restartTime: p.restartTime ?? config.gracefulRestart.restartTime,
      nextHop: p.nextHop,
      importPolicy: p.import ?? (ebgp ? 'none' : 'all'),
      exportPolicy: p.export ?? (ebgp ? 'none' : 'ibgp-rules'),
      peerType: p.peerType ?? (ebgp ? 'global' : p.routeReflectorClient ? 'route reflector client' : 'node-to-node mesh'),
      ...(p.password ? { password: p.password } : {}),
      ...(source ? { localAddress: source } : {}),
    };
  }

  private createPeer(p: PeerConfigFile): Peer {
    let index = 1;
    while (this.byIndex.has(index) || (this.rib.pathCount[index] ?? 0) > 0) index++;
    if (index > 0xffff) throw new Error('too many peers: at most 65535');
    const peer = new Peer(index, this.peerSettings(p), this.config.asn, this.routerId, {
      // Events of a peer that was removed (its connections closing) are ignored.
      onEstablished: (x) => { if (this.current(x)) this.onEstablished(x); },
      onDown: (x, was, byNotification) => { if (this.current(x)) this.onDown(x, was, byNotification); },
      onUpdate: (x, u) => { if (this.current(x)) this.importUpdate(x, u); },
      onRouteRefresh: (x, m) => { if (this.current(x)) this.onRouteRefresh(x, m); },
      onWritable: (x) => { if (this.current(x)) this.export.pump(x); },
      capabilities: (x) => this.capabilities(x),
      dial: (x) => this.hooks.dial(x.settings),
    }, this.log.child({ part: 'peer' }));
    peer.description = p.description;
    this.peers.push(peer);
    if (peer.settings.routeReflectorClient) this.clients++;
    this.byIndex.set(index, peer);
    return peer;
  }

  private current(peer: Peer): boolean {
    return this.byIndex.get(peer.index) === peer;
  }

  private findPeer(address: string, port = 179): Peer | undefined {
    return this.peers.find((p) => p.settings.address === address && p.settings.port === port);
  }

  /**
   * Adds a peer while the speaker runs (or before start): validated as a configuration file's
   * peer is, then connected (or waited for, when passive). Other sessions are not touched.
   * Throws ConfigError for a bad peer, Error when address:port is already a peer.
   */
  addPeer(input: PeerConfigInput): PeerStatus {
    const p = validatePeer(input, `peer ${String((input as { address?: unknown }).address)}`, this.config.holdTime);
    if (this.findPeer(p.address, p.port)) throw new Error(`peer ${p.address}:${p.port} is already configured: use updatePeer to change it`);
    // The key goes on the listening socket first, so that a failure (no addon) changes nothing.
    if (this.server && p.password) this.hooks.setListenPassword(this.server, p.address, p.password);
    const peer = this.createPeer(p);
    this.log.info({ peer: peer.name }, 'peer added');
    if (this.running) peer.start();
    return peerStatus(this.rib, peer);
  }

  /**
   * Removes a peer: its session ends with Cease "peer de-configured" (RFC 4486 subcode 3), its
   * routes leave the RIB and the kernel at once (stale ones too) and are withdrawn from the other
   * peers. False when there was no such peer.
   */
  removePeer(address: string, port = 179): boolean {
    const peer = this.findPeer(address, port);
    if (!peer) return false;
    this.dropPeer(peer, CeaseSubcode.PeerDeconfigured);
    this.log.info({ peer: peer.name }, 'peer removed');
    return true;
  }

  private dropPeer(peer: Peer, subcode: number): void {
    // Out of the tables first: the events of its closing connections are then ignored, and its
    // routes go here at once (not kept as stale, as a session merely going down would).
    this.peers.splice(this.peers.indexOf(peer), 1);
    if (peer.settings.routeReflectorClient) this.clients--;
    this.byIndex.delete(peer.index);
    peer.stop(false, subcode);
    this.rib.removePeer(peer.index);
    this.export.release(peer);
    peer.rejected.clear();
    if (this.server && peer.settings.password && !this.peers.some((p) => p.settings.address === peer.settings.address && p.settings.password)) {
      this.hooks.setListenPassword(this.server, peer.settings.address, undefined);
    }
    // During our own restart, a peer that is gone no longer holds back the end of it.
    if (this.restarting) this.restart.checkDone();
    this.scheduleFlush();
    this.changed();
  }

  /**
   * Changes a peer (found by address and port) to `input`. What can change on a running session
   * does so in place: export policy and next hop (routes re-sent as needed), description, and
   * import policy (the peer is asked for its routes again with a ROUTE-REFRESH, RFC 2918; a peer
   * without route refresh gets a new session), and route reflector client: being a client is
   * the reflector's own view of the peer (RFC 4456 needs nothing of the client), so what every
   * peer is sent is worked out again and the sessions stay; a mesh turning into a reflector's
   * clients withdraws no route that way. Any other change (AS, password, passive, hold or
   * keepalive time, restart time, source address) closes the session with Cease "other
   * configuration change" (RFC 4486 subcode 6) and opens a new one.
   * Returns what it did; Error when the peer is not configured.
   */
  updatePeer(input: PeerConfigInput): 'unchanged' | 'updated' | 'reset' {
    const result = this.updateOnePeer(input);
    if (this.reflectionChanged) this.exportToAll();
    return result;
  }

  /** A peer's route reflector client setting changed in place: every peer's exports are due again. */
  private reflectionChanged = false;

  /** Offers every established peer what it should have now (route reflection changed). */
  private exportToAll(): void {
    this.reflectionChanged = false;
    // While we restart nothing is sent yet: endDeferral() sends it all with the new settings.
    if (this.restarting) return;
    this.flush();
    for (const peer of this.peers) if (peer.established) this.export.exportAll(peer);
  }

  private updateOnePeer(input: PeerConfigInput): 'unchanged' | 'updated' | 'reset' {
    const p = validatePeer(input, `peer ${String((input as { address?: unknown }).address)}`, this.config.holdTime);
    const peer = this.findPeer(p.address, p.port);
    if (!peer) throw new Error(`peer ${p.address}:${p.port} is not configured: use addPeer`);
    const next = this.peerSettings(p);
    const before = peer.settings;
    const inPlace = ['exportPolicy', 'nextHop', 'importPolicy', 'peerType', 'routeReflectorClient'] as const;
    const strip = (s: PeerSettings) => JSON.stringify({ ...s, exportPolicy: undefined, nextHop: undefined, importPolicy: undefined, peerType: undefined, routeReflectorClient: undefined });
    if (strip(before) !== strip(next) || (before.importPolicy !== next.importPolicy && peer.established && !peer.negotiated?.routeRefresh)) {
      this.log.info({ peer: peer.name }, 'peer changed: new session');
      const at = this.peers.indexOf(peer);
      this.dropPeer(peer, CeaseSubcode.OtherConfigurationChange);
      const fresh = this.createPeer(p);
      // Keep the configured order (status lists peers in it).
      this.peers.splice(this.peers.indexOf(fresh), 1);
      this.peers.splice(at, 0, fresh);
      if (this.server && fresh.settings.password) this.hooks.setListenPassword(this.server, p.address, fresh.settings.password);
      if (this.running) fresh.start();
      return 'reset';
    }
    const changed = inPlace.some((k) => before[k] !== next[k]) || peer.description !== p.description;
    peer.description = p.description;
    if (!changed) return 'unchanged';
    peer.settings = next;
    if (before.routeReflectorClient !== next.routeReflectorClient) {
      this.clients += next.routeReflectorClient ? 1 : -1;
      // The paths it sent carry its source: they are reflected (or no longer) from now on.
      peer.source.routeReflectorClient = next.routeReflectorClient;
      this.reflectionChanged = true;
    }
    this.log.info({ peer: peer.name, export: next.exportPolicy, import: next.importPolicy, nextHop: next.nextHop, routeReflectorClient: next.routeReflectorClient }, 'peer changed in place');
    if (peer.established) {
      // While we restart nothing is sent yet: endDeferral() sends it all with the new settings.
      if (!this.restarting) {
        this.flush();
        if (before.exportPolicy !== next.exportPolicy) this.export.exportAll(peer);
        if (before.nextHop !== next.nextHop) this.export.resendAll(peer);
      }
      if (before.importPolicy !== next.importPolicy) {
        // The peer sends everything again; the new import policy decides on each route.
        peer.established.send(encodeRouteRefresh({ afi: Afi.Ipv4, safi: Safi.Unicast, subtype: RouteRefreshSubtype.Normal }));
      }
    }
    return 'updated';
  }

  /**
   * Makes the peer set exactly `inputs` (keyed by address and port): adds the new ones, removes
   * the missing ones, updates the rest as updatePeer does. Sessions of unchanged peers are not
   * touched. Every input is validated before anything changes.
   */
  setPeers(inputs: PeerConfigInput[]): PeerChanges {
    const wanted = inputs.map((input, i) => validatePeer(input, `peers[${i}]`, this.config.holdTime));
    const keys = new Set<string>();
    for (const p of wanted) {
      const key = `${p.address}:${p.port}`;
      if (keys.has(key)) throw new Error(`peer ${key} is listed twice`);
      keys.add(key);
    }
    const changes: PeerChanges = { added: [], removed: [], updated: [], reset: [], unchanged: [] };
    for (const peer of [...this.peers]) {
      if (!keys.has(`${peer.settings.address}:${peer.settings.port}`)) {
        changes.removed.push(peer.name);
        this.removePeer(peer.settings.address, peer.settings.port);
      }
    }
    for (const p of wanted) {
      const name = p.port === 179 ? p.address : `${p.address}:${p.port}`;
      if (!this.findPeer(p.address, p.port)) {
        this.addPeer(p);
        changes.added.push(name);
        continue;
      }
      const result = this.updateOnePeer(p);
      changes[result === 'reset' ? 'reset' : result === 'updated' ? 'updated' : 'unchanged'].push(name);
    }
    // Once for all the peers that became clients or stopped being ones (a node turning reflector
    // changes all of its peers at once): not a pass over the RIB per peer.
    if (this.reflectionChanged) this.exportToAll();
    return changes;
  }

  /**
   * Changes the route reflector cluster ID (undefined: the router ID) without touching a session:
   * routes reflected from now on carry it in their CLUSTER_LIST, what peers were sent is sent
   * again with it, and iBGP peers are asked for their routes again (ROUTE-REFRESH) so that those
   * whose CLUSTER_LIST holds the new ID are refused as loops (RFC 4456 8). Calico's node gets a
   * routeReflectorClusterID while it runs; BIRD reconfigures its protocols for it.
   * False when the ID is the same.
   */
  setClusterId(clusterId: string | undefined): boolean {
    const next = parseIPv4(clusterId ?? this.config.routerId);
    if (next === this.clusterId) return false;
    this.clusterId = next;
    this.export.forgetEncodings();
    this.log.info({ clusterId: clusterId ?? this.config.routerId }, 'route reflector cluster ID changed');
    if (this.restarting) return true;
    this.flush();
    for (const peer of this.peers) {
      const conn = peer.established;
      if (!conn) continue;
      this.export.resendAll(peer);
      if (!peer.ebgp && peer.negotiated?.routeRefresh) conn.send(encodeRouteRefresh({ afi: Afi.Ipv4, safi: Safi.Unicast, subtype: RouteRefreshSubtype.Normal }));
    }
    return true;
  }

  /** What we offer a peer: graceful restart with its own restart time (Calico's maxRestartTime). */
  capabilities(peer?: Peer): Capability[] {
    const gr = this.config.gracefulRestart;
    const restartTime = peer?.settings.restartTime ?? gr.restartTime;
    return localCapabilities({
      asn: this.config.asn,
      ...(gr.enabled ? { gracefulRestart: { restarting: this.restarting, restartTime, forwarding: this.restarting } } : {}),
    });
  }

  async start(): Promise<void> {
    await this.restart.begin();
    for (const p of announcedPrefixes(this.config)) this.announce(p.address, p.length);
    const { address, port } = listenAddress(this.config);
    const server = await listenPlain(address, port, (socket: Socket) => this.onIncoming(socket));
    try {
      for (const p of this.peers) if (p.settings.password) this.hooks.setListenPassword(server, p.settings.address, p.settings.password);
    } catch (error) {
      server.close();
      throw error;
    }
    this.server = server;
    this.running = true;
    for (const peer of this.peers) peer.start();
    this.scheduleFlush();
    if (this.kernel) {
      this.kernelRetry = setInterval(() => this.retryKernel(), KERNEL_RETRY_MS);
      this.kernelRetry.unref();
    }
  }

  /** Originates a prefix (next hop self towards every peer). */
  announce(address: number, length: number): void {
    const local = this.rib.intern('local', () => new RouteAttributes(this.localSource, { origin: 0, asPath: [] }, [], 0, 'local'));
    this.rib.update(LOCAL_PEER, address, length, 0, local);
    this.scheduleFlush();
  }

  /** Stops originating a prefix; false when it was not announced. */
  withdraw(address: number, length: number): boolean {
    const gone = this.rib.withdraw(LOCAL_PEER, address, length, 0);
    this.scheduleFlush();
    return gone;
  }

  /**
   * Stops the speaker. By default as a graceful restart: TCP closes without NOTIFICATION so that
   * peers keep our routes, and kernel routes stay. `withdraw` sends Cease and removes kernel routes.
   */
  async stop(options: { withdraw?: boolean } = {}): Promise<void> {
    // A graceful stop freezes the RIB and the kernel as they are: sessions ending now are not
    // routes going away.
    this.stopping = !options.withdraw;
    this.running = false;
    for (const peer of this.peers) peer.stop(!options.withdraw);
    this.restart.stop();
    clearInterval(this.kernelRetry);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    if (this.kernel) {
      await this.restart.sweeping;
      if (options.withdraw) await this.kernel.removeAll();
      await this.kernel.close();
    }
  }

  private onIncoming(socket: Socket): void {
    const remote = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const peer = this.peers.find((p) => p.settings.address === remote && p.enabled) ?? this.peers.find((p) => p.settings.address === remote);
    if (!peer) {
      this.log.warn({ remote }, 'connection from an address that is not a configured peer: closed');
      socket.destroy();
      return;
    }
    peer.accept(socket);
  }

  // ---- import ----

  private importUpdate(peer: Peer, update: DecodedUpdate): void {
    const stats = peer.stats;
    stats.updatesReceived++;
    stats.attributesDiscarded += update.discarded.length;
    const rib = this.rib;
    const index = peer.index;
    for (const w of update.withdrawn) this.withdrawOne(peer, w);
    const mpUnreach = update.attributes.mpUnreach;
    if (mpUnreach && mpUnreach.afi === Afi.Ipv4 && mpUnreach.safi === Safi.Unicast) for (const w of mpUnreach.withdrawn) this.withdrawOne(peer, w);
    stats.withdrawalsReceived += update.withdrawn.length + (mpUnreach?.withdrawn.length ?? 0);

    const mpReach = update.attributes.mpReach;
    const mpNlri = mpReach && mpReach.afi === Afi.Ipv4 && mpReach.safi === Safi.Unicast ? mpReach.nlri : [];
    const announced = update.nlri.length + mpNlri.length;
    if (announced === 0) {
      if (isEndOfRib(update)) {
        this.restart.endOfRib(peer);
        this.changed();
      }
      this.scheduleFlush();
      return;
    }
    stats.prefixesReceived += announced;
    let refusal: string | undefined = update.treatAsWithdraw;
    if (update.treatAsWithdraw !== undefined) {
      stats.treatAsWithdraw++;
      this.log.warn({ peer: peer.name, reason: update.treatAsWithdraw }, 'UPDATE treated as withdraw (RFC 7606)');
    }
    const attrs = update.attributes;
    let asPath = attrs.asPath ?? [];
    if (refusal === undefined) {
      const negotiated = peer.negotiated;
      if (negotiated && !negotiated.as4 && attrs.as4Path) asPath = reconstructAsPath(asPath, attrs.as4Path);
      refusal = importRefusal(peer, attrs, asPath, { asn: this.config.asn, routerId: this.routerId, clusterId: this.clusterId });
    }
    const nextHop = attrs.nextHop ?? 0;
    const mpNextHop = mpReach && mpReach.nextHop.length === 4 ? mpReach.nextHop.readUInt32BE(0) : 0;
    if (refusal !== undefined) {
      for (const n of update.nlri) { this.withdrawOne(peer, n); peer.rejected.set(n.address, n.length, 0); }
      for (const n of mpNlri) { this.withdrawOne(peer, n); peer.rejected.set(n.address, n.length, 0); }
      this.scheduleFlush();
      return;
    }
    if (update.nlri.length > 0) {
      const key = `${index}:${update.rawAttributes.toString('latin1')}`;
      const attrIndex = rib.intern(key, () => new RouteAttributes(peer.source, stripMp(attrs), asPath, nextHop, key));
      for (const n of update.nlri) {
        if (peer.rejected.size > 0) peer.rejected.delete(n.address, n.length);
        rib.update(index, n.address, n.length, n.pathId, attrIndex);
      }
    }
    if (mpNlri.length > 0) {
      const key = `${index}:mp${mpNextHop}:${update.rawAttributes.toString('latin1')}`;
      const attrIndex = rib.intern(key, () => new RouteAttributes(peer.source, stripMp(attrs), asPath, mpNextHop, key));
      for (const n of mpNlri) {
        if (peer.rejected.size > 0) peer.rejected.delete(n.address, n.length);
        rib.update(index, n.address, n.length, n.pathId, attrIndex);
      }
    }
    this.scheduleFlush();
  }

  private withdrawOne(peer: Peer, n: Nlri): void {
    this.rib.withdraw(peer.index, n.address, n.length, n.pathId);
    if (peer.rejected.size > 0) peer.rejected.delete(n.address, n.length);
  }

  // ---- sessions ----

  private onEstablished(peer: Peer): void {
    this.restart.peerEstablished(peer);
    this.export.release(peer);
    this.changed();
    const local = peer.established?.socket?.localAddress?.replace(/^::ffff:/, '');
    peer.localAddress = local ? parseIPv4(local) : this.routerId;
    // RFC 4724 4.1: while we restart, our routes and End-of-RIB wait for endDeferral().
    if (this.restarting) return;
    this.flush();
    this.export.exportAll(peer);
    peer.established?.send(encodeEndOfRib());
  }

  /**
   * The end of our restart's selection deferral: best paths are chosen now from all that the
   * peers sent again, and every peer that came up meanwhile gets its routes and End-of-RIB.
   */
  private endDeferral(): void {
    this.flush();
    for (const peer of this.peers) {
      if (!peer.established) continue;
      this.export.exportAll(peer);
      peer.established.send(encodeEndOfRib());
    }
  }

  private onDown(peer: Peer, wasEstablished: boolean, byNotification: boolean): void {
    if (!wasEstablished || this.stopping) return;
    this.changed();
    this.export.release(peer);
    this.restart.peerDown(peer, byNotification);
    peer.rejected.clear();
    this.scheduleFlush();
  }

  private onRouteRefresh(peer: Peer, message: RouteRefreshMessage): void {
    if (message.afi !== Afi.Ipv4 || message.safi !== Safi.Unicast) return;
    // RFC 7313: the peer re-sends everything between BoRR and EoRR; what it does not re-send is gone.
    if (message.subtype === RouteRefreshSubtype.BeginningOfRefresh && peer.negotiated?.enhancedRouteRefresh) {
      const marked = this.rib.markStale(peer.index);
      this.log.info({ peer: peer.name, marked }, 'enhanced route refresh: the peer re-sends its routes');
      return;
    }
    if (message.subtype === RouteRefreshSubtype.EndOfRefresh && peer.negotiated?.enhancedRouteRefresh) {
      const swept = this.rib.removePeer(peer.index, true);
      this.log.info({ peer: peer.name, swept }, 'enhanced route refresh complete');
      this.scheduleFlush();
      return;
    }
    if (message.subtype !== RouteRefreshSubtype.Normal) return;
    const conn = peer.established;
    if (!conn || this.restarting) return;
    const enhanced = peer.negotiated?.enhancedRouteRefresh === true;
    if (enhanced) conn.send(encodeRouteRefresh({ afi: Afi.Ipv4, safi: Safi.Unicast, subtype: RouteRefreshSubtype.BeginningOfRefresh }));
    this.export.release(peer);
    this.export.exportAll(peer);
    if (enhanced) conn.send(encodeRouteRefresh({ afi: Afi.Ipv4, safi: Safi.Unicast, subtype: RouteRefreshSubtype.EndOfRefresh }));
  }

  /**
   * Flushes soon: on the next turn of the event loop, or, right after another flush, once a short
   * window has passed that grows with the peers (a tenth of a millisecond each, at most 50 ms).
   * A reflector of 500 clients receiving their routes one UPDATE per turn otherwise wrote to all
   * 500 sessions every turn: a quarter of a million writes for 500 routes.
   */
  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushScheduled = false;
      this.flush();
    };
    const wait = this.lastFlush + Math.min(50, this.peers.length / 10) - performance.now();
    if (wait < 1) setImmediate(run);
    else setTimeout(run, wait);
  }

  private lastFlush = -Infinity;

  /**
   * Applies best-path changes: kernel routes and UPDATEs to every established peer. Not while we
   * restart (RFC 4724 4.1 defers selection: the kernel keeps the previous run's routes and peers
   * get nothing until every peer has sent its routes again, or the restart time passes).
   */
  flush(): void {
    if (this.stopping || this.restarting) return;
    this.lastFlush = performance.now();
    const rib = this.rib;
    const kernel = this.kernel;
    // A peer we export nothing to (export: none, as towards a full-table feed) needs no look at each change.
    const outPeers = this.peers.filter((p) => p.established && (p.settings.exportPolicy !== 'none' || p.adjRibOut.size > 0));
    const pending: PendingUpdates[] = outPeers.map(() => noUpdates());
    let drained = false;
    rib.drainDirty((address, length, wasInstalled) => {
      drained = true;
      const best = rib.best(address, length);
      if (kernel) {
        const a = best >= 0 ? rib.attributes[best]! : undefined;
        if (a && a.source.index !== LOCAL_PEER && a.nextHop !== 0) {
          // A dirty prefix's best path changed (or may have): replace the route, and mark it.
          kernel.set(address, length, a.nextHop);
          rib.setInstalled(address, length, true);
        } else if (wasInstalled || rib.installed(address, length)) {
          // Our route for a prefix that has no path left, or is now our own or has no next hop.
          // (Routes of the previous run that no best path backs go in the restart's sweep.)
          kernel.remove(address, length);
          rib.setInstalled(address, length, false);
        }
      }
      for (let i = 0; i < outPeers.length; i++) this.export.decide(outPeers[i]!, pending[i]!, address, length, best);
    });
    kernel?.flush();
    outPeers.forEach((peer, i) => this.export.send(peer, pending[i]!));
    if (drained) this.changed();
  }

  /**
   * Adds the kernel refused (a next hop not reachable yet, a route of another protocol in the
   * way) go again, as their best paths are now; a route that is still refused is counted again.
   */
  private retryKernel(): void {
    const kernel = this.kernel;
    if (!kernel || this.stopping || this.restarting) return;
    const rib = this.rib;
    for (const [address, length] of kernel.takeRefused()) {
      const best = rib.best(address, length);
      const a = best >= 0 ? rib.attributes[best]! : undefined;
      if (a && a.source.index !== LOCAL_PEER && a.nextHop !== 0) kernel.set(address, length, a.nextHop);
    }
    kernel.flush();
  }

  /**
   * Calls `listener` after best paths may have changed (once per flush, however many prefixes),
   * and when a session comes up, goes down or sends End-of-RIB: the agent's dataplane follows
   * the RIB through this, with no polling. Returns a function that removes the listener.
   */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private changed(): void {
    if (this.changeScheduled || this.changeListeners.size === 0) return;
    this.changeScheduled = true;
    setImmediate(() => {
      this.changeScheduled = false;
      for (const listener of this.changeListeners) listener();
    });
  }

  /** Every prefix whose best path a peer sent, with its next hop, sorted by prefix: no limit. */
  learnedRoutes(): LearnedRoute[] {
    return learnedRoutes(this.rib);
  }

  // ---- reading ----

  status(): SpeakerStatus {
    return speakerStatus(this);
  }

  /** Routes in the RIB, best path first, sorted by prefix; at most `limit` prefixes. */
  routes(limit = 10000): { total: number; routes: RibRoute[] } {
    return ribRoutes(this.rib, (index) => this.byIndex.get(index)?.name, limit);
  }
}

function stripMp(attrs: PathAttributes): PathAttributes {
  if (!attrs.mpReach && !attrs.mpUnreach && !attrs.as4Path) return attrs;
  const { mpReach: _r, mpUnreach: _u, as4Path: _p, ...rest } = attrs;
  return rest;
}

function listenPlain(address: string, port: number, onConnection: (socket: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(onConnection);
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(new Error(error.code === 'EADDRINUSE'
        ? `cannot listen on ${address}:${port}: the port is in use (is BIRD or another speaker running? set listen: ADDRESS:PORT)`
        : error.code === 'EACCES' ? `cannot listen on ${address}:${port}: port 179 needs root` : `cannot listen on ${address}:${port}: ${error.message}`));
    });
    server.listen({ host: address, port }, () => resolve(server));
  });
}
