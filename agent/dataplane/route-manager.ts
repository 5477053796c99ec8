// Routes: diff the planned routes against the main table and replace, add or delete only what
// differs. Only routes marked with Gingham's protocol are Gingham's; a route someone else made to
// the same destination is left alone and reported.
import { ginghamRouteProtocol, type DesiredRoute } from '../../shared/dataplane-plan/index.ts';
import type { ChangeSet } from './changes.ts';
import { scopeLink, type KernelRoute } from './kernel/snapshot.ts';

/** The `ip route` arguments that describe a planned route (after `route replace|add`). */
export function routeSpec(route: DesiredRoute): string {
  if (route.type === 'blackhole') return `blackhole ${route.dst} proto ${ginghamRouteProtocol}`;
  const words = [route.dst];
  if (route.gateway) words.push('via', route.gateway);
  if (route.dev) words.push('dev', route.dev);
  words.push('proto', String(ginghamRouteProtocol));
  if (route.scope === 'link') words.push('scope', 'link');
  if (route.onlink) words.push('onlink');
  if (route.mtu !== undefined) words.push('mtu', String(route.mtu));
  return words.join(' ');
}

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
  const wanted = new Set<string>();
  for (const route of desired) {
    wanted.add(route.dst);
    const have = ours.get(route.dst);
    if (have && routeMatches(route, have)) continue;
    const other = foreign.get(route.dst);
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
    changes.add('switch', `route ${have ? 'replace' : 'add'} ${routeSpec(route)}`);
  }
  for (const route of ours.values()) {
    if (wanted.has(route.dst)) continue;
    const type = route.type === 'unicast' ? '' : `${route.type} `;
    changes.add('retire', `route del ${type}${route.dst} proto ${ginghamRouteProtocol} table main`);
  }
  return warnings;
}
