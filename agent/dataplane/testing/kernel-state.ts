// A namespace's whole networking state as `ip -json route/link/addr/neigh` and `bridge -json fdb`
// print it, minus what the kernel changes on its own (interface indexes, counters, learned ARP
// cache entries, IPv6 link-local addresses), so that two states can be compared whole.
import { inNs } from '../../../lab/testing/seed-topology.ts';

export interface NamespaceState {
  routes: unknown[];
  links: unknown[];
  addresses: unknown[];
  neighbours: unknown[];
  fdb: unknown[];
}

const volatileLinkKeys = ['ifindex', 'link_index', 'link_netnsid', 'stats', 'stats64', 'promiscuity', 'allmulti', 'operstate', 'linkmode', 'addr_info', 'inet6_addr_gen_mode', 'altnames'];

const commands = [
  'ip -N -json -4 route show table all',
  'ip -json -details link show',
  'ip -json -4 address show',
  'ip -json -4 neigh show',
  'bridge -json fdb show',
];

/** All five reads in one process (one `ip netns exec`), split on a marker line. */
function readAll(netns: string): Array<Array<Record<string, unknown>>> {
  const marker = '----gdp-state----';
  const output = inNs(netns, ['sh', '-c', commands.join(` && echo ${marker} && `)]);
  return output.split(marker).map((part) => {
    const text = part.trim();
    return text ? (JSON.parse(text) as Array<Record<string, unknown>>) : [];
  });
}

function omit(record: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([key]) => !keys.includes(key)));
}

const sorted = (items: unknown[]) => items.map((i) => JSON.stringify(i)).sort().map((s) => JSON.parse(s) as unknown);

export function captureState(netns: string): NamespaceState {
  const [routes, rawLinks, rawAddresses, rawNeighbours, fdb] = readAll(netns) as [
    Array<Record<string, unknown>>, Array<Record<string, unknown>>, Array<Record<string, unknown>>, Array<Record<string, unknown>>, Array<Record<string, unknown>>,
  ];
  const links = rawLinks.map((l) => {
    const flags = (l.flags as string[]).filter((f) => f !== 'LOWER_UP' && f !== 'M-DOWN');
    return { ...omit(l, volatileLinkKeys), flags };
  });
  const addresses = rawAddresses.map((l) => ({
    ifname: l.ifname,
    addresses: ((l.addr_info ?? []) as Array<Record<string, unknown>>).map((a) => `${String(a.local)}/${String(a.prefixlen)} ${String(a.scope)}`),
  }));
  // Learned entries (REACHABLE, STALE, ...) are the kernel's cache; what anyone programmed is PERMANENT or NOARP.
  const neighbours = rawNeighbours
    .filter((n) => ((n.state ?? []) as string[]).some((s) => s === 'PERMANENT' || s === 'NOARP'));
  return { routes: sorted(routes), links: sorted(links), addresses: sorted(addresses), neighbours: sorted(neighbours), fdb: sorted(fdb) };
}
