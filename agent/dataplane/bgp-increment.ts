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
import type { DataplaneState } from '../../shared/model/dataplane-state.ts';
import { ChangeSet } from './changes.ts';
import type { KernelRoute } from './kernel/snapshot.ts';

interface Base {
  /** The state without its BGP routes, as text. */
  rest: string;
  /** Its BGP routes: prefix -> next hop. */
  bgp: Map<string, string>;
  /** The planned routes, which are in the kernel as planned: destination -> route. */
  routes: Map<string, DesiredRoute>;
  /** Destinations with another protocol's route (metric 0) in the kernel when it was read. */
  foreign: Set<string>;
  devices: ReadonlySet<string>;
  host: HostFacts;
  plan: DataplanePlan;
  warnings: string[];
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
    this.base = {
      rest: restText(state),
      bgp: new Map(state.bgpRoutes.map((r) => [r.cidr, r.nextHop])),
      routes: new Map(plan.routes.map((r) => [r.dst, r])),
      foreign,
      devices,
      host,
      plan,
      warnings: [...warnings],
    };
  }

  /** The step from the base to `state`, or undefined when a full pass is needed. */
  step(state: DataplaneState): Increment | undefined {
    const base = this.base;
    if (!base || !state.bgpRoutes || restText(state) !== base.rest) return undefined;
    const changed: BgpRoute[] = [];
    let kept = 0;
    for (const route of state.bgpRoutes) {
      const before = base.bgp.get(route.cidr);
      if (before === undefined) changed.push(route);
      else {
        kept++;
        if (before !== route.nextHop) changed.push(route);
      }
    }
    // More found than the base has: a prefix twice in the state; the full pass sorts that out.
    if (kept > base.bgp.size) return undefined;
    const removed: string[] = [];
    if (kept < base.bgp.size) {
      const now = new Set(state.bgpRoutes.map((r) => r.cidr));
      for (const cidr of base.bgp.keys()) if (!now.has(cidr)) removed.push(cidr);
    }
    // The changed prefixes planned with everything else the state holds (few routes: own blocks,
    // pods, VXLAN pools' blocks), so that a prefix another kind of route claims is decided as the
    // full plan decides it.
    const sub = planDataplane({ ...state, bgpRoutes: changed }, base.host);
    const wanted = new Map(sub.routes.map((r) => [r.dst, r]));
    const changes = new ChangeSet();
    const updates: Array<[string, DesiredRoute | undefined]> = [];
    for (const dst of [...changed.map((r) => r.cidr), ...removed]) {
      const want = wanted.get(dst);
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
    for (const route of changed) base.bgp.set(route.cidr, route.nextHop);
    for (const cidr of removed) base.bgp.delete(cidr);
    base.warnings = [...new Set([...base.warnings, ...sub.warnings])];
    base.plan = { ...base.plan, routes: [...base.routes.values()], warnings: base.warnings };
    return { changes, plan: base.plan };
  }
}
