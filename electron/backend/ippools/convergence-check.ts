// Has a node converged on a plan? Every planned route is in the kernel as planned, and no route the
// agent made is left that the plan no longer has. A planned route counts whoever made it: a local
// pod's /32 on its cali interface is the CNI plugin's (made when the pod started), not the agent's.
import type { RouteRow } from '../../../shared/api/cluster-ops-contract.ts';
import { maskPrefixLength } from '../../../shared/net/ipv4.ts';

/** A kernel row in plannedRouteKeys' form: `iface gateway`, or `blackhole`. */
function shapeOf(row: RouteRow): string {
  return row.flags === 'U' && row.iface === '*' ? 'blackhole' : `${row.iface} ${row.gateway}`;
}

export function checkConvergence(planned: Map<string, string>, kernel: RouteRow[]): { converged: boolean; detail: string } {
  const byDestination = new Map<string, RouteRow[]>();
  for (const row of kernel) {
    const key = `${row.destination}/${maskPrefixLength(row.genmask)}`;
    byDestination.set(key, [...(byDestination.get(key) ?? []), row]);
  }
  for (const [dst, want] of planned) {
    const rows = byDestination.get(dst) ?? [];
    if (!rows.some((row) => shapeOf(row) === want)) {
      const have = rows.map(shapeOf).join(', ') || 'missing';
      return { converged: false, detail: `${dst}: kernel ${have}, planned ${want}` };
    }
  }
  for (const [dst, rows] of byDestination) {
    if (!planned.has(dst) && rows.some((row) => row.ginghams)) return { converged: false, detail: `${dst} is still in the kernel` };
  }
  return { converged: true, detail: `${planned.size} routes as planned` };
}
