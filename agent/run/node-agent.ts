// `gingham-agent run`: datastore, IPAM, BGP and dataplane in one process. Every change the
// datastore or BGP reports leads to one recomputation of the desired state (shared/dataplane-plan/desired-state.ts and desired-bgp.ts),
// which the BGP speaker and the dataplane's reconcile loop then apply. While the API server is
// unreachable the datastore keeps its last state, so nothing changes on the node.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { DataplaneState } from '../../shared/model/dataplane-state.ts';
import { formatIPv4, formatInterfaceAddress, parseCidr, vxlanMacForNode } from '../../shared/net/index.ts';
import { needsRestart, type SpeakerConfigFile } from '../bgp/config.ts';
import { Speaker, type SpeakerStatus } from '../bgp/speaker.ts';
import { readRoutes } from '../dataplane/kernel/snapshot.ts';
import { BgpRouteTable } from '../dataplane/bgp-route-table.ts';
import { ReconcileLoop } from '../dataplane/reconcile-loop.ts';
import { Reconciler, type PassReport } from '../dataplane/reconciler.ts';
import { readOwners } from '../dataplane/route-owners.ts';
import { routeRows } from '../dataplane/route-table.ts';
import { ensureClusterInformation, ensureKubeControllersConfiguration } from '../datastore/cluster-information.ts';
import { Datastore, type ClusterSnapshot } from '../datastore/datastore.ts';
import type { KubeClient } from '../datastore/kube-client.ts';
import { writeOwnAnnotations, type OwnAnnotations } from '../datastore/node-annotations.ts';
import { Ipam, unfitEmptyBlocks } from '../ipam/ipam.ts';
import { RpcServer } from '../rpc/server.ts';
import { NodeStatusReporting } from '../status/node-status-reporting.ts';
import type { HostAddress } from './autodetect.ts';
import { borrowedRoutes, desiredDataplane, type BgpRoute, type LocalFacts } from '../../shared/dataplane-plan/desired-state.ts';
import { effectivePools, publishedEncapsulations } from '../../shared/dataplane-plan/mode-switch.ts';
import type { DataplanePlan } from '../../shared/dataplane-plan/desired.ts';
import { formatNodeEncapsulations, type Encapsulation } from '../../shared/model/node-encapsulation.ts';
import { bgpWanted, desiredBgp } from './desired-bgp.ts';
import { LearnedRoutes } from './learned-routes.ts';
import { standInNodes } from './stand-in-nodes.ts';
import { lingerMs, PeerLinger } from './peer-linger.ts';
import { PeerPasswords } from './peer-passwords.ts';
import { reconcileTunnelAddresses, type TunnelAddresses } from './tunnel-addresses.ts';

export interface NodeAgentOptions {
  nodeName: string;
  client: KubeClient;
  host: HostAddress;
  log: Logger;
  control?: string;
  userspaceIpip?: boolean;
  watchTimeoutSeconds?: number;
  /** Published in the node's status objects (GinghamNodeStatus, CalicoNodeStatus). */
  agentVersion?: string;
}

function sameRoutes(a: BgpRouteTable | undefined, b: BgpRouteTable | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.equals(b);
}

export class NodeAgent {
  readonly datastore: Datastore;
  readonly ipam: Ipam;
  private readonly reconciler: Reconciler;
  private loop: ReconcileLoop | undefined;
  private speaker: Speaker | undefined;
  private speakerConfig: SpeakerConfigFile | undefined;
  private announced = new Set<string>();
  private tunnels: TunnelAddresses = {};
  /** `tunnels` as the last successful reconcile left them; undefined before one and after a failed one (then IPAM is read afresh). */
  private tunnelsEstablished: TunnelAddresses | undefined;
  /** The VXLAN tunnel address this node's Node annotation gives, as the datastore last saw it: what peers route to. */
  private vxlanAnnotated: string | undefined;
  /** The VXLAN address this process last wrote in the Node annotation (the watch brings it back later). */
  private vxlanPublished: string | undefined;
  private state: DataplaneState | undefined;
  /** The state's BGP routes, as numbers: the state's own list is empty then (bgp-route-table.ts). */
  private bgp: BgpRouteTable | undefined;
  private stateText = '';
  private lastPass: PassReport | undefined;
  /** The desired state the last pass applied, and when: the status says whether it is the latest. */
  private passedState: DataplaneState | undefined;
  private passedAt: string | undefined;
  private reporting: NodeStatusReporting | undefined;
  private rpc: RpcServer | undefined;
  private computing: Promise<void> | undefined;
  private tunnelTask: Promise<void> | undefined;
  private tunnelsAgain = false;
  private again = false;
  /** The speaker's learned routes; its change events cause the recomputations. */
  private learned: LearnedRoutes | undefined;
  private stopped = false;
  readonly log: Logger;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  private readonly peerPasswords: PeerPasswords;
  /** BGPPeer name -> why it is left out (its password Secret cannot be read), for status and the log. */
  private peerProblems = new Map<string, string>();
  /** Make before break (mode-switch.ts): old encapsulations still received, and BGP kept, for peers that have not moved. */
  private keepAccepting: Encapsulation[] = [];
  private keepBgp = false;
  private readonly linger: PeerLinger;
  /** The gingham.dev/Encapsulations text wanted (after the last pass) and last written. */
  private encapsulationsWanted: string | undefined;
  private encapsulationsWritten: string | undefined;
  private encapsulationsWriting: Promise<void> | undefined;
  private readonly saidProblems = new Set<string>();

  constructor(private readonly options: NodeAgentOptions) {
    this.log = options.log;
    this.datastore = new Datastore(options.client, {
      watchTimeoutSeconds: options.watchTimeoutSeconds ?? 300,
      log: (m) => this.log.warn({ part: 'datastore' }, m),
    });
    this.ipam = new Ipam(options.client, options.nodeName, (m) => this.log.info({ part: 'ipam' }, m), { cachedBlocks: () => this.datastore.blocks() });
    this.reconciler = new Reconciler({ log: this.log.child({ part: 'dataplane' }), forceUserspaceIpip: options.userspaceIpip ?? false });
    this.peerPasswords = new PeerPasswords(options.client, () => this.recompute());
    this.linger = new PeerLinger(lingerMs, () => this.recompute(), (m) => this.log.warn({ part: 'dataplane' }, m));
  }

  private get local(): LocalFacts {
    return {
      nodeName: this.options.nodeName,
      interface: this.options.host.interface,
      address: this.options.host.address,
      ...(this.tunnels.ipip ? { ipipTunnelAddress: this.tunnels.ipip } : {}),
      ...(this.tunnels.vxlan ? { vxlanTunnelAddress: this.tunnels.vxlan } : {}),
      keepAccepting: this.keepAccepting,
    };
  }

  async start(): Promise<void> {
    this.loopDelay.enable();
    this.datastore.start();
    await this.datastore.waitForSync(60_000);
    // The node's own facts first, so that the other nodes can peer with it and route to it.
    await writeOwnAnnotations(this.options.client, this.options.nodeName, { ipv4Address: this.options.host.address });
    const published = this.datastore.snapshot().nodes.find((n) => n.name === this.options.nodeName)?.encapsulations;
    this.encapsulationsWritten = published ? formatNodeEncapsulations(published) : undefined;
    await this.keepClusterInformation();
    this.datastore.onChange(() => this.recompute());
    this.recompute();
    while (this.computing || this.tunnelTask) await (this.computing ?? this.tunnelTask);
    if (!this.state) throw new Error('could not compute the first desired state: see the errors above');
    this.loop = new ReconcileLoop(this.reconciler, this.state!, this.log.child({ part: 'dataplane' }), {
      onPass: (report) => {
        this.lastPass = report;
        this.passedState = this.state;
        this.passedAt = new Date().toISOString();
        this.announceEncapsulations(report);
        this.reporting?.changed();
      },
    }, this.bgp);
    this.reconciler.options.onNeedsPass = () => this.loop?.trigger(0);
    this.loop.start();
    if (this.options.control) {
      // `bgp.status` and `bgp.routes` as the standalone speaker names them, so `gingham-agent bgp status` works here too.
      this.rpc = new RpcServer(this.options.control)
        .register('status', () => this.status({ bgpRoutes: true }))
        .register('routes', () => this.routes())
        .register('bgp.status', () => ({ ...(this.speaker?.status() ?? { peers: [], reason: 'BGP is off: only VXLAN pools' }), leftOut: Object.fromEntries(this.peerProblems) }))
        .register('bgp.routes', () => this.speaker?.routes() ?? { total: 0, routes: [] });
      await this.rpc.listen();
    }
    this.reporting = new NodeStatusReporting(this.options.client, this.options.nodeName, this.options.agentVersion ?? 'unknown', {
      status: () => this.status(),
      pass: () => ({ current: this.passedState !== undefined && this.passedState === this.state, ...(this.passedAt ? { at: this.passedAt } : {}) }),
      speaker: () => this.speaker,
      kernelRoutes: () => this.routes(),
    }, this.log.child({ part: 'status' }));
    this.reporting.start();
    this.log.info({ node: this.options.nodeName, address: formatInterfaceAddress(this.options.host.address), interface: this.options.host.interface }, 'agent running');
  }

  /**
   * ClusterInformation `default`, as calico-node keeps it, for Calico's own tools. Routing does not
   * depend on it, so a failure (an older install's RBAC, a cluster without the CRD) is a warning
   * that says what to do, not a reason to stop.
   */
  private async keepClusterInformation(): Promise<void> {
    try {
      await ensureClusterInformation(this.options.client);
      await ensureKubeControllersConfiguration(this.options.client);
    } catch (error) {
      this.log.warn(
        { part: 'datastore', err: (error as Error).message },
        "cannot keep Calico's ClusterInformation and KubeControllersConfiguration default, which calicoctl reads (ipam check, version): apply the agent's manifests again (`gingham-agent manifests | kubectl apply -f -`)",
      );
    }
  }

  /** Stops everything; with `cleanup`, removes the routes and devices it made (a node leaving). */
  async stop(options: { cleanup?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.linger.stop();
    this.learned?.stop();
    await this.computing;
    await this.tunnelTask;
    await this.rpc?.close();
    await this.reporting?.stop();
    await this.loop?.stop();
    await this.speaker?.stop({ withdraw: options.cleanup ?? false });
    if (options.cleanup) await this.reconciler.removeAll();
    // A restart: the user-space tunl0 helper keeps forwarding, and the next agent takes it over.
    else this.reconciler.ipip.detachTunnel();
    await this.datastore.stop();
  }

  /** Asks for a recomputation; they never overlap, and requests during one cause exactly one more. */
  recompute(): void {
    if (this.stopped) return;
    if (this.computing) {
      this.again = true;
      return;
    }
    this.computing = this.recomputeNow()
      .catch((error: unknown) => this.log.error({ err: error }, 'recomputing the desired state failed; keeping the previous one'))
      .finally(() => {
        this.computing = undefined;
        if (this.again) {
          this.again = false;
          this.recompute();
        }
      });
  }

  private async recomputeNow(): Promise<void> {
    const started = performance.now();
    const snapshot = this.datastore.snapshot();
    this.followPeers(snapshot);
    // Routes first: a mode switch reaches the kernel without waiting for the API round trips of
    // the tunnel addresses, which follow (and cause one more recomputation when they change).
    const secrets = this.peerPasswords.resolve(snapshot.bgpPeers);
    for (const [peer, problem] of secrets.problems) {
      if (this.peerProblems.get(peer) !== problem) this.log.warn({ part: 'bgp', peer }, `BGPPeer ${peer} is left out: ${problem}`);
    }
    this.peerProblems = secrets.problems;
    const me = snapshot.nodes.find((n) => n.name === this.options.nodeName);
    const annotated = me?.vxlanTunnelAddress;
    const annotationCame = annotated !== this.vxlanAnnotated;
    this.vxlanAnnotated = annotated;
    // The device may have had its address before peers could read it: VXLAN is accepted now.
    if (annotationCame && this.lastPass) this.announceEncapsulations(this.lastPass);
    const bgp = desiredBgp({ ...snapshot, pools: effectivePools(snapshot.pools, me?.poolModes) }, this.local, secrets, this.keepBgp);
    // When BGP goes off, or comes back, or must be restarted, the dataplane does not wait for the
    // speaker: other nodes' blocks are routed from IPAM meanwhile (as while sessions come up).
    if (this.speakerReplaced(bgp)) this.publish(snapshot, undefined, started, 0);
    await this.applyBgp(bgp);
    const bgpMs = Math.round(performance.now() - started);
    this.publish(snapshot, this.speaker ? this.bgpRoutes(snapshot) : undefined, started, bgpMs);
    if (this.datastore.status().connected) this.scheduleTunnels();
  }

  /**
   * What peers still send this node during a mode switch (their modes, a canary's override, what
   * they published they still send), and whether BGP stays up for peers that still route by it
   * although this node's pools are all VXLAN now (peer-linger.ts).
   */
  private followPeers(snapshot: ClusterSnapshot): void {
    for (const node of snapshot.nodes) {
      for (const problem of node.annotationProblems ?? []) {
        if (this.saidProblems.has(problem)) continue;
        this.saidProblems.add(problem);
        this.log.warn({ node: node.name }, problem);
      }
    }
    const me = snapshot.nodes.find((n) => n.name === this.options.nodeName);
    const kept = this.linger.kept(snapshot, this.options.nodeName, bgpWanted(effectivePools(snapshot.pools, me?.poolModes)));
    this.keepAccepting = kept.keepAccepting;
    this.keepBgp = kept.keepBgp;
  }

  /**
   * After a pass the kernel took whole, publishes on this node's Node what it accepts and sends
   * now: peers switch to a new encapsulation towards it, and drop an old one, on that word.
   */
  private announceEncapsulations(report: PassReport): void {
    if (report.failures.length > 0 || this.stopped) return;
    const plan = sendingPlan(report);
    this.encapsulationsWanted = formatNodeEncapsulations(publishedEncapsulations(plan, this.vxlanReady(plan)));
    if (this.encapsulationsWriting) return;
    this.encapsulationsWriting = (async () => {
      while (!this.stopped && this.encapsulationsWanted !== this.encapsulationsWritten) {
        const text = this.encapsulationsWanted!;
        try {
          await this.writeAnnotations({ encapsulations: text });
          this.encapsulationsWritten = text;
        } catch (error) {
          // Peers keep the old way meanwhile (nothing is lost); the next pass tries again.
          this.log.warn({ err: (error as Error).message }, 'cannot publish the encapsulations this node accepts on its Node; peers keep sending the old way until it is published');
          this.loop?.trigger(1000);
          break;
        }
      }
    })().finally(() => {
      this.encapsulationsWriting = undefined;
    });
  }

  /**
   * Whether peers may send this node VXLAN: the device is up with its admission rule (a pass took
   * `plan` whole) and its address is in the Node annotation, which is what peers route to (their
   * next hop's neighbour entry). The device need not hold the address yet: a peer's frame is
   * addressed to its MAC and the packet inside is routed by its own destination. Waiting for that
   * too cost a pass and a second Node patch per switch into VXLAN (150-250 ms on the lab).
   */
  private vxlanReady(plan: DataplanePlan): boolean {
    const address = this.tunnels.vxlan;
    return !plan.vxlan || (address !== undefined && (this.vxlanAnnotated === address || this.vxlanPublished === address));
  }

  /**
   * A new tunnel address in the Node annotation. A new VXLAN address goes out with the word that
   * VXLAN is accepted, when the last pass made the device (the address in the same patch is the
   * rest of vxlanReady): peers learn both in one round trip, not two.
   */
  private async writeTunnelAnnotations(values: OwnAnnotations): Promise<void> {
    const address = values.vxlanTunnelAddress ?? undefined;
    const report = this.lastPass;
    const accepting = address !== undefined && address === this.tunnels.vxlan && report?.plan.vxlan && report.failures.length === 0 && !this.stopped
      ? formatNodeEncapsulations(publishedEncapsulations(sendingPlan(report), true))
      : undefined;
    const vxlan = values.vxlanTunnelAddress !== undefined;
    // Counted as published from the moment it is queued: any text written after it lands after it.
    if (vxlan) this.vxlanPublished = address;
    try {
      await this.writeAnnotations(accepting ? { ...values, encapsulations: accepting } : values);
    } catch (error) {
      if (vxlan && this.vxlanPublished === address) this.vxlanPublished = undefined;
      throw error;
    }
    if (accepting) this.encapsulationsWritten = accepting;
    if (vxlan && this.lastPass) this.announceEncapsulations(this.lastPass);
  }

  /** Patches of this node's own annotations, one at a time: a late patch never undoes a newer one. */
  private annotationWrites: Promise<unknown> = Promise.resolve();
  private writeAnnotations(values: OwnAnnotations): Promise<void> {
    const write = this.annotationWrites.then(() => writeOwnAnnotations(this.options.client, this.options.nodeName, values));
    this.annotationWrites = write.catch(() => undefined);
    return write;
  }

  /** Hands a new desired state to the dataplane, when it differs from the last. */
  private publish(snapshot: ClusterSnapshot, routes: BgpRouteTable | undefined, started: number, bgpMs: number): void {
    // The BGP routes travel beside the state as numbers; the state's own list is empty then
    // (present: the routes come from BGP, not from the peers' blocks).
    const state = desiredDataplane(snapshot, this.local, routes ? [] : undefined);
    // The rest as text, the learned routes by their numbers: serialising 100k routes on every
    // change event cost more than the comparison it served.
    const text = JSON.stringify(state);
    if (text === this.stateText && sameRoutes(routes, this.bgp)) return;
    this.state = state;
    this.bgp = routes;
    this.stateText = text;
    this.loop?.setState(state, routes);
    this.reporting?.changed();
    this.log.info({ bgpMs, ms: Math.round(performance.now() - started) }, 'desired state changed');
  }

  /**
   * Tunnel addresses take several API round trips: they run beside the recomputations, one at a
   * time, so that a burst of pool changes is not queued behind them; a change of address leads
   * to one more recomputation.
   */
  private scheduleTunnels(): void {
    if (this.tunnelTask) {
      this.tunnelsAgain = true;
      return;
    }
    this.tunnelTask = (async () => {
      do {
        this.tunnelsAgain = false;
        const before = JSON.stringify(this.tunnels);
        const snapshot = this.datastore.snapshot();
        const started = performance.now();
        await this.ensureTunnelAddresses(snapshot);
        await this.releaseUnfitBlocks(snapshot);
        if (JSON.stringify(this.tunnels) !== before) {
          // IPAM's part of a mode switch, measured (docs/dataplane.md).
          this.log.info({ part: 'ipam', ...this.tunnels, ms: Math.round(performance.now() - started) }, 'tunnel addresses changed');
          this.recompute();
        }
      } while (this.tunnelsAgain && !this.stopped);
    })().finally(() => {
      this.tunnelTask = undefined;
    });
  }

  /** Empty blocks whose pool is gone or no longer selects this node go back, as calico-node does. */
  private async releaseUnfitBlocks(snapshot: ClusterSnapshot): Promise<void> {
    const labels = snapshot.nodes.find((n) => n.name === this.options.nodeName)?.labels ?? {};
    const unfit = unfitEmptyBlocks(snapshot.blocks, snapshot.pools, labels, this.options.nodeName);
    if (unfit.length === 0) return;
    try {
      await this.ipam.releaseUnfitEmptyBlocks(unfit, snapshot.pools, labels);
    } catch (error) {
      this.log.warn({ err: error }, 'could not release blocks the pools no longer give this node; trying again on the next change');
    }
  }

  private async ensureTunnelAddresses(snapshot: ClusterSnapshot): Promise<void> {
    const me = snapshot.nodes.find((n) => n.name === this.options.nodeName);
    const current: TunnelAddresses = {
      ...(me?.ipipTunnelAddress ? { ipip: me.ipipTunnelAddress } : {}),
      ...(me?.vxlanTunnelAddress ? { vxlan: me.vxlanTunnelAddress } : {}),
    };
    try {
      // A device up for peers (that have not moved, or a canary that has) keeps or gets its address.
      const plan = this.lastPass?.plan;
      const keeping = new Set<keyof TunnelAddresses>([
        ...(plan?.ipip || this.keepAccepting.includes('IPIP') ? ['ipip' as const] : []),
        ...(plan?.vxlan || this.keepAccepting.includes('VXLAN') ? ['vxlan' as const] : []),
      ]);
      this.tunnels = await reconcileTunnelAddresses(this.options.client, this.ipam, effectivePools(snapshot.pools, me?.poolModes), me?.labels ?? {}, current, {
        keeping,
        established: this.tunnelsEstablished,
        // The device gets the address at once, while the annotation is written.
        assigned: (key, address) => {
          this.tunnels = { ...this.tunnels, [key]: address };
          this.recompute();
        },
        write: (values) => this.writeTunnelAnnotations(values),
      });
      this.tunnelsEstablished = this.tunnels;
    } catch (error) {
      this.tunnelsEstablished = undefined;
      this.log.warn({ err: error }, 'could not update the tunnel addresses; keeping the current ones');
    }
  }

  /**
   * Best BGP paths from peers, plus, for each node whose routes the sessions have not all brought
   * yet (its own session, or the reflectors' for a node it does not peer with: stand-in-nodes.ts),
   * its IPAM blocks via its address: so a speaker restart or a switch back from VXLAN does not
   * leave the node without routes while sessions come up.
   */
  private bgpRoutes(snapshot: ClusterSnapshot): BgpRouteTable {
    if (!this.learned) return BgpRouteTable.empty;
    const learned = this.learned.routes();
    // A session's routes are complete at its End-of-RIB (RFC 4724), not when it comes up: until
    // then (or 10 s for a peer that sends none) its node's blocks stay routed from IPAM.
    const standIn = standInNodes(snapshot, this.options.nodeName, this.speakerConfig?.peers.map((p) => p.address) ?? [], new Set(this.learned.completePeers()));
    // Added where no learned route has the prefix (the table looks each up: no set of 100k prefixes).
    const standIns: BgpRoute[] = [];
    for (const node of snapshot.nodes) {
      if (node.name === this.options.nodeName || !node.ipv4Address) continue;
      const ip = formatIPv4(node.ipv4Address.address);
      if (!standIn.has(node.name)) continue;
      for (const block of snapshot.blocks) if (block.spec.affinity === `host:${node.name}`) standIns.push({ cidr: block.spec.cidr, nextHop: ip });
      for (const cidr of borrowedRoutes(snapshot, node.name)) standIns.push({ cidr, nextHop: ip });
    }
    return learned.withRoutes(standIns);
  }

  /** Whether `config` needs a new speaker (BGP on or off, or a change beyond peers and announcements). */
  private speakerReplaced(config: SpeakerConfigFile | undefined): boolean {
    if (!config) return this.speaker !== undefined;
    return !this.speaker || !this.speakerConfig || needsRestart(this.speakerConfig, config);
  }

  /**
   * Brings the speaker to `config`. Peers come and go at runtime (a node joins or leaves, a
   * BGPPeer changes) without touching the other sessions; only a change of the speaker's own
   * settings (AS, router ID, listen address, timers) restarts it, gracefully.
   */
  private async applyBgp(config: SpeakerConfigFile | undefined): Promise<void> {
    if (this.speakerReplaced(config)) {
      if (this.speaker) {
        this.log.info({ part: 'bgp' }, config ? 'BGP settings changed: restarting the speaker' : 'only VXLAN pools: BGP off');
        this.learned?.stop();
        this.learned = undefined;
        await this.speaker.stop({ withdraw: !config });
        this.speaker = undefined;
      }
      this.speakerConfig = undefined;
      this.announced = new Set();
      if (config) {
        this.speaker = new Speaker(config, this.log.child({ part: 'bgp' }));
        this.learned = new LearnedRoutes(this.speaker, () => this.recompute());
        await this.speaker.start();
        this.speakerConfig = config;
        this.announced = new Set(config.announce);
      }
    } else if (config && this.speaker && config.clusterId !== this.speakerConfig!.clusterId) {
      // Made a route reflector (or no longer one) while running: the sessions stay. The cluster ID
      // first, so that the peers becoming clients just below are reflected to with it.
      this.speaker.setClusterId(config.clusterId);
      const { clusterId: _old, ...rest } = this.speakerConfig!;
      this.speakerConfig = { ...rest, ...(config.clusterId ? { clusterId: config.clusterId } : {}) };
    }
    if (config && this.speaker && JSON.stringify(config.peers) !== JSON.stringify(this.speakerConfig!.peers)) {
      try {
        const changes = this.speaker.setPeers(config.peers);
        this.log.info({ part: 'bgp', ...changes }, 'BGP peers changed');
        this.speakerConfig = { ...this.speakerConfig!, peers: config.peers };
      } catch (error) {
        this.log.error({ part: 'bgp', err: error }, 'the new BGP peers were refused; keeping the current ones');
      }
    }
    if (!this.speaker || !config) return;
    const wanted = new Set(config.announce);
    for (const cidr of wanted) {
      if (this.announced.has(cidr)) continue;
      const c = parseCidr(cidr);
      this.speaker.announce(c.address, c.prefixLength);
    }
    for (const cidr of this.announced) {
      if (wanted.has(cidr)) continue;
      const c = parseCidr(cidr);
      this.speaker.withdraw(c.address, c.prefixLength);
    }
    this.announced = wanted;
  }

  /**
   * `bgpRoutes`: the state with its BGP routes listed (the `status` answer, from which the console
   * previews mode changes); without, the state as it is (the status publisher reads only its pools,
   * and a list of a million routes per reading was most of the agent's garbage).
   */
  status(options: { bgpRoutes?: boolean } = {}) {
    const bgp: SpeakerStatus | undefined = this.speaker?.status();
    const state = options.bgpRoutes && this.state && this.bgp ? { ...this.state, bgpRoutes: this.bgp.toRoutes() } : this.state;
    // BGPPeers left out because their password Secret cannot be read, and why (never the passwords).
    const leftOut = Object.fromEntries(this.peerProblems);
    return {
      node: this.options.nodeName,
      address: formatInterfaceAddress(this.options.host.address),
      interface: this.options.host.interface,
      tunnels: this.tunnels,
      vxlanMac: vxlanMacForNode(this.options.nodeName),
      datastore: this.datastore.status(),
      bgp: bgp
        ? { running: true as const, asn: bgp.asn, peers: bgp.peers.map((p) => ({ address: p.address, state: p.state, info: p.info, type: p.type, since: p.since })), leftOut }
        : { running: false as const, reason: bgpWanted(this.datastore.snapshot().pools) ? 'starting' : 'only VXLAN pools: no BGP', leftOut },
      dataplane: this.lastPass ? { changes: this.lastPass.changes, failures: this.lastPass.failures, warnings: this.lastPass.warnings, ms: Math.round(this.lastPass.ms) } : undefined,
      // Already validated when it was computed (desiredDataplane parses it): status is polled often.
      state,
      process: { cpuMs: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1000), uptimeMs: Math.round(process.uptime() * 1000), loopDelayMaxMs: Math.round(this.loopDelay.max / 1e6), loopDelayP50Ms: Math.round(this.loopDelay.percentile(50) / 1e6) },
    };
  }

  /**
   * The kernel's routes with their owners. The owners come from the last pass's plan in memory:
   * the owners file (for `gingham-agent routes` in another process) is written up to a second
   * after a pass, and an answer read from it just after a change named the new routes no one's.
   */
  async routes() {
    const pass = this.lastPass;
    if (!pass) return routeRows(await readRoutes(), readOwners()?.routes ?? {});
    const planned = new Map(pass.plan.routes.map((r) => [r.dst, r.owner]));
    return routeRows(await readRoutes(), (dst) => planned.get(dst) ?? pass.bgp?.ownerOf(dst));
  }
}

/** A pass's plan with what its BGP routes send as well (they travel beside it: one planned route per pool and next hop in use). */
function sendingPlan(report: PassReport): DataplanePlan {
  return report.bgp ? { ...report.plan, routes: [...report.plan.routes, ...report.bgp.kindsInUse()] } : report.plan;
}
