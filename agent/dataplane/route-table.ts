// `gingham-agent routes`: the main table as `route -n` prints it, plus who made each route.
import { describeOwner, ginghamRouteProtocol, type RouteOwner } from '../../shared/dataplane-plan/index.ts';
import { formatIPv4, parseCidr, prefixMask } from '../../shared/net/index.ts';
import type { KernelRoute } from './kernel/snapshot.ts';

export interface RouteRow {
  destination: string;
  gateway: string;
  genmask: string;
  flags: string;
  metric: number;
  iface: string;
  protocol: number;
  /** Why Gingham made the route (the agent, or its CNI plugin for a local pod); null for routes that are not Gingham's. */
  owner: (RouteOwner & { text: string }) | null;
  ginghams: boolean;
}

/** `owners`: by destination, as the owners file has them, or a lookup (the agent's plan in memory, whose BGP routes are numbers). */
export function routeRows(routes: readonly KernelRoute[], owners: Readonly<Record<string, RouteOwner>> | ((dst: string) => RouteOwner | undefined)): RouteRow[] {
  const ownerOf = typeof owners === 'function' ? owners : (dst: string) => (Object.hasOwn(owners, dst) ? owners[dst] : undefined);
  return routes
    .filter((r) => r.type === 'unicast' || r.type === 'blackhole' || r.type === 'unreachable' || r.type === 'prohibit')
    .map((r) => {
      const cidr = parseCidr(r.dst);
      let flags = 'U';
      if (r.gateway) flags += 'G';
      if (cidr.prefixLength === 32) flags += 'H';
      if (r.type !== 'unicast') flags = r.type === 'blackhole' ? 'U' : '!';
      const ginghams = r.protocol === ginghamRouteProtocol;
      // A local pod's /32 is planned by the agent but made by the CNI plugin when the pod starts.
      const planned = ownerOf(r.dst);
      const owner = ginghams ? planned : planned?.kind === 'endpoint' ? planned : undefined;
      const text = owner ? describeOwner(owner) + (ginghams ? '' : ' (CNI plugin)') : '';
      return {
        destination: formatIPv4(cidr.address),
        gateway: r.gateway ?? '0.0.0.0',
        genmask: formatIPv4(prefixMask(cidr.prefixLength)),
        flags,
        metric: r.metric,
        iface: r.dev ?? (r.type === 'unicast' ? '-' : '*'),
        protocol: r.protocol,
        owner: owner ? { ...owner, text } : null,
        ginghams,
      };
    })
    .sort(compareRows);
}

function compareRows(a: RouteRow, b: RouteRow): number {
  // `route -n` lists the default route first, then by destination.
  const key = (row: RouteRow) => (row.destination === '0.0.0.0' && row.genmask === '0.0.0.0' ? -1 : 0);
  return key(a) - key(b) || a.destination.localeCompare(b.destination, 'en', { numeric: true }) || b.genmask.localeCompare(a.genmask);
}

function pad(text: string, width: number): string {
  return text.length >= width ? text + ' ' : text.padEnd(width);
}

/** The text `route -n` prints, with an Owner column (`-` for routes that are not Gingham's). */
export function formatRouteTable(rows: readonly RouteRow[]): string {
  const lines = ['Kernel IP routing table', 'Destination     Gateway         Genmask         Flags Metric Ref    Use Iface           Owner'];
  for (const row of rows) {
    const owner = row.owner?.text ?? (row.ginghams ? `gingham (proto ${ginghamRouteProtocol}, no record)` : '-');
    lines.push(
      pad(row.destination, 16) + pad(row.gateway, 16) + pad(row.genmask, 16) + pad(row.flags, 6) +
        pad(String(row.metric), 7) + pad('0', 7) + '0'.padStart(3) + ' ' + pad(row.iface, 16) + owner,
    );
  }
  return lines.join('\n') + '\n';
}
