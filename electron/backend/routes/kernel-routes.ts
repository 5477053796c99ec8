// A node's route table read over SSH without the agent (`ip -json route show`), in the same rows
// the agent's `routes` gives, so that a stock Calico node reads like a Gingham one (minus owners).
import type { RouteRow } from '../../../shared/api/cluster-ops-contract.ts';
import { formatIPv4, parseCidr, prefixMask } from '../../../shared/net/index.ts';

/** iproute2's names for route protocols (/etc/iproute2/rt_protos). */
const protocolNumbers: Record<string, number> = { redirect: 1, kernel: 2, boot: 3, static: 4, bird: 12, zebra: 11, dhcp: 16 };

interface IpRoute {
  dst: string;
  type?: string;
  gateway?: string;
  dev?: string;
  protocol?: string | number;
  metric?: number;
  flags?: string[];
}

export const ginghamProtocol = 71;

export function kernelRouteRows(json: string): RouteRow[] {
  const routes = JSON.parse(json || '[]') as IpRoute[];
  return routes
    .filter((r) => !r.type || ['unicast', 'blackhole', 'unreachable', 'prohibit'].includes(r.type))
    .map((r) => {
      const cidr = parseCidr(r.dst === 'default' ? '0.0.0.0/0' : r.dst.includes('/') ? r.dst : `${r.dst}/32`);
      const type = r.type ?? 'unicast';
      let flags = 'U';
      if (r.gateway) flags += 'G';
      if (cidr.prefixLength === 32) flags += 'H';
      if (type !== 'unicast') flags = type === 'blackhole' ? 'U' : '!';
      const protocol = typeof r.protocol === 'number' ? r.protocol : r.protocol === undefined ? 3 : (protocolNumbers[r.protocol] ?? (Number(r.protocol) || 0));
      return {
        destination: formatIPv4(cidr.address),
        gateway: r.gateway ?? '0.0.0.0',
        genmask: formatIPv4(prefixMask(cidr.prefixLength)),
        flags,
        metric: r.metric ?? 0,
        iface: r.dev ?? (type === 'unicast' ? '-' : '*'),
        protocol,
        owner: null,
        ginghams: protocol === ginghamProtocol,
      };
    });
}
