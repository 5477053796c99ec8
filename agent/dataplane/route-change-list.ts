// A pass's route changes as numbers: per change its operation, prefix and the route it takes its
// next hop and form from. A BGP route's change names its kind's route (bgp-plan.ts) and its own
// prefix, so a pass of a million BGP routes makes no object per route; at 1M the changes as
// {op, route} objects, each route a DesiredRoute with its owner, were 200 MiB. `at(i)` gives a
// change as a RouteChange for the few places that want one (the log, a refusal, `ip -batch`).
import type { DesiredRoute } from '../../shared/dataplane-plan/index.ts';
import { formatIPv4 } from '../../shared/net/index.ts';
import { prefixOf } from './bgp-route-table.ts';
import { routeFor } from './bgp-plan.ts';
import type { RouteChange } from './route-change.ts';

const ops = ['add', 'replace', 'del'] as const;
export type RouteOp = (typeof ops)[number];

export class RouteChangeList {
  private opCodes = new Uint8Array(16);
  private prefixAddresses = new Uint32Array(16);
  private prefixLengths = new Uint8Array(16);
  /** An index in `routes` (add, replace), or in `types` (del). */
  private refs = new Uint32Array(16);
  private readonly routes: DesiredRoute[] = [];
  private readonly routeIds = new Map<DesiredRoute, number>();
  private readonly types: string[] = [];
  size = 0;

  static from(changes: readonly RouteChange[]): RouteChangeList {
    const list = new RouteChangeList();
    for (const change of changes) list.push(change);
    return list;
  }

  private grow(): void {
    const n = this.opCodes.length * 2;
    const copy = <T extends Uint8Array | Uint32Array>(from: T, to: T) => (to.set(from), to);
    this.opCodes = copy(this.opCodes, new Uint8Array(n));
    this.prefixAddresses = copy(this.prefixAddresses, new Uint32Array(n));
    this.prefixLengths = copy(this.prefixLengths, new Uint8Array(n));
    this.refs = copy(this.refs, new Uint32Array(n));
  }

  private append(op: RouteOp, address: number, length: number, ref: number): void {
    if (this.size === this.opCodes.length) this.grow();
    const i = this.size++;
    this.opCodes[i] = ops.indexOf(op);
    this.prefixAddresses[i] = address;
    this.prefixLengths[i] = length;
    this.refs[i] = ref;
  }

  private routeId(route: DesiredRoute): number {
    let id = this.routeIds.get(route);
    if (id === undefined) {
      id = this.routes.length;
      this.routes.push(route);
      this.routeIds.set(route, id);
    }
    return id;
  }

  /** Adds or replaces the prefix with `route`'s next hop and form (`route` may be a kind's, planned for another prefix). */
  pushRoute(op: 'add' | 'replace', address: number, length: number, route: DesiredRoute): void {
    this.append(op, address, length, this.routeId(route));
  }

  /** Deletes our route of that type at the prefix. */
  pushDelete(address: number, length: number, type: string): void {
    let t = this.types.indexOf(type);
    if (t < 0) t = this.types.push(type) - 1;
    this.append('del', address, length, t);
  }

  push(change: RouteChange): void {
    if (change.op === 'del') this.pushDelete(...prefixOf(change.dst), change.type);
    else this.pushRoute(change.op, ...prefixOf(change.route.dst), change.route);
  }

  /** Appends every change of `other`, in order. */
  pushAll(other: RouteChangeList): void {
    for (let i = 0; i < other.size; i++) {
      const op = other.op(i);
      if (op === 'del') this.pushDelete(other.address(i), other.length(i), other.types[other.refs[i]!]!);
      else this.pushRoute(op, other.address(i), other.length(i), other.route(i)!);
    }
  }

  op(i: number): RouteOp {
    return ops[this.opCodes[i]!]!;
  }

  address(i: number): number {
    return this.prefixAddresses[i]!;
  }

  length(i: number): number {
    return this.prefixLengths[i]!;
  }

  /** The route whose next hop and form change i takes (undefined for a delete). */
  route(i: number): DesiredRoute | undefined {
    return this.opCodes[i] === 2 ? undefined : this.routes[this.refs[i]!];
  }

  /** The routes the changes take their next hops from, by index: changes with the same index have the same next hop. */
  routeIndex(i: number): number {
    return this.refs[i]!;
  }

  cidr(i: number): string {
    return `${formatIPv4(this.address(i))}/${this.length(i)}`;
  }

  /** Change i as a RouteChange, its route with its own destination and owner. */
  at(i: number): RouteChange {
    const op = this.op(i);
    if (op === 'del') return { op, dst: this.cidr(i), type: this.types[this.refs[i]!]! };
    return { op, route: routeFor(this.route(i)!, this.cidr(i)) };
  }

  toArray(): RouteChange[] {
    const out: RouteChange[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.at(i));
    return out;
  }
}
