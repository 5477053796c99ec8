// The BGP routes' part of a plan, kept as numbers. A BGP route's planned route depends on the
// pool its prefix lies in and its next hop alone, besides its destination (shared/dataplane-plan/
// plan.ts, remoteRoute): so one route is planned per (pool, next hop), a "kind", and each prefix
// keeps the index of its kind. At a million routes the plan as objects was a DesiredRoute and an
// owner per route (153 MiB) and a map of them (28 MiB); this is 4 bytes a route beside the table.
import { planDataplane, type DesiredRoute, type HostFacts, type RouteOwner } from '../../shared/dataplane-plan/index.ts';
import type { BgpRoute } from '../../shared/dataplane-plan/desired-state.ts';
import type { DataplaneState } from '../../shared/model/dataplane-state.ts';
import { containsCidr, formatIPv4, parseCidr } from '../../shared/net/index.ts';
import { prefixKey, prefixOf, type BgpRouteTable } from './bgp-route-table.ts';

/** A prefix that plans to no route (a VXLAN pool's, outside every pool, a destination another route takes). */
export const NO_ROUTE = 0xffffffff;

/** A kind's route for one of its prefixes: its own destination, and its owner names its block. */
export function routeFor(kind: DesiredRoute, cidr: string): DesiredRoute {
  if (kind.dst === cidr) return kind;
  return { ...kind, dst: cidr, owner: 'block' in kind.owner ? { ...kind.owner, block: cidr } : kind.owner };
}

export class PlannedBgpRoutes {
  constructor(
    /** The routes planned from. */
    readonly table: BgpRouteTable,
    /** Per prefix of the table, its kind's index in `kinds`, or NO_ROUTE. */
    readonly kindOf: Uint32Array,
    /** One planned route per kind (its destination the first prefix it was planned for). */
    readonly kinds: readonly DesiredRoute[],
  ) {}

  /** The kind of a prefix of the table, or undefined when it plans to no route. */
  kind(i: number): DesiredRoute | undefined {
    const k = this.kindOf[i]!;
    return k === NO_ROUTE ? undefined : this.kinds[k];
  }

  /** Index in the table of a destination that plans to a route, or -1. */
  indexOf(dst: string): number {
    const [address, length] = prefixOf(dst);
    const i = this.table.indexOf(address, length);
    return i >= 0 && this.kindOf[i] !== NO_ROUTE ? i : -1;
  }

  /** The planned route of a destination (one object made for the asking), or undefined. */
  route(dst: string): DesiredRoute | undefined {
    const i = this.indexOf(dst);
    return i < 0 ? undefined : routeFor(this.kind(i)!, dst);
  }

  ownerOf(dst: string): RouteOwner | undefined {
    return this.route(dst)?.owner;
  }

  /** The kinds some prefix has (what the routes send with, for the published encapsulations). */
  kindsInUse(): DesiredRoute[] {
    const used = new Set<number>();
    for (let i = 0; i < this.kindOf.length && used.size < this.kinds.length; i++) if (this.kindOf[i] !== NO_ROUTE) used.add(this.kindOf[i]!);
    return [...used].sort((a, b) => a - b).map((k) => this.kinds[k]!);
  }

  /** Every planned route as an object: for the few places that need a list (tests, the user-space tunl0). */
  routes(): DesiredRoute[] {
    const out: DesiredRoute[] = [];
    for (let i = 0; i < this.table.size; i++) {
      const kind = this.kind(i);
      if (kind) out.push(routeFor(kind, this.table.cidr(i)));
    }
    return out;
  }
}

/**
 * Plans BGP prefixes for one state: the kinds met so far, and the warnings. `others`: the state's
 * other routes as planned (own blocks, pods, VXLAN pools' blocks), which win a destination they
 * share with a BGP route, as in the full plan (the first claim is kept). `kinds` may start from an
 * earlier planner's (same state but for the BGP routes), so that unchanged prefixes keep their index.
 */
export class BgpPlanner {
  readonly kinds: DesiredRoute[];
  private readonly byKey = new Map<number, number>();
  private readonly pools: ReturnType<typeof parseCidr>[];
  /** Routes that plan to no route: planned together at the end, for their warnings. */
  private readonly single: BgpRoute[] = [];
  private readonly warnings: Set<string>;
  /** The other routes' destinations, as prefix keys. */
  private readonly otherKeys: Set<number>;

  constructor(
    private readonly state: DataplaneState,
    private readonly host: HostFacts,
    others: ReadonlyMap<string, DesiredRoute>,
    baseWarnings: readonly string[],
    from?: BgpPlanner,
  ) {
    this.pools = state.pools.map((p) => parseCidr(p.cidr));
    this.warnings = new Set(baseWarnings);
    this.otherKeys = new Set([...others.keys()].map((dst) => prefixKey(...prefixOf(dst))));
    this.kinds = from ? [...from.kinds] : [];
    if (from) for (const [key, index] of from.byKey) this.byKey.set(key, index);
  }

  private poolOf(address: number, length: number): number {
    const block = { address, prefixLength: length };
    return this.pools.findIndex((cidr) => containsCidr(cidr, block));
  }

  /** The kind index of prefix i of `table`, or NO_ROUTE. */
  plan(table: BgpRouteTable, i: number): number {
    const address = table.addresses[i]!, length = table.lengths[i]!, hop = table.nextHops[i]!;
    // Another route's destination: the full plan keeps that one and warns.
    if (this.otherKeys.has(prefixKey(address, length))) {
      this.single.push({ cidr: table.cidr(i), nextHop: formatIPv4(hop) });
      return NO_ROUTE;
    }
    const key = (this.poolOf(address, length) + 1) * 2 ** 32 + hop;
    let index = this.byKey.get(key);
    if (index === undefined) {
      const cidr = table.cidr(i);
      const plan = planDataplane({ ...this.state, bgpRoutes: [{ cidr, nextHop: formatIPv4(hop) }] }, this.host);
      const route = plan.routes.find((r) => r.dst === cidr);
      if (route) {
        index = this.kinds.length;
        this.kinds.push(route);
        for (const warning of plan.warnings) this.warnings.add(warning);
      } else index = NO_ROUTE;
      this.byKey.set(key, index);
    }
    if (index === NO_ROUTE) this.single.push({ cidr: table.cidr(i), nextHop: formatIPv4(hop) });
    return index;
  }

  /** The plan's warnings: the state's own and those of the BGP routes planned so far. */
  finish(duplicates: readonly BgpRoute[] = []): string[] {
    if (this.single.length > 0) {
      for (const warning of planDataplane({ ...this.state, bgpRoutes: this.single.splice(0) }, this.host).warnings) this.warnings.add(warning);
    }
    for (const route of duplicates) this.warnings.add(`${route.cidr} is learned twice: keeping the first next hop, not ${route.nextHop}`);
    return [...this.warnings];
  }
}

/** Every prefix of `table` planned (a full pass). */
export function planBgpTable(planner: BgpPlanner, table: BgpRouteTable): PlannedBgpRoutes {
  const kindOf = new Uint32Array(table.size);
  for (let i = 0; i < table.size; i++) kindOf[i] = planner.plan(table, i);
  return new PlannedBgpRoutes(table, kindOf, planner.kinds);
}
