// A node's route table read over SSH without the agent (`ip -json route show`), in the same rows
// the agent's `routes` gives, so that a stock Calico node reads like a Gingham one; the owner is
// named from the route's protocol number (Felix's, BIRD's), not from a record of why it was made.
import type { RouteRow } from '../../../shared/api/cluster-ops-contract.ts';
import { formatIPv4, parseCidr, prefixMask } from '../../../shared/net/index.ts';

/** iproute2's names for route protocols (/etc/iproute2/rt_protos). */
const protocolNumbers = { redirect: 1, kernel: 2, boot: 3, static: 4, bird: 12, zebra: 11, dhcp: 16 } as Record<string, number> & { kernel: number; boot: number; bird: number };

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

/** Felix's own protocol number for the routes it owns outright (its blocks' blackholes, cross-subnet routes). */
export const felixProtocol = 80;

/**
 * Who made a route, from its protocol number alone (read without the agent, there is no better
 * witness): Felix marks what it owns with 80 and its device routes (to pods, to VTEPs) with boot,
 * BIRD with bird (12), Gingham with 71.
 */
function ownerByProtocol(protocol: number): { kind: string; text: string } {
  switch (protocol) {
    case felixProtocol:
      return { kind: 'felix', text: 'Felix (protocol 80)' };
    case protocolNumbers.bird:
      return { kind: 'bird', text: 'BIRD (protocol bird): learned over BGP' };
    case ginghamProtocol:
      return { kind: 'gingham', text: 'Gingham (protocol 71)' };
    case protocolNumbers.kernel:
      return { kind: 'kernel', text: 'the kernel (a connected subnet)' };
    case protocolNumbers.boot:
      return { kind: 'boot', text: "boot: Felix's routes to pods and VTEPs on a calico-node host, or one added by hand" };
    default:
      return { kind: 'other', text: `protocol ${protocol}` };
  }
}

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
        owner: ownerByProtocol(protocol),
        ginghams: protocol === ginghamProtocol,
      };
    });
}
