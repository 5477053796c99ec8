// A pass for a desired state that differs from the last one only in its BGP routes, while the
// kernel reported nothing but our own writes: only the prefixes whose next hop came, changed or
// went are planned and written, and the kernel is not read. During a burst of 100k routes each
// full pass read the whole table (0.6 s) and planned all of it (0.5-0.7 s) to write the last few
// hundred. Anything else (another field of the state, an event from the kernel, a refusal, a
// route the last pass could not program, a route of another protocol at a new prefix) needs a full
// pass, which also lays the next base; the 90 s resync is always full.
import {
  ginghamRouteProtocol,
  planDataplane,
  type DataplanePlan,
  type DesiredRoute,
  type HostFacts,
} from '../../shared/dataplane-plan/index.ts';
import type { BgpRoute } from '../../shared/dataplane-plan/desired-state.ts';
import { containsCidr, parseCidr, type Cidr } from '../../shared/net/index.ts';
import type { DataplaneState } from '../../shared/model/dataplane-state.ts';
import { ChangeSet } from './changes.ts';
import type { KernelRoute } from './kernel/snapshot.ts';

/**
 * What changed in a state's BGP routes since the array before it (a producer that knows, the
 * agent's learned routes, says so), so that a step costs the changes, not a comparison of a
 * million routes. `length`: the array's length when recorded; an array grown after (the agent
 * appends IPAM stand-ins) is compared in full.
 */
interface BgpDelta {
  prev: BgpDelta | undefined;
  length: number;
  changed: readonly BgpRoute[];
  removed: readonly string[];
}

const deltas = new WeakMap<readonly BgpRoute[], BgpDelta>();

/** Records, for each new array of routes, what changed since the one before (see BgpDelta). */
export class BgpRouteLog {
  private last: BgpDelta | undefined;

  /** `routes` is the previous recorded array with `changed` (new or new next hop) and `removed` applied. */
  record(routes: readonly BgpRoute[], changed: readonly BgpRoute[], removed: readonly string[]): void {
    const delta: BgpDelta = { prev: this.last, length: routes.length, changed, removed };
    deltas.set(routes, delta);
    this.last = delta;
  }
}

/**
 * The changes from `base` to `routes` as recorded, later ones winning: prefix -> route, or
 * undefined for gone. Undefined when the record does not reach from one to the other.
 */
function recordedChanges(base: readonly BgpRoute[], routes: readonly BgpRoute[]): Map<string, BgpRoute | undefined> | undefined {
  const from = deltas.get(base);
  let at = deltas.get(routes);
  if (!from || !at || from.length !== base.length || at.length !== routes.length) return undefined;
  const steps: BgpDelta[] = [];
  for (; at && at !== from; at = at.prev) steps.push(at);
  if (at !== from) return undefined;
  const out = new Map<string, BgpRoute | undefined>();
  for (let i = steps.length - 1; i >= 0; i--) {
    for (const cidr of steps[i]!.removed) out.set(cidr, undefined);
    for (const route of steps[i]!.changed) out.set(route.cidr, route);
  }
  return out;
}

/** Records older than `routes`' are no longer needed (the base has moved past them). */
function forgetBefore(routes: readonly BgpRoute[]): void {
  const delta = deltas.get(routes);
  if (delta) delta.prev = undefined;
}

interface Base {
  /** The state without its BGP routes, as text. */
  rest: string;
  /** Its BGP routes (the state's own array). */
  bgp: readonly BgpRoute[];
  /** The planned routes, which are in the kernel as planned: destination -> route. */
  routes: Map<string, DesiredRoute>;
  /** Destinations with another protocol's route (metric 0) in the kernel when it was read. */
  foreign: Set<string>;
  devices: ReadonlySet<string>;
  host: HostFacts;
  plan: DataplanePlan;
  warnings: string[];
  /** The state's other routes (own blocks, pods, VXLAN pools' blocks) as planned, by destination; made at the first step. */
  others?: { routes: Map<string, DesiredRoute>; warnings: string[] };
}

export interface Increment {
  changes: ChangeSet;
  plan: DataplanePlan;
}

function sameRoute(a: DesiredRoute, b: DesiredRoute): boolean {
  return a.type === b.type && a.dev === b.dev && a.gateway === b.gateway && a.onlink === b.onlink && a.scope === b.scope && a.mtu === b.mtu;
}

function restText(state: DataplaneState): string {
  const { bgpRoutes: _routes, ...rest } = state;
  return JSON.stringify(rest);
}

/**
 * The routes `changed` BGP routes plan to, by destination (a destination another kind of route
 * takes is left to `others`), and the plan's warnings: what planDataplane of the state with
 * these BGP routes gives, without planning each route. A BGP route's planned route depends on
 * the pool its prefix lies in and its next hop alone, besides its destination (plan.ts,
 * remoteRoute): one route per (pool, next hop) is planned, and the others of its kind are that
 * route with their own destination. A route of a kind that plans to no route (a warning, a VXLAN
 * pool), or whose destination another route takes, is planned as it is, with its warnings. At
 * 500k routes per step, planning each cost 10 s of the agent's one thread.
 */
function planBgpRoutes(state: DataplaneState, base: Base, changed: readonly BgpRoute[]): { routes: Map<string, DesiredRoute>; others: ReadonlyMap<string, DesiredRoute>; warnings: string[] } {
  const others = (base.others ??= (() => {
    const plan = planDataplane({ ...state, bgpRoutes: [] }, base.host);
    return { routes: new Map(plan.routes.map((r) => [r.dst, r])), warnings: plan.warnings };
  })());
  const whole = () => {
    // As it is, with everything else the state holds (few routes), so that a destination another
    // kind of route claims is decided as the full plan decides it.
    const plan = planDataplane({ ...state, bgpRoutes: changed as BgpRoute[] }, base.host);
    return { routes: new Map(plan.routes.map((r) => [r.dst, r])), others: others.routes, warnings: plan.warnings };
  };
  const pools = state.pools.map((p) => parseCidr(p.cidr));
  const poolOf = (block: Cidr) => pools.findIndex((cidr) => containsCidr(cidr, block));
  /** By "pool next hop": the planned route of the first of its kind, or null when it planned to none. */
  const kinds = new Map<string, DesiredRoute | null>();
  const routes = new Map<string, DesiredRoute>();
  const single: BgpRoute[] = [];
  const singles = new Set<string>();
  const warnings = new Set(others.warnings);
  for (const route of changed) {
    const dst = route.cidr;
    // A destination twice: the plan warns of it, which planning each kind apart would not.
    if (routes.has(dst) || singles.has(dst)) return whole();
    if (others.routes.has(dst)) {
      single.push(route);
      singles.add(dst);
      continue;
    }
    const kind = `${poolOf(parseCidr(dst))} ${route.nextHop}`;
    let model = kinds.get(kind);
    if (model === undefined) {
      const plan = planDataplane({ ...state, bgpRoutes: [route] }, base.host);
      model = plan.routes.find((r) => r.dst === dst) ?? null;
      kinds.set(kind, model);
      if (model) for (const warning of plan.warnings) warnings.add(warning);
    }
    if (model === null) {
      single.push(route);
      singles.add(dst);
    } else routes.set(dst, model.dst === dst ? model : { ...model, dst, owner: { ...model.owner, block: dst } as DesiredRoute['owner'] });
  }
  if (single.length > 0) {
    const plan = planDataplane({ ...state, bgpRoutes: single }, base.host);
    for (const r of plan.routes) if (singles.has(r.dst)) routes.set(r.dst, r);
    for (const warning of plan.warnings) warnings.add(warning);
  }
  return { routes, others: others.routes, warnings: [...warnings] };
}

export class BgpIncrement {
  private base: Base | undefined;

  forget(): void {
    this.base = undefined;
  }

  /**
   * After a full pass: `exact` when the kernel is now as `plan` says (no refusal, no route left
   * out for a device or another protocol's route), so that the next step can start from it.
   */
  remember(state: DataplaneState | undefined, plan: DataplanePlan, host: HostFacts, kernel: readonly KernelRoute[], devices: ReadonlySet<string>, warnings: readonly string[], exact: boolean): void {
    if (!exact || !state?.bgpRoutes) {
      this.base = undefined;
      return;
    }
    const foreign = new Set<string>();
    for (const route of kernel) if (route.protocol !== ginghamRouteProtocol && route.metric === 0) foreign.add(route.dst);
    forgetBefore(state.bgpRoutes);
    this.base = {
      rest: restText(state),
      bgp: state.bgpRoutes,
      routes: new Map(plan.routes.map((r) => [r.dst, r])),
      foreign,
      devices,
      host,
      plan,
      warnings: [...warnings],
    };
  }

  /**
   * The routes that came or changed and the prefixes that went from `before` to `now`: as
   * recorded when the producer recorded them (BgpRouteLog), else by comparing the two.
   * Undefined when `now` has a prefix twice (the full pass sorts that out).
   */
  private changes(before: readonly BgpRoute[], now: readonly BgpRoute[]): { changed: BgpRoute[]; removed: string[] } | undefined {
    const recorded = recordedChanges(before, now);
    if (recorded) {
      const changed: BgpRoute[] = [];
      const removed: string[] = [];
      for (const [cidr, route] of recorded) {
        if (route) changed.push(route);
        else removed.push(cidr);
      }
      return { changed, removed };
    }
    const base = new Map(before.map((r) => [r.cidr, r.nextHop]));
    const changed: BgpRoute[] = [];
    let kept = 0;
    for (const route of now) {
      const was = base.get(route.cidr);
      if (was === undefined) changed.push(route);
      else {
        kept++;
        if (was !== route.nextHop) changed.push(route);
      }
    }
    // More found than the base has: a prefix twice in the state.
    if (kept > base.size) return undefined;
    const removed: string[] = [];
    if (kept < base.size) {
      const present = new Set(now.map((r) => r.cidr));
      for (const cidr of base.keys()) if (!present.has(cidr)) removed.push(cidr);
    }
    return { changed, removed };
  }

  /** The step from the base to `state`, or undefined when a full pass is needed. */
  step(state: DataplaneState): Increment | undefined {
    const base = this.base;
    if (!base || !state.bgpRoutes || restText(state) !== base.rest) return undefined;
    const { changed, removed } = this.changes(base.bgp, state.bgpRoutes) ?? {};
    if (!changed || !removed) return undefined;
    const sub = planBgpRoutes(state, base, changed);
    const wanted = sub.routes;
    const changes = new ChangeSet();
    const updates: Array<[string, DesiredRoute | undefined]> = [];
    for (const dst of [...changed.map((r) => r.cidr), ...removed]) {
      const want = wanted.get(dst) ?? sub.others.get(dst);
      const have = base.routes.get(dst);
      if (want && !have && base.foreign.has(dst)) return undefined;
      if (want?.dev !== undefined && !base.devices.has(want.dev)) return undefined;
      updates.push([dst, want]);
      if (want && have && sameRoute(want, have)) continue;
      if (want) changes.addRoute('switch', { op: have ? 'replace' : 'add', route: want });
      else if (have) changes.addRoute('retire', { op: 'del', dst, type: have.type });
    }
    // The base moves to the new state now: should the kernel refuse part of the step, the
    // caller forgets it (and the next pass is a full one).
    for (const [dst, want] of updates) {
      if (want) base.routes.set(dst, want);
      else base.routes.delete(dst);
    }
    base.bgp = state.bgpRoutes;
    forgetBefore(state.bgpRoutes);
    base.warnings = [...new Set([...base.warnings, ...sub.warnings])];
    base.plan = { ...base.plan, routes: [...base.routes.values()], warnings: base.warnings };
    return { changes, plan: base.plan };
  }
}
