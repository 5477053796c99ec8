// Our routes in the kernel at the BGP routes' prefixes, kept as numbers while the table is read
// (route-stream.ts): per prefix of the BGP table, the index of its form (type, device, gateway,
// flags, MTU: all of a route but its destination), of which a table has a handful. A full pass
// at a million BGP routes held a KernelRoute object per route, and a map of them.
import { ginghamRouteProtocol } from '../../../shared/dataplane-plan/index.ts';
import { prefixOf, type BgpRouteTable } from '../bgp-route-table.ts';
import type { KernelRoute } from './snapshot.ts';

/** A pod's veth: its routes stay objects, for the pod routes' grace (route-manager.ts). */
const podDevice = /^cali/;
/** Where a listing's route text names its destination. */
const DST = '"dst":"';

export class KernelBgpRoutes {
  /** Per prefix of `table`: 1 + the index of its route's form in `forms`, or 0 when the kernel has none of ours there. */
  readonly formOf: Uint32Array;
  private readonly forms: KernelRoute[] = [];
  private readonly formIds = new Map<string, number>();
  /** A listing's route text without its destination -> its form (null: not one kept as numbers). */
  private readonly byText = new Map<string, KernelRoute | null>();

  constructor(readonly table: BgpRouteTable) {
    this.formOf = new Uint32Array(table.size);
  }

  /**
   * Keeps `route` as numbers when it is ours at one of the table's prefixes (not the default
   * route, which the host's facts are read from, nor a pod's); false when the caller keeps it.
   */
  take(route: KernelRoute): boolean {
    if (!this.keeps(route)) return false;
    const i = this.table.indexOf(...prefixOf(route.dst));
    if (i < 0) return false;
    this.formOf[i] = this.formId(route);
    return true;
  }

  /** Whether a route of this form is kept as numbers (where the table has its prefix). */
  private keeps(route: KernelRoute): boolean {
    return route.protocol === ginghamRouteProtocol && route.dst !== '0.0.0.0/0' && !(route.dev !== undefined && podDevice.test(route.dev));
  }

  /** 1 + the index of `route`'s form in `forms`. */
  private formId(route: KernelRoute): number {
    const key = `${route.type} ${route.dev ?? ''} ${route.gateway ?? ''} ${route.onlink} ${route.scope} ${route.mtu ?? ''} ${route.metric} ${route.flags.join(',')}`;
    let id = this.formIds.get(key);
    if (id === undefined) {
      id = this.forms.push(route);
      this.formIds.set(key, id);
    }
    return id;
  }

  /**
   * `take` for a route as the listing's JSON text: the text without its destination names its
   * form, so a route of a form met before is kept without parsing it (at a million routes, a
   * million objects less for the collector). `parse` makes the route of a new form.
   */
  takeText(text: string, parse: () => KernelRoute): boolean {
    const at = text.indexOf(DST);
    if (at < 0) return this.take(parse());
    const end = text.indexOf('"', at + DST.length);
    const dst = text.slice(at + DST.length, end);
    if (dst === 'default' || !dst.includes('/')) return this.take(parse()); // the default route, a /32: not worth the shortcut
    const formText = text.slice(0, at) + text.slice(end + 1);
    let form = this.byText.get(formText);
    if (form === undefined) {
      if (this.byText.size >= 4096) this.byText.clear();
      const route = parse();
      form = this.keeps(route) ? route : null;
      this.byText.set(formText, form);
      if (!form) return false;
      return this.take(route);
    }
    if (form === null) return false;
    const i = this.table.indexOf(...prefixOf(dst));
    if (i < 0) return false;
    this.formOf[i] = this.formId(form);
    return true;
  }

  /** Prefix i's route but its destination (the first of its form's), or undefined: for comparing without an object per route. */
  form(i: number): KernelRoute | undefined {
    const id = this.formOf[i]!;
    return id === 0 ? undefined : this.forms[id - 1];
  }

  /** Prefix i's route (its form with its own destination), or undefined. */
  route(i: number): KernelRoute | undefined {
    const id = this.formOf[i]!;
    if (id === 0) return undefined;
    const form = this.forms[id - 1]!;
    const dst = this.table.cidr(i);
    return form.dst === dst ? form : { ...form, dst };
  }

  /** The route at `dst`, or undefined. */
  routeAt(dst: string): KernelRoute | undefined {
    const i = this.table.indexOf(...prefixOf(dst));
    return i < 0 ? undefined : this.route(i);
  }

  /** Every route kept, as objects (the user-space tunl0's helper learns the old next hops from them). */
  routes(): KernelRoute[] {
    const out: KernelRoute[] = [];
    for (let i = 0; i < this.table.size; i++) {
      const route = this.route(i);
      if (route) out.push(route);
    }
    return out;
  }
}
