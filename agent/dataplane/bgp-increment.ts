// A pass for a desired state that differs from the last one only in its BGP routes, while the
// kernel reported nothing but our own writes: only the prefixes whose next hop came, changed or
// went are planned and written, and the kernel is not read. During a burst of 100k routes each
// full pass read the whole table (0.6 s) and planned all of it (0.5-0.7 s) to write the last few
// hundred. Anything else (another field of the state, an event from the kernel, a refusal, a
// route the last pass could not program, a route of another protocol at a new prefix) needs a full
// pass, which also lays the next base; the 90 s resync is always full. The BGP routes and their
// plan are numbers (bgp-route-table.ts, bgp-plan.ts): a step compares two tables in one walk and
// makes no object per route.
import { ginghamRouteProtocol, type DataplanePlan, type DesiredRoute, type HostFacts } from '../../shared/dataplane-plan/index.ts';
import type { DataplaneState } from '../../shared/model/dataplane-state.ts';
import { BgpPlanner, NO_ROUTE, PlannedBgpRoutes } from './bgp-plan.ts';
import { prefixKey, prefixOf, type BgpRouteTable } from './bgp-route-table.ts';
import { ChangeSet } from './changes.ts';
import type { KernelRoute } from './kernel/snapshot.ts';

interface Base {
  /** The state without its BGP routes, as text. */
  rest: string;
  /** The BGP routes as planned, which are in the kernel as planned. */
  bgp: PlannedBgpRoutes;
  /** The planner that planned them: its kinds carry over to the next step. */
  planner: BgpPlanner;
  /** Prefix keys of another protocol's routes (metric 0) in the kernel when it was read. */
  foreign: Set<number>;
  devices: ReadonlySet<string>;
  host: HostFacts;
  /** The plan of everything but the BGP routes. */
  plan: DataplanePlan;
  warnings: string[];
}

export interface Increment {
  changes: ChangeSet;
  /** The plan of everything but the BGP routes, with every warning. */
  plan: DataplanePlan;
  bgp: PlannedBgpRoutes;
}

export function sameRoute(a: DesiredRoute, b: DesiredRoute): boolean {
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
   * After a full pass: `exact` when the kernel is now as planned (no refusal, no route left out
   * for a device or another protocol's route), so that the next step can start from it.
   */
  remember(
    state: DataplaneState | undefined,
    planned: { plan: DataplanePlan; bgp: PlannedBgpRoutes | undefined; planner: BgpPlanner | undefined },
    host: HostFacts,
    kernel: readonly KernelRoute[],
    devices: ReadonlySet<string>,
    warnings: readonly string[],
    exact: boolean,
  ): void {
    if (!exact || !state || !planned.bgp || !planned.planner) {
      this.base = undefined;
      return;
    }
    const foreign = new Set<number>();
    for (const route of kernel) if (route.protocol !== ginghamRouteProtocol && route.metric === 0) foreign.add(prefixKey(...prefixOf(route.dst)));
    this.base = { rest: restText(state), bgp: planned.bgp, planner: planned.planner, foreign, devices, host, plan: { ...planned.plan, warnings: [...warnings] }, warnings: [...warnings] };
  }

  /** The step from the base to `state` with BGP routes `table`, or undefined when a full pass is needed. */
  step(state: DataplaneState, table: BgpRouteTable | undefined): Increment | undefined {
    const base = this.base;
    if (!base || !table || restText(state) !== base.rest) return undefined;
    const before = base.bgp;
    const changes = new ChangeSet();
    if (table === before.table) return { changes, plan: base.plan, bgp: before };
    // A planner for this step, starting from the base's kinds (the state is the same but for its
    // BGP routes): unchanged prefixes keep their kind's index.
    const planner = new BgpPlanner(state, base.host, new Map(base.plan.routes.map((r) => [r.dst, r])), base.warnings, base.planner);
    const switched = changes.routesOf('switch'), retired = changes.routesOf('retire');
    const kindOf = new Uint32Array(table.size);
    /** What prefix (address, length) goes from kind `have` to kind `want` needs; false when only a full pass can tell. */
    const write = (address: number, length: number, want: number, have: number): boolean => {
      if (want === have) return true;
      const wanted = want === NO_ROUTE ? undefined : planner.kinds[want]!;
      const had = have === NO_ROUTE ? undefined : planner.kinds[have]!;
      if (wanted) {
        if (!had && base.foreign.has(prefixKey(address, length))) return false;
        if (wanted.dev !== undefined && !base.devices.has(wanted.dev)) return false;
        if (!had || !sameRoute(wanted, had)) switched.pushRoute(had ? 'replace' : 'add', address, length, wanted);
      } else if (had) retired.pushDelete(address, length, had.type);
      return true;
    };
    // One walk over both tables, both sorted by prefix.
    let i = 0, j = 0;
    while (i < table.size || j < before.table.size) {
      const a = i < table.size ? table.key(i) : Infinity;
      const b = j < before.table.size ? before.table.key(j) : Infinity;
      if (a === b && table.nextHops[i] === before.table.nextHops[j]) {
        kindOf[i++] = before.kindOf[j++]!;
      } else if (a <= b) {
        kindOf[i] = planner.plan(table, i);
        if (!write(table.addresses[i]!, table.lengths[i]!, kindOf[i]!, a === b ? before.kindOf[j++]! : NO_ROUTE)) return undefined;
        i++;
      } else {
        if (!write(before.table.addresses[j]!, before.table.lengths[j]!, NO_ROUTE, before.kindOf[j]!)) return undefined;
        j++;
      }
    }
    // The base moves to the new state now: should the kernel refuse part of the step, the
    // caller forgets it (and the next pass is a full one).
    base.bgp = new PlannedBgpRoutes(table, kindOf, planner.kinds);
    base.planner = planner;
    base.warnings = planner.finish();
    base.plan = { ...base.plan, warnings: base.warnings };
    return { changes, plan: base.plan, bgp: base.bgp };
  }
}
