// One route change, and how it reads as `ip route` text: the words the fallback path (`ip -batch`),
// the log and the tests use; the netlink writer sends the same change as a message.
import { ginghamRouteProtocol, type DesiredRoute } from '../../shared/dataplane-plan/index.ts';

/**
 * One route to program: `add` (refused when any route has the key: a route someone else made
 * since the kernel was read is not overwritten), `replace` (ours, or a pod's /32 to adopt, read
 * just before) or `del` (our protocol's route for the destination).
 */
export type RouteChange = { op: 'add' | 'replace'; route: DesiredRoute } | { op: 'del'; dst: string; type: string };

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

/** A route change as an `ip -batch` line (the fallback, the log, the tests). */
export function routeCommand(change: RouteChange): string {
  if (change.op !== 'del') return `route ${change.op} ${routeSpec(change.route)}`;
  const type = change.type === 'unicast' ? '' : `${change.type} `;
  return `route del ${type}${change.dst} proto ${ginghamRouteProtocol} table main`;
}
