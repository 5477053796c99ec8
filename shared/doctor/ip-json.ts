// iproute2's JSON (`ip -json route|link|addr|neigh`, `bridge -json fdb`) as the doctor reads it,
// and routes written back the way `ip route` prints them, so that evidence reads as an admin's
// own terminal would show it. A section that is not JSON is the command's refusal (stderr).
import { containsAddress, parseCidr, parseIPv4 } from '../net/index.ts';

export interface IpRoute {
  dst: string;
  type?: string;
  gateway?: string;
  dev?: string;
  protocol?: string | number;
  scope?: string;
  prefsrc?: string;
  metric?: number;
  flags?: string[];
  from?: string;
  iif?: string;
}

export interface IpLink {
  ifindex?: number;
  ifname: string;
  flags?: string[];
  mtu?: number;
  operstate?: string;
  link_type?: string;
  address?: string;
  link_netnsid?: number;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; remote?: string; port?: number; link?: string } };
}

export interface IpAddr {
  ifname: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

export interface IpNeigh {
  dst: string;
  dev?: string;
  lladdr?: string;
  state?: string[];
}

export interface FdbEntry {
  mac: string;
  dst?: string;
  ifname?: string;
  state?: string;
  flags?: string[];
}

export type Parsed<T> = { ok: true; value: T[] } | { ok: false; error: string };

/** A section as a JSON array, or the text the command printed instead (its error). */
export function parseJsonArray<T>(text: string | undefined): Parsed<T> {
  if (text === undefined) return { ok: false, error: 'not read' };
  const trimmed = text.trim();
  if (trimmed === '') return { ok: true, value: [] };
  try {
    const value = JSON.parse(trimmed) as unknown;
    if (Array.isArray(value)) return { ok: true, value: value as T[] };
    return { ok: false, error: trimmed.slice(0, 300) };
  } catch {
    return { ok: false, error: trimmed.split('\n').slice(0, 3).join(' ').slice(0, 300) };
  }
}

export function listOf<T>(text: string | undefined): T[] {
  const parsed = parseJsonArray<T>(text);
  return parsed.ok ? parsed.value : [];
}

/** iproute2's names for protocol numbers, plus the Calico-family ones it does not know. */
const protocolNames: Record<string, string> = { '71': '71 (Gingham)', '80': '80 (Felix)', bird: 'bird', '12': 'bird' };

export function protocolText(protocol: string | number | undefined): string | undefined {
  if (protocol === undefined) return undefined;
  return protocolNames[String(protocol)] ?? String(protocol);
}

/** `192.168.2.0/26 via 10.240.2.13 dev tunl0 proto 71 onlink`, as `ip route` prints it. */
export function routeLine(route: IpRoute): string {
  const parts: string[] = [];
  if (route.type && route.type !== 'unicast') parts.push(route.type);
  parts.push(route.dst);
  if (route.from) parts.push(`from ${route.from}`);
  if (route.iif) parts.push(`iif ${route.iif}`);
  if (route.gateway) parts.push(`via ${route.gateway}`);
  if (route.dev) parts.push(`dev ${route.dev}`);
  const proto = protocolText(route.protocol);
  if (proto) parts.push(`proto ${proto}`);
  if (route.scope && route.scope !== 'global') parts.push(`scope ${route.scope}`);
  if (route.prefsrc) parts.push(`src ${route.prefsrc}`);
  if (route.metric) parts.push(`metric ${route.metric}`);
  for (const flag of route.flags ?? []) parts.push(flag);
  return parts.join(' ');
}

function prefixOf(dst: string): { address: number; prefixLength: number } | undefined {
  try {
    if (dst === 'default') return { address: 0, prefixLength: 0 };
    return parseCidr(dst.includes('/') ? dst : `${dst}/32`);
  } catch {
    return undefined;
  }
}

/** The main table's route the kernel picks for `address`: the longest prefix, then the lowest metric. */
export function longestMatch(routes: IpRoute[], address: string): IpRoute | undefined {
  let target: number;
  try {
    target = parseIPv4(address);
  } catch {
    return undefined;
  }
  let best: { route: IpRoute; length: number } | undefined;
  for (const route of routes) {
    if (route.type && !['unicast', 'blackhole', 'unreachable', 'prohibit'].includes(route.type)) continue;
    const prefix = prefixOf(route.dst);
    if (!prefix || !containsAddress(prefix, target)) continue;
    if (!best || prefix.prefixLength > best.length || (prefix.prefixLength === best.length && (route.metric ?? 0) < (best.route.metric ?? 0))) {
      best = { route, length: prefix.prefixLength };
    }
  }
  return best?.route;
}

export const isUp = (link: IpLink | undefined) => link !== undefined && (link.flags ?? []).includes('UP') && link.operstate !== 'DOWN';

export function addressesOf(addrs: IpAddr[], ifname: string): string[] {
  return (addrs.find((a) => a.ifname === ifname)?.addr_info ?? []).filter((a) => a.family === 'inet' && a.local).map((a) => `${a.local}/${a.prefixlen ?? 32}`);
}
