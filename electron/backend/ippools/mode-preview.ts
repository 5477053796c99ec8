// What a pool change would do on one node, computed with the agent's own planner
// (shared/dataplane-plan) from the node's current desired state (the agent's `status`): the plan
// for the state as it is and for the state with the pool changed, and the difference between
// them. The agent runs the same function when the change arrives, so the preview is what happens.
import type { NodePreview, PlannedRoute, PoolFields } from '../../../shared/api/cluster-ops-contract.ts';
import { bgpWanted, planDataplane, type DataplanePlan, type DesiredRoute } from '../../../shared/dataplane-plan/index.ts';
import type { DataplaneState } from '../../../shared/model/dataplane-state.ts';
import { formatIPv4, parseInterfaceAddress } from '../../../shared/net/index.ts';


export function withPool(state: DataplaneState, name: string, fields: PoolFields): DataplaneState {
  const pools = state.pools.map((p) => (p.name === name ? { ...p, ipipMode: fields.ipipMode, vxlanMode: fields.vxlanMode, natOutgoing: fields.natOutgoing, disabled: fields.disabled } : p));
  const bgp = bgpWanted(pools);
  // Without BGP the agent routes to the other nodes' IPAM blocks; with it, to what BGP learned.
  const { bgpRoutes, ...rest } = state;
  return bgp && bgpRoutes ? { ...rest, pools, bgpRoutes } : { ...rest, pools };
}

function via(route: DesiredRoute): string {
  if (route.type === 'blackhole') return 'blackhole';
  return [route.gateway ? `via ${route.gateway}` : '', route.dev ? `dev ${route.dev}` : '', route.onlink ? 'onlink' : ''].filter(Boolean).join(' ');
}

function owner(route: DesiredRoute): string {
  const o = route.owner;
  if (o.kind === 'remote-block') return `${o.node}'s block, pool ${o.pool}, ${o.mode}`;
  if (o.kind === 'own-block') return `own block, pool ${o.pool}`;
  return `pod ${o.endpoint}`;
}

function routeMap(plan: DataplanePlan): Map<string, PlannedRoute> {
  return new Map(plan.routes.map((r) => [`${r.dst} ${via(r)}`, { dst: r.dst, via: via(r), owner: owner(r) }]));
}

function devices(plan: DataplanePlan): string[] {
  return [...(plan.ipip ? [`${plan.ipip.name} (IP-in-IP)`] : []), ...(plan.vxlan ? [`${plan.vxlan.name} (VXLAN ${plan.vxlan.vni})`] : [])];
}

function sessions(state: DataplaneState): string[] {
  return bgpWanted(state.pools) ? state.peers.map((p) => `${p.name} ${formatIPv4(parseInterfaceAddress(p.address).address)}`) : [];
}

function diff<T>(before: Map<string, T>, after: Map<string, T>): { added: T[]; removed: T[] } {
  return { added: [...after].filter(([k]) => !before.has(k)).map(([, v]) => v), removed: [...before].filter(([k]) => !after.has(k)).map(([, v]) => v) };
}

export function previewNode(node: string, state: DataplaneState, name: string, fields: PoolFields, mtu = 1500): NodePreview {
  const host = { mtu, ...(state.node.gateway ? { gateway: state.node.gateway } : {}) };
  const next = withPool(state, name, fields);
  const before = planDataplane(state, host);
  const after = planDataplane(next, host);
  const asMap = (list: string[]) => new Map(list.map((x) => [x, x]));
  return {
    node,
    available: true,
    routes: diff(routeMap(before), routeMap(after)),
    devices: diff(asMap(devices(before)), asMap(devices(after))),
    bgp: diff(asMap(sessions(state)), asMap(sessions(next))),
  };
}

/** The planned routes of a state, as `destination/len iface gateway` keys, for comparing with the kernel. */
export function plannedRouteKeys(state: DataplaneState, mtu = 1500): Map<string, string> {
  const plan = planDataplane(state, { mtu, ...(state.node.gateway ? { gateway: state.node.gateway } : {}) });
  return new Map(plan.routes.map((r) => [r.dst, r.type === 'blackhole' ? 'blackhole' : `${r.dev ?? '-'} ${r.gateway ?? '0.0.0.0'}`]));
}
