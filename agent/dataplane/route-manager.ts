// Routes: diff the planned routes against the main table and replace, add or delete only what
// differs. Only routes marked with Gingham's protocol are Gingham's; a route someone else made to
// the same destination is left alone and reported. A local pod's /32 has one owner too: the CNI
// plugin makes it with Gingham's protocol when the pod starts (before the agent can know of the
// pod), and the agent keeps it from then on; one that an older plugin (or calico-node's) made on
// the pod's own veth is adopted, not reported.
import { ginghamRouteProtocol, type DesiredRoute } from '../../shared/dataplane-plan/index.ts';
import type { PlannedBgpRoutes } from './bgp-plan.ts';
import { prefixKey, prefixOf } from './bgp-route-table.ts';
import type { KernelBgpRoutes } from './kernel/kernel-bgp-routes.ts';
import type { ChangeSet } from './changes.ts';
import { scopeLink, type KernelRoute } from './kernel/snapshot.ts';

export function routeMatches(want: DesiredRoute, have: KernelRoute): boolean {
  return (
    have.protocol === ginghamRouteProtocol &&
    have.type === want.type &&
    have.dev === want.dev &&
    have.gateway === want.gateway &&
    have.onlink === want.onlink &&
    (have.scope === scopeLink) === (want.scope === 'link') &&
    have.mtu === want.mtu
  );
}

export interface RouteDiffContext {
  /** Devices that exist now or that this pass creates before its routes go in. */
  devices: ReadonlySet<string>;
  /** Keeps a pod's route that the plan does not have yet; the caller keeps it across passes. */
  podRoutes?: PodRouteGrace;
  /** The BGP routes as planned, as numbers (bgp-plan.ts): wanted besides `desired`. */
  bgp?: PlannedBgpRoutes;
  /** Our routes the kernel read kept as numbers (kernel/kernel-bgp-routes.ts), besides `kernel`. */
  kernelBgp?: KernelBgpRoutes;
}

/** A pod's veth, as Calico's CNI plugin (and Gingham's) names the host end. */
const podDevice = /^cali[0-9a-f]{11}$/;

/**
 * The CNI plugin adds a new pod's /32 before the pod's allocation reaches the agent through the
 * API server; until it does, the route is Gingham's but not in the plan. As Felix gives routes on
 * interfaces it has not been told about a grace period, such a route is kept for `graceMs` from
 * the pass that first found it unwanted, and deleted only after. The same keeps a running pod's
 * route when the agent stops (removeAll): it goes with the pod's veth (CNI DEL), not with the agent.
 */
export class PodRouteGrace {
  private readonly firstUnwanted = new Map<string, number>();

  constructor(private readonly graceMs = 10_000, private readonly now: () => number = Date.now) {}

  /** Whether to keep `route` (ours, on a pod's veth, not in the plan) for now. */
  keep(route: KernelRoute): boolean {
    if (!route.dev || !podDevice.test(route.dev)) return false;
    const key = `${route.dst} ${route.dev}`;
    const first = this.firstUnwanted.get(key) ?? this.now();
    this.firstUnwanted.set(key, first);
    return this.now() - first < this.graceMs;
  }

  /** Forgets routes that are wanted again or gone (called once per pass with the unwanted ones kept). */
  retain(kept: ReadonlySet<string>): void {
    for (const key of this.firstUnwanted.keys()) if (!kept.has(key)) this.firstUnwanted.delete(key);
  }
}

/** A pod's /32 on the very veth the plan routes it to, made by another protocol (an older CNI plugin, calico-node's). */
function isPodRouteToAdopt(want: DesiredRoute, other: KernelRoute): boolean {
  return want.owner.kind === 'endpoint' && other.type === 'unicast' && other.dev === want.dev && !other.gateway && other.scope === scopeLink;
}

/**
 * Adds the route changes to `changes` and returns warnings for routes it could not program.
 * New routes are added; changed routes are replaced in place (`ip route replace` swaps a route atomically, so a mode
 * switch drops nothing there); routes no longer wanted are deleted in the retire phase.
 */
export function diffRoutes(desired: readonly DesiredRoute[], kernel: readonly KernelRoute[], context: RouteDiffContext, changes: ChangeSet): string[] {
  const warnings: string[] = [];
  const ours = new Map<string, KernelRoute>();
  const foreign = new Map<string, KernelRoute>();
  for (const route of kernel) {
    if (route.protocol === ginghamRouteProtocol) ours.set(route.dst, route);
    else if (route.metric === 0 && !foreign.has(route.dst)) foreign.set(route.dst, route);
  }
  // Our routes the read kept as numbers where another kind of route is planned now: as objects, for the loop below.
  const asNumbers = context.kernelBgp;
  if (asNumbers) {
    for (const route of desired) {
      const k = ours.has(route.dst) ? undefined : asNumbers.routeAt(route.dst);
      if (k) ours.set(route.dst, k);
    }
  }
  const wanted = new Set<string>();
  for (const route of desired) {
    wanted.add(route.dst);
    const have = ours.get(route.dst);
    if (have && routeMatches(route, have)) continue;
    const other = foreign.get(route.dst);
    if (!have && other && isPodRouteToAdopt(route, other)) {
      // Replaced in place (same destination and metric): the pod's traffic never misses a route.
      changes.addRoute('switch', { op: 'replace', route });
      continue;
    }
    if (!have && other) {
      warnings.push(`${route.dst}: a route not made by Gingham (protocol ${other.protocol}, dev ${other.dev ?? '-'}) is in the way; remove it to let Gingham program this one`);
      continue;
    }
    if (route.dev && !context.devices.has(route.dev)) {
      warnings.push(`${route.dst}: device ${route.dev} does not exist (yet); the route follows when it does`);
      continue;
    }
    // Replace only a route of ours; a new one is added, so that a route someone else makes to the
    // same destination between our read and our write is refused by the kernel, not overwritten.
    changes.addRoute('switch', { op: have ? 'replace' : 'add', route });
  }
  if (context.bgp || asNumbers) diffBgpRoutes(desired, ours, foreign, wanted, context, changes, warnings);
  const kept = new Set<string>();
  for (const route of ours.values()) {
    if (wanted.has(route.dst)) continue;
    if (context.podRoutes?.keep(route)) {
      kept.add(`${route.dst} ${route.dev ?? ''}`);
      continue;
    }
    changes.addRoute('retire', { op: 'del', dst: route.dst, type: route.type });
  }
  context.podRoutes?.retain(kept);
  return warnings;
}

/**
 * The BGP routes' part of the diff, without an object or a string per route: the kernel's routes
 * that are objects are looked up in the plan, those the read kept as numbers are compared by
 * prefix, and the plan's prefixes the kernel lacks are found by a mark per prefix. Each route of
 * ours (as an object) that the plan has is added to `wanted`.
 */
function diffBgpRoutes(desired: readonly DesiredRoute[], ours: ReadonlyMap<string, KernelRoute>, foreign: ReadonlyMap<string, KernelRoute>, wanted: Set<string>, context: RouteDiffContext, changes: ChangeSet, warnings: string[]): void {
  const bgp = context.bgp, kept = context.kernelBgp;
  const table = bgp?.table;
  const switched = changes.routesOf('switch'), retired = changes.routesOf('retire');
  /** Per prefix of the plan: 1 ours in the kernel, 2 another protocol's in the way. */
  const present = new Uint8Array(table?.size ?? 0);
  const missingDevice = (route: DesiredRoute, dst: () => string) => {
    if (!route.dev || context.devices.has(route.dev)) return false;
    warnings.push(`${dst()}: device ${route.dev} does not exist (yet); the route follows when it does`);
    return true;
  };
  if (bgp && table) {
    for (const route of ours.values()) {
      if (wanted.has(route.dst)) continue; // another kind of route's
      const i = bgp.indexOf(route.dst);
      if (i < 0) continue;
      present[i] = 1;
      wanted.add(route.dst);
      const kind = bgp.kind(i)!;
      if (routeMatches(kind, route) || missingDevice(kind, () => route.dst)) continue;
      switched.pushRoute('replace', table.addresses[i]!, table.lengths[i]!, kind);
    }
  }
  if (kept) {
    const others = new Set(desired.map((r) => prefixKey(...prefixOf(r.dst))));
    for (let j = 0; j < kept.table.size; j++) {
      const form = kept.form(j);
      if (!form) continue;
      const address = kept.table.addresses[j]!, length = kept.table.lengths[j]!;
      const i = !bgp || !table ? -1 : kept.table === table ? j : table.indexOf(address, length);
      const kind = i >= 0 ? bgp!.kind(i) : undefined;
      if (kind) {
        present[i] = 1;
        if (routeMatches(kind, form) || missingDevice(kind, () => kept.table.cidr(j))) continue;
        switched.pushRoute('replace', address, length, kind);
      } else if (!others.has(prefixKey(address, length))) {
        // Ours, and no route is planned there now (another kind of route's was taken as an object above).
        retired.pushDelete(address, length, form.type);
      }
    }
  }
  if (!bgp || !table) return;
  for (const route of foreign.values()) {
    const i = bgp.indexOf(route.dst);
    if (i >= 0 && present[i] === 0) present[i] = 2;
  }
  for (let i = 0; i < table.size; i++) {
    const kind = bgp.kind(i);
    if (!kind || present[i] === 1) continue;
    if (present[i] === 2) {
      const dst = table.cidr(i), other = foreign.get(dst)!;
      warnings.push(`${dst}: a route not made by Gingham (protocol ${other.protocol}, dev ${other.dev ?? '-'}) is in the way; remove it to let Gingham program this one`);
      continue;
    }
    if (missingDevice(kind, () => table.cidr(i))) continue;
    switched.pushRoute('add', table.addresses[i]!, table.lengths[i]!, kind);
  }
}
