// One reconcile pass: read the kernel, plan, let each manager diff its concern, and apply the
// difference in a few batches ordered so that the new path is in before the old one goes.
// Felix's shape: desired state is data, the kernel is read back every time, so restarts and
// drift heal themselves.
import path from 'node:path';
import type { Logger } from 'pino';
import type { DataplaneState } from '../../shared/model/dataplane-state.ts';
import type { BgpRoute } from '../../shared/dataplane-plan/desired-state.ts';
import {
  ipipDeviceName,
  planDataplane,
  vxlanDeviceName,
  type DataplanePlan,
  type DesiredRoute,
  type HostFacts,
  type RouteOwner,
} from '../../shared/dataplane-plan/index.ts';
import { ChangeSet } from './changes.ts';
import { IpipManager } from './ipip-manager.ts';
import { BatchProcess } from './kernel/batch-process.ts';
import type { BatchFailure } from './kernel/iproute.ts';
import { readSnapshotThrough, type KernelSnapshot } from './kernel/snapshot.ts';
import { NatManager } from './nat-manager.ts';
import { TunnelAdmissionManager } from './tunnel-admission.ts';
import { diffRoutes, PodRouteGrace } from './route-manager.ts';
import { routeCommand } from './route-change.ts';
import { RouteWriter } from './kernel/route-writer.ts';
import { BgpIncrement, type Increment } from './bgp-increment.ts';
import { BgpPlanner, NO_ROUTE, planBgpTable, type PlannedBgpRoutes } from './bgp-plan.ts';
import { BgpRouteTable } from './bgp-route-table.ts';
import type { RouteChangeList } from './route-change-list.ts';
import { RouteEchoes } from './route-echoes.ts';
import { ownersFile, removeOwners, writeOwners } from './route-owners.ts';
import { diffVxlan } from './vxlan-manager.ts';

export interface PassReport {
  /** The plan of everything but the BGP routes (those are in `bgp`), with every warning. */
  plan: DataplanePlan;
  /** The BGP routes as planned, as numbers (bgp-plan.ts); absent when the state has none. */
  bgp?: PlannedBgpRoutes;
  /** Kernel commands sent in this pass. */
  changes: number;
  /** The commands themselves (`ip ...` / `bridge ...`), for the log; empty for a pass of more than 50. */
  commands: string[];
  failures: BatchFailure[];
  warnings: string[];
  ms: number;
  /** Where the pass spent its time (ms): reading the kernel, tunl0 (the user-space helper's tables), the admission table, the batches, nftables' NAT, the tunnel's table. */
  timings: { read: number; tunnel: number; admission: number; apply: number; nat: number; finish: number };
}

export interface ReconcilerOptions {
  log: Logger;
  /** Use the user-space tunl0 even where the kernel has ipip. */
  forceUserspaceIpip?: boolean;
  /** Record route owners for `gingham-agent routes` (off in benchmarks). */
  recordOwners?: boolean;
  /**
   * The network namespace the kernel tools run in, when it is not this process's (a test that
   * wraps `ip`, `bridge` and `nft` to run there): the route writer is started there too.
   */
  netns?: string;
  /** Called when something outside a pass needs a new pass (the tunl0 helper died). */
  onNeedsPass?: (reason: string) => void;
}

/** The owners of the routes are written at most this often (ms). */
const ownersInterval = 1000;

/** A pass's commands are listed in its report (for the log) up to this many. */
const maxReportedCommands = 50;

export function hostFacts(state: DataplaneState, snapshot: KernelSnapshot, warnings: string[]): HostFacts {
  const link = snapshot.links.get(state.node.interface);
  if (!link) warnings.push(`host interface ${state.node.interface} does not exist: assuming MTU 1500 (check node.interface)`);
  const defaultRoute = snapshot.routes.find((r) => r.dst === '0.0.0.0/0' && r.gateway && r.dev === state.node.interface);
  return { mtu: link?.mtu ?? 1500, ...(defaultRoute?.gateway ? { gateway: defaultRoute.gateway } : {}) };
}

function sameOwner(a: RouteOwner, b: RouteOwner): boolean {
  switch (a.kind) {
    case 'own-block':
      return b.kind === a.kind && b.block === a.block && b.pool === a.pool;
    case 'remote-block':
      return b.kind === a.kind && b.block === a.block && b.pool === a.pool && b.mode === a.mode && b.node === a.node && b.path === a.path;
    case 'endpoint':
      return b.kind === a.kind && b.endpoint === a.endpoint;
  }
}

/**
 * Whether `routes` have the owners of `last`, in the same order (an unchanged plan keeps its
 * order and mostly the very objects; one in another order is written again, which is harmless).
 */
function sameOwners(routes: readonly DesiredRoute[], last: readonly DesiredRoute[]): boolean {
  if (routes.length !== last.length) return false;
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i]!, before = last[i]!;
    if (route !== before && (route.dst !== before.dst || !sameOwner(route.owner, before.owner))) return false;
  }
  return true;
}

/**
 * Whether two BGP plans give every prefix the same owner: the same prefixes, each of a kind whose
 * owner is the same but for its block (each prefix's owner names its own). Kinds are compared
 * once per pair: a full pass plans new kinds, and their owners are the same as the last pass's.
 */
function sameBgpOwners(a: PlannedBgpRoutes | undefined, b: PlannedBgpRoutes | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.table.size !== b.table.size) return false;
  const unblocked = (owner: RouteOwner): RouteOwner => ('block' in owner ? { ...owner, block: '' } : owner);
  const same = new Map<number, boolean>();
  for (let i = 0; i < a.table.size; i++) {
    if (a.table.addresses[i] !== b.table.addresses[i] || a.table.lengths[i] !== b.table.lengths[i]) return false;
    const x = a.kindOf[i]!, y = b.kindOf[i]!;
    if (x === NO_ROUTE || y === NO_ROUTE) {
      if (x !== y) return false;
      continue;
    }
    const pair = x * 2 ** 32 + y;
    let equal = same.get(pair);
    if (equal === undefined) same.set(pair, (equal = sameOwner(unblocked(a.kinds[x]!.owner), unblocked(b.kinds[y]!.owner))));
    if (!equal) return false;
  }
  return true;
}

export interface PassOptions {
  /** Read nftables' table back (a pass that nothing in nftables started skips it). */
  nat?: boolean;
  /** The desired state as it is once the kernel has been read. */
  latest?: () => DataplaneState | undefined;
  /** The state's BGP routes as a table, read with `latest` (the agent's): the state's own list is then empty. */
  bgp?: () => BgpRouteTable | undefined;
  quiet?: boolean;
}

/**
 * The state's BGP routes as a table: the one given (the agent's), or the document's list made
 * one; undefined when the state has no BGP routes (the peers' blocks stand in).
 */
function bgpRoutesOf(state: DataplaneState | undefined, given: BgpRouteTable | undefined): { table: BgpRouteTable; duplicates: BgpRoute[] } | undefined {
  if (!state?.bgpRoutes) return undefined;
  if (state.bgpRoutes.length === 0) return { table: given ?? BgpRouteTable.empty, duplicates: [] };
  return BgpRouteTable.fromRoutes(state.bgpRoutes);
}

export class Reconciler {
  readonly ipip: IpipManager;
  private readonly nat = new NatManager();
  private readonly admission = new TunnelAdmissionManager();
  private readonly podRoutes = new PodRouteGrace();
  /** The routes whose owners were last written; undefined until written (or after removeAll). */
  private lastOwners: readonly DesiredRoute[] | undefined;
  private lastBgpOwners: PlannedBgpRoutes | undefined;
  /** Long-lived iproute2 processes: a pass costs round trips, not process starts. */
  private readonly ip = new BatchProcess('ip');
  private readonly bridge = new BatchProcess('bridge');
  /** Routes over netlink: `ip -batch` waited for each line's answer (most of a 100k-route pass). */
  private readonly routes: RouteWriter;
  private readonly echoes = new RouteEchoes();
  private readonly increment = new BgpIncrement();
  /** Every interface index seen, by name: a name with a new index means iproute2's cache is stale. */
  private readonly indexes = new Map<string, number>();

  constructor(readonly options: ReconcilerOptions) {
    this.routes = new RouteWriter(options.netns ? { namespace: options.netns } : {});
    this.ipip = new IpipManager((reason) => {
      options.log.warn(reason);
      options.onNeedsPass?.(reason);
    }, options.forceUserspaceIpip ?? false);
  }

  /**
   * Brings the kernel to `given` (or removes everything Gingham made, for undefined). `nat: false`
   * skips reading the nftables table back, for passes that nothing in nftables started (`ip
   * monitor` events, a new desired state): a changed NAT plan is still written. `latest`, when
   * given, is asked for the desired state once the kernel has been read: a state that arrived
   * during the read (routes streaming in from BGP) goes into this pass, not only into the next.
   */
  async pass(given: DataplaneState | undefined, options: PassOptions = {}): Promise<PassReport> {
    const started = performance.now();
    // `quiet`: the kernel reported nothing but our own writes since the last pass. A state that
    // differs from that pass's only in BGP routes then needs only those routes written.
    if (options.quiet && this.ipip.implementation !== 'userspace') {
      const state = options.latest ? options.latest() : given;
      const step = state ? this.increment.step(state, bgpRoutesOf(state, options.bgp?.())?.table) : undefined;
      if (step) return this.passIncrement(step, started);
    }
    let mark = started;
    const lap = () => {
      const now = performance.now();
      const ms = Math.round(now - mark);
      mark = now;
      return ms;
    };
    const warnings: string[] = [];
    // Our routes at the BGP prefixes the state has now are read as numbers (a state that comes
    // during the read is diffed against them all the same, by prefix); the user-space tunl0's
    // helper wants the old next hops as objects.
    const reading = options.latest ? options.latest() : given;
    const readAsNumbers = this.ipip.implementation === 'userspace' ? undefined : bgpRoutesOf(reading, options.bgp?.())?.table;
    const snapshot = await readSnapshotThrough(this.ip, this.bridge, [vxlanDeviceName], readAsNumbers);
    this.checkIndexes(snapshot);
    if (snapshot.links.has(ipipDeviceName)) this.ipSawTunl0 = true;
    if (snapshot.links.has(vxlanDeviceName)) this.bridgeSawVxlan = true;
    const read = lap();
    const state = options.latest ? options.latest() : given;
    const bgpRoutes = bgpRoutesOf(state, options.bgp?.());
    const host: HostFacts = state ? hostFacts(state, snapshot, warnings) : { mtu: 1500 };
    // Everything but the BGP routes as the planner plans a document; the BGP routes as numbers.
    const plan: DataplanePlan = state ? planDataplane(bgpRoutes ? { ...state, bgpRoutes: [] } : state, host) : { routes: [], neighbours: [], fdb: [], warnings: [] };
    const planner = state && bgpRoutes ? new BgpPlanner(state, host, new Map(plan.routes.map((r) => [r.dst, r])), plan.warnings) : undefined;
    const bgp = planner && bgpRoutes ? planBgpTable(planner, bgpRoutes.table) : undefined;
    if (planner) plan.warnings = planner.finish(bgpRoutes?.duplicates);
    warnings.push(...plan.warnings);

    const tunl0 = await this.ipip.ensureDevice(plan.ipip, snapshot.links);
    // A tunl0 made outside the ip process (the user-space helper's TUN device, or `ip link add`
    // run on its own) is a new interface index under a name that process may have cached.
    if (tunl0.fresh && this.ipSawTunl0) this.restartIp();
    const changes = new ChangeSet();
    this.ipip.diff(plan.ipip, snapshot.links.get(ipipDeviceName), tunl0.fresh, changes);
    const vxlan = diffVxlan(plan.vxlan, snapshot.links, snapshot.neighbours, snapshot.fdb, plan.neighbours, plan.fdb, changes);
    const devices = new Set(snapshot.links.keys());
    if (tunl0.present) devices.add(ipipDeviceName);
    else devices.delete(ipipDeviceName);
    if (vxlan.present) devices.add(vxlanDeviceName);
    else devices.delete(vxlanDeviceName);
    const routeWarnings = diffRoutes(plan.routes, snapshot.routes, { devices, podRoutes: this.podRoutes, ...(bgp ? { bgp } : {}), ...(snapshot.bgpRoutes ? { kernelBgp: snapshot.bgpRoutes } : {}) }, changes);
    warnings.push(...routeWarnings);

    // The user-space tunl0 (kernels without ipip) takes every route via tunl0 as an object.
    const tunnelRoutes = () => (bgp && this.ipip.implementation === 'userspace' ? [...plan.routes, ...bgp.routes()] : plan.routes);
    const kernelRoutes = snapshot.bgpRoutes && this.ipip.implementation === 'userspace' ? [...snapshot.routes, ...snapshot.bgpRoutes.routes()] : snapshot.routes;
    await this.ipip.beforeSwitch(tunnelRoutes(), kernelRoutes, plan.tunnelAdmission);
    const tunnel = lap();
    const failures: BatchFailure[] = [];
    // Tunnel packets only from cluster hosts, in place before a new tunnel device is.
    const admissionError = await this.admission.reconcile(plan.tunnelAdmission, { check: options.nat ?? true });
    if (admissionError) failures.push({ command: 'nft -f -', error: admissionError });
    const admission = lap();
    for (const batch of changes.steps()) {
      if ('routes' in batch) {
        for (const failure of await this.applyRoutes(batch.routes)) failures.push(failure);
        continue;
      }
      // `bridge` caches names too: a vxlan.calico made again under a process that looked up the
      // old one needs a fresh process (one that never saw it does not).
      if (batch.tool === 'bridge' && this.bridgeStale) {
        this.restartBridge();
        this.bridgeStale = false;
      }
      failures.push(...(await (batch.tool === 'ip' ? this.ip : this.bridge).run(batch.commands)));
      if (batch.tool === 'bridge') this.bridgeSawVxlan = true;
      if (batch.tool === 'ip' && this.bridgeSawVxlan && batch.commands.some((c) => c.startsWith(`link add ${vxlanDeviceName} `))) this.bridgeStale = true;
    }
    const apply = lap();
    const natError = await this.nat.reconcile(plan.nat, { check: options.nat ?? true });
    if (natError) failures.push({ command: 'nft -f -', error: natError });
    const nat = lap();
    const tunnelStops = !plan.ipip && this.ipip.implementation === 'userspace' && snapshot.links.has(ipipDeviceName);
    await this.ipip.finish(plan.ipip, tunnelRoutes(), plan.tunnelAdmission);
    // Devices gone: fresh processes now, while nothing waits, with no stale name in their caches.
    if (tunnelStops) this.restartIp({ eager: true });
    if (changes.textOf('teardown').some((c) => c === `link del ${vxlanDeviceName}`)) this.restartBridge({ eager: true });
    const finish = lap();
    this.increment.remember(state, { plan, bgp, planner }, host, snapshot.routes, devices, warnings, failures.length === 0 && routeWarnings.length === 0 && this.ipip.implementation !== 'userspace');

    if (this.options.recordOwners ?? true) {
      const unrecorded = this.recordOwners(plan, bgp);
      if (unrecorded) warnings.push(unrecorded);
    }
    return { plan, ...(bgp ? { bgp } : {}), changes: changes.size, commands: changes.size <= maxReportedCommands ? changes.batches().flatMap((b) => b.commands.map((c) => `${b.tool} ${c}`)) : [], failures, warnings, ms: performance.now() - started, timings: { read, tunnel, admission, apply, nat, finish } };
  }

  /** Routes over netlink (the native writer), or as `ip -batch` text where it is not built; their events are expected back. */
  private async applyRoutes(changes: RouteChangeList): Promise<BatchFailure[]> {
    this.echoes.expect(changes);
    return this.routes.available ? this.routes.apply(changes) : this.ip.run(changes.toArray().map(routeCommand));
  }

  /** A pass of BGP routes only (see bgp-increment.ts): no read, only the changed routes planned and written. */
  private async passIncrement(step: Increment, started: number): Promise<PassReport> {
    const planned = performance.now();
    const failures: BatchFailure[] = [];
    for (const batch of step.changes.steps()) if ('routes' in batch) for (const failure of await this.applyRoutes(batch.routes)) failures.push(failure);
    // Refused: the kernel is not as the base says; the next pass is a full one.
    if (failures.length > 0) this.increment.forget();
    const warnings = [...step.plan.warnings];
    if (this.options.recordOwners ?? true) {
      const unrecorded = this.recordOwners(step.plan, step.bgp);
      if (unrecorded) warnings.push(unrecorded);
    }
    const changes = step.changes;
    return {
      plan: step.plan,
      bgp: step.bgp,
      changes: changes.size,
      commands: changes.size <= maxReportedCommands ? changes.batches().flatMap((b) => b.commands.map((c) => `${b.tool} ${c}`)) : [],
      failures,
      warnings,
      ms: performance.now() - started,
      timings: { read: 0, tunnel: Math.round(planned - started), admission: 0, apply: Math.round(performance.now() - planned), nat: 0, finish: 0 },
    };
  }

  /** Whether an `ip monitor` line reports one of our own route writes (no news for the loop). */
  isOwnEcho(line: string): boolean {
    return this.echoes.isEcho(line);
  }

  private bridgeStale = false;
  /** The running ip process has listed tunl0 (and may hold its index in its cache). */
  private ipSawTunl0 = false;
  /** The running bridge process has looked up vxlan.calico. */
  private bridgeSawVxlan = false;

  private restartBridge(options: { eager?: boolean } = {}): void {
    this.bridge.restart(options);
    this.bridgeSawVxlan = false;
  }

  private restartIp(options: { eager?: boolean } = {}): void {
    this.ip.restart(options);
    this.ipSawTunl0 = false;
  }

  /** Restarts the batch processes when an interface was made again by someone else (new index, same name). */
  private checkIndexes(snapshot: KernelSnapshot): void {
    let stale = false;
    for (const link of snapshot.links.values()) {
      const before = this.indexes.get(link.name);
      if (before !== undefined && before !== link.index) stale = true;
      this.indexes.set(link.name, link.index);
    }
    if (stale) {
      this.restartIp();
      this.restartBridge();
      this.bridgeStale = false;
    }
  }

  /** Ends the long-lived iproute2 processes (a later pass starts them again). */
  close(): void {
    this.flushOwners();
    this.ip.close();
    this.bridge.close();
    this.routes.close();
  }

  /** Removes every route, device, entry and table Gingham made. */
  async removeAll(): Promise<PassReport> {
    const report = await this.pass(undefined);
    await this.ipip.stopTunnel();
    this.close();
    if (this.options.recordOwners ?? true) removeOwners();
    this.lastOwners = undefined;
    this.increment.forget();
    this.ownersProblem = undefined;
    this.lastOwnersWrite = -Infinity;
    return report;
  }

  /**
   * Records who made each route for `gingham-agent routes`, after the pass and at most once a
   * second: during a burst
   * of BGP routes every pass has a new plan, and writing 100k owners each time (comparing,
   * serialising, writing) cost more than a second of a pass's time. The latest plan is written
   * then (and at close). A failure (a full /run, ENOSPC) is a warning, not a failed pass: the
   * kernel is already as planned, and the write is tried again with the next pass's plan (the
   * loop logs a warning only when it changes, so a full disk is said once).
   */
  private recordOwners(plan: DataplanePlan, bgp: PlannedBgpRoutes | undefined): string | undefined {
    this.ownersPlan = { plan, bgp };
    // After the pass, never inside it: the kernel does not wait for this file.
    // No more often than a second, nor than five times what the last write took (a million
    // routes take seconds to write: a burst of passes would otherwise write them without pause).
    const wait = Math.max(0, this.lastOwnersWrite + Math.max(ownersInterval, 5 * this.lastOwnersCost) - performance.now());
    if (!this.ownersTimer) {
      this.ownersTimer = setTimeout(() => {
        this.ownersTimer = undefined;
        this.writeOwnersNow();
      }, wait);
      this.ownersTimer.unref();
    }
    return this.ownersProblem;
  }

  private ownersPlan: { plan: DataplanePlan; bgp: PlannedBgpRoutes | undefined } | undefined;
  private ownersTimer: NodeJS.Timeout | undefined;
  private lastOwnersWrite = -Infinity;
  /** What the last write of the owners took (ms). */
  private lastOwnersCost = 0;
  /** Why the last write of the owners failed, until one succeeds. */
  private ownersProblem: string | undefined;

  private writeOwnersNow(): void {
    const planned = this.ownersPlan;
    this.ownersPlan = undefined;
    if (!planned) return;
    const { plan, bgp } = planned;
    this.lastOwnersWrite = performance.now();
    // Compared with the last record (the other routes field by field, the BGP routes by their
    // plan's identity and kinds): serialising 100k owners to find them unchanged cost a second.
    if (this.lastOwners && sameOwners(plan.routes, this.lastOwners) && sameBgpOwners(bgp, this.lastBgpOwners)) return;
    try {
      writeOwners(plan.routes, bgp);
    } catch (error) {
      this.ownersProblem = `cannot record the routes' owners (${(error as Error).message}): routing is unaffected, \`gingham-agent routes\` shows the owners last recorded; free space under ${path.dirname(ownersFile())} and they are written on the next pass`;
      return;
    }
    this.ownersProblem = undefined;
    this.lastOwners = plan.routes;
    this.lastBgpOwners = bgp;
    this.lastOwnersCost = performance.now() - this.lastOwnersWrite;
  }

  /** Writes the owners a pass left for later, now (before the process ends). */
  private flushOwners(): void {
    if (this.ownersTimer) clearTimeout(this.ownersTimer);
    this.ownersTimer = undefined;
    this.writeOwnersNow();
  }
}
