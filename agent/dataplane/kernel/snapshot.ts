// What the kernel holds now, read in a handful of `ip -json` calls and normalised into the same
// notation the planner uses (prefixes always with their length, numeric protocols and scopes).
import type { BatchProcess } from './batch-process.ts';
import type { BgpRouteTable } from '../bgp-route-table.ts';
import { KernelBgpRoutes } from './kernel-bgp-routes.ts';
import { forEachKernelRouteText } from './route-stream.ts';
import { readJson } from './iproute.ts';

export const scopeLink = 253;
const routeTypes: Record<string, string> = { '1': 'unicast', '6': 'blackhole', '7': 'unreachable', '8': 'prohibit', '2': 'local', '3': 'broadcast' };

export interface KernelRoute {
  dst: string;
  type: string;
  dev?: string;
  gateway?: string;
  onlink: boolean;
  scope: number;
  mtu?: number;
  protocol: number;
  metric: number;
  /** Every flag the kernel reported (onlink, linkdown, ...). */
  flags: string[];
  prefsrc?: string;
}

export interface KernelLink {
  name: string;
  index: number;
  kind?: string;
  up: boolean;
  mtu: number;
  mac?: string;
  /** IPv4 addresses with prefix length. */
  addresses: string[];
  vxlan?: { id: number; local?: string; link?: string; port: number; learning: boolean };
}

export interface KernelNeighbour {
  dev: string;
  ip: string;
  mac?: string;
  permanent: boolean;
  state: string[];
}

export interface KernelFdbEntry {
  dev: string;
  mac: string;
  dst?: string;
  self: boolean;
  permanent: boolean;
}

export interface KernelSnapshot {
  /** The main table's routes; with a BGP table given to the read, all but ours at its prefixes, which are in `bgpRoutes`. */
  routes: KernelRoute[];
  bgpRoutes?: KernelBgpRoutes;
  links: Map<string, KernelLink>;
  neighbours: KernelNeighbour[];
  fdb: KernelFdbEntry[];
}

export interface RawRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
  flags?: string[];
  prefsrc?: string;
  metrics?: Array<Record<string, number>>;
}

/** `default` -> 0.0.0.0/0, `192.168.1.65` -> 192.168.1.65/32. */
export function normaliseDst(dst: string): string {
  if (dst === 'default') return '0.0.0.0/0';
  return dst.includes('/') ? dst : `${dst}/32`;
}

export function normaliseRoute(raw: RawRoute): KernelRoute {
  const flags = raw.flags ?? [];
  const mtu = raw.metrics?.find((m) => m.mtu !== undefined)?.mtu;
  return {
    dst: normaliseDst(raw.dst),
    type: raw.type === undefined ? 'unicast' : (routeTypes[raw.type] ?? raw.type),
    ...(raw.dev !== undefined ? { dev: raw.dev } : {}),
    ...(raw.gateway !== undefined ? { gateway: raw.gateway } : {}),
    onlink: flags.includes('onlink'),
    scope: raw.scope === undefined ? 0 : Number(raw.scope),
    ...(mtu !== undefined ? { mtu } : {}),
    // iproute2 leaves the protocol out for boot (3) routes.
    protocol: raw.protocol === undefined ? 3 : Number(raw.protocol),
    metric: raw.metric ?? 0,
    flags,
    ...(raw.prefsrc !== undefined ? { prefsrc: raw.prefsrc } : {}),
  };
}

/** The IPv4 routes of the main table. */
export async function readRoutes(): Promise<KernelRoute[]> {
  const raw = await readJson<RawRoute[]>('ip', ['-4', 'route', 'show', 'table', 'main']);
  return raw.map(normaliseRoute);
}

interface RawLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  address?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
}

function linksFrom(raw: RawLink[]): Map<string, KernelLink> {
  const links = new Map<string, KernelLink>();
  for (const link of raw) {
    const kind = link.linkinfo?.info_kind;
    const data = link.linkinfo?.info_data;
    links.set(link.ifname, {
      name: link.ifname,
      index: link.ifindex,
      ...(kind ? { kind } : {}),
      up: link.flags.includes('UP'),
      mtu: link.mtu,
      ...(link.address ? { mac: link.address } : {}),
      addresses: (link.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
      ...(kind === 'vxlan' && data
        ? {
            vxlan: {
              id: Number(data.id),
              ...(typeof data.local === 'string' ? { local: data.local } : {}),
              ...(typeof data.link === 'string' ? { link: data.link } : {}),
              port: Number(data.port),
              learning: data.learning === true,
            },
          }
        : {}),
    });
  }
  return links;
}

interface RawNeighbour {
  dst: string;
  dev: string;
  lladdr?: string;
  state?: string[];
}

function neighboursFrom(raw: RawNeighbour[]): KernelNeighbour[] {
  return raw.map((n) => ({
    dev: n.dev,
    ip: n.dst,
    ...(n.lladdr ? { mac: n.lladdr } : {}),
    permanent: (n.state ?? []).includes('PERMANENT'),
    state: n.state ?? [],
  }));
}

interface RawFdb {
  mac: string;
  ifname?: string;
  dst?: string;
  flags?: string[];
  state?: string;
}

function fdbFrom(dev: string, raw: RawFdb[]): KernelFdbEntry[] {
  return raw.map((f) => ({
    dev,
    mac: f.mac,
    ...(f.dst ? { dst: f.dst } : {}),
    self: (f.flags ?? []).includes('self'),
    permanent: f.state === 'permanent',
  }));
}

/**
 * The same snapshot through long-lived batch processes (a reconcile loop's): one round trip to
 * `ip` for routes, links and neighbours, one to `bridge` for the FDB of the devices that exist.
 * With `bgp` (the BGP routes' table), the routes are streamed instead (route-stream.ts) and ours
 * at its prefixes kept as numbers (kernel-bgp-routes.ts): no line of the whole table, no object
 * per BGP route.
 */
export async function readSnapshotThrough(ip: BatchProcess, bridge: BatchProcess, fdbDevices: readonly string[], bgp?: BgpRouteTable): Promise<KernelSnapshot> {
  let routes: KernelRoute[];
  let bgpRoutes: KernelBgpRoutes | undefined;
  let rawLinks: RawLink[], rawNeighbours: RawNeighbour[];
  if (bgp) {
    const kept = new KernelBgpRoutes(bgp);
    const others: KernelRoute[] = [];
    [[rawLinks, rawNeighbours]] = await Promise.all([
      ip.read(['address show', 'neigh show']) as Promise<[RawLink[], RawNeighbour[]]>,
      forEachKernelRouteText((text) => {
        const parse = () => normaliseRoute(JSON.parse(text) as RawRoute);
        if (!kept.takeText(text, parse)) others.push(parse());
      }),
    ]);
    routes = others;
    bgpRoutes = kept;
  } else {
    const [rawRoutes, links, neighbours] = (await ip.read(['route show table main', 'address show', 'neigh show'])) as [RawRoute[], RawLink[], RawNeighbour[]];
    routes = rawRoutes.map(normaliseRoute);
    rawLinks = links;
    rawNeighbours = neighbours;
  }
  const links = linksFrom(rawLinks);
  const devices = fdbDevices.filter((dev) => links.has(dev));
  const rawFdb = devices.length > 0 ? ((await bridge.read(devices.map((dev) => `fdb show dev ${dev}`))) as RawFdb[][]) : [];
  return {
    routes,
    ...(bgpRoutes ? { bgpRoutes } : {}),
    links,
    neighbours: neighboursFrom(rawNeighbours.filter((n) => !n.dst.includes(':'))),
    fdb: devices.flatMap((dev, i) => fdbFrom(dev, rawFdb[i] ?? [])),
  };
}
