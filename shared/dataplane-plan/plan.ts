// The planner: a desired-state document in, the routes, devices, neighbour and FDB entries and NAT
// that the kernel should hold out. Pure, so that the agent programs exactly what the console
// previews. Felix's calculation graph does this job in Calico; the shapes are Calico's (docs/calico-compatibility.md).
import {
  containsCidr,
  formatCidr,
  formatIPv4,
  ipipMtu,
  parseCidr,
  parseIPv4,
  parseInterfaceAddress,
  sameSubnet,
  vxlanMacForNode,
  vxlanMtu,
  type Cidr,
  type InterfaceAddress,
} from '../net/index.ts';
import type { DataplaneState, PeerState, PoolState } from '../model/dataplane-state.ts';
import type { Encapsulation } from '../model/node-encapsulation.ts';
import {
  ipipDeviceName,
  vxlanDeviceName,
  vxlanPort,
  vxlanVni,
  type DataplanePlan,
  type DesiredFdbEntry,
  type DesiredIpipDevice,
  type DesiredNeighbour,
  type DesiredRoute,
  type DesiredTunnelAdmission,
  type DesiredVxlanDevice,
  type HostFacts,
  type RouteMode,
} from './desired.ts';

interface ParsedPool {
  pool: PoolState;
  cidr: Cidr;
}

const ipipOn = (pool: PoolState) => pool.ipipMode !== 'Never';
const vxlanOn = (pool: PoolState) => pool.vxlanMode !== 'Never';
const encapsulationOfPool = (pool: PoolState): Encapsulation | undefined => (ipipOn(pool) ? 'IPIP' : vxlanOn(pool) ? 'VXLAN' : undefined);

function modeOf(pool: PoolState): RouteMode {
  if (ipipOn(pool)) return `IPIP ${pool.ipipMode}` as RouteMode;
  if (vxlanOn(pool)) return `VXLAN ${pool.vxlanMode}` as RouteMode;
  return 'Never';
}

/** The first address of the first of `blocks` that lies in a pool `wanted` accepts. */
function firstAddressIn(blocks: readonly string[], pools: readonly ParsedPool[], wanted: (pool: PoolState) => boolean, skip?: number): number | undefined {
  for (const text of blocks) {
    const block = parseCidr(text);
    const owner = pools.find((p) => containsCidr(p.cidr, block));
    if (!owner || !wanted(owner.pool)) continue;
    // Calico's IPAM hands the tunnel the first free address of the block; the first address is
    // what a fresh block gives. When both tunnels take from the same block, the second takes the next.
    const address = block.address === skip ? block.address + 1 : block.address;
    return address >>> 0;
  }
  return undefined;
}

/**
 * The VTEP of a peer: its tunnel address and MAC, or undefined when it has no VXLAN block. While a
 * switch out of VXLAN is under way (the peer still accepts only VXLAN, and its pool is VXLAN no
 * more), the first address of its first block stands in when it has given up its tunnel address.
 */
function peerVtep(peer: PeerState, pools: readonly ParsedPool[]): { ip: string; mac: string } | undefined {
  const ip = peer.vxlanTunnelAddress ?? optionalIPv4(firstAddressIn(peer.blocks, pools, vxlanOn) ?? (peer.accepts?.includes('VXLAN') ? firstAddressIn(peer.blocks, pools, () => true) : undefined));
  if (ip === undefined) return undefined;
  return { ip, mac: peer.vxlanMac ?? vxlanMacForNode(peer.name) };
}

const optionalIPv4 = (address: number | undefined) => (address === undefined ? undefined : formatIPv4(address));

/**
 * Turns a validated document into the desired dataplane. `host` supplies what the document may
 * leave out (the host interface's MTU, the subnet gateway); the document's own values win.
 */
export function planDataplane(state: DataplaneState, host: HostFacts): DataplanePlan {
  const warnings: string[] = [];
  const pools: ParsedPool[] = state.pools.map((pool) => ({ pool, cidr: parseCidr(pool.cidr) }));
  const poolOf = (block: Cidr) => pools.find((p) => containsCidr(p.cidr, block));
  const node: InterfaceAddress = parseInterfaceAddress(state.node.address);
  const nodeIp = formatIPv4(node.address);
  const hostMtu = state.node.mtu ?? host.mtu;
  const gateway = state.node.gateway ?? host.gateway;
  // Routes by destination, each with its sort key (address, then prefix length): a plan may hold
  // tens of thousands of routes, so nothing is parsed twice.
  const routes = new Map<string, { route: DesiredRoute; key: number }>();

  const addRoute = (route: DesiredRoute, cidr: Cidr) => {
    const existing = routes.get(route.dst);
    if (existing) {
      warnings.push(`${route.dst} is claimed twice (${JSON.stringify(existing.route.owner)} and ${JSON.stringify(route.owner)}): keeping the first`);
      return;
    }
    routes.set(route.dst, { route, key: cidr.address * 64 + cidr.prefixLength });
  };

  // Make before break (docs/dataplane.md): a route uses a pool's encapsulation only towards a peer
  // that published it accepts it, and the old way meanwhile; so this node keeps the device of each
  // encapsulation it sends with, and of each that peers still send it (node.keepAccepting).
  const fallbackOf = (peer: PeerState | undefined, wanted: Encapsulation): Encapsulation | 'direct' => {
    if (!peer?.accepts || peer.accepts.includes(wanted)) return wanted;
    return peer.accepts.find((e) => e !== wanted) ?? 'direct';
  };
  const needed = new Set<Encapsulation>(state.node.keepAccepting);
  for (const p of pools) {
    if (ipipOn(p.pool)) needed.add('IPIP');
    if (vxlanOn(p.pool)) needed.add('VXLAN');
    const wanted = encapsulationOfPool(p.pool);
    if (!wanted) continue;
    for (const peer of state.peers) {
      const way = fallbackOf(peer, wanted);
      if (way !== 'direct') needed.add(way);
    }
  }
  // Devices: a tunnel device exists while any pool needs it (or a switch in progress), and goes when none does.
  // A document without tunnel addresses gets the first addresses of the node's blocks, as a fresh
  // block gives them; the agent's documents never guess: a guessed vxlan.calico address was a
  // pod's (IPAM had given the block's first address to tunl0 and the next to pod-1), and made
  // the host take that pod's packets for its own until IPAM's answer replaced it.
  const guessAddresses = !state.node.tunnelAddressesAllocated;
  let ipip: DesiredIpipDevice | undefined;
  if (needed.has('IPIP')) {
    const address = state.node.ipipTunnelAddress ?? (guessAddresses ? optionalIPv4(firstAddressIn(state.blocks, pools, ipipOn)) : undefined);
    if (address === undefined && guessAddresses && pools.some((p) => ipipOn(p.pool))) warnings.push(`${ipipDeviceName} has no address: give node.ipipTunnelAddress or a block in an IPIP pool`);
    ipip = { name: ipipDeviceName, mtu: ipipMtu(hostMtu), local: nodeIp, ...(address ? { address: `${address}/32` } : {}) };
  }
  let vxlan: DesiredVxlanDevice | undefined;
  if (needed.has('VXLAN')) {
    const ipipAddress = ipip?.address ? parseIPv4(ipip.address.slice(0, -3)) : undefined;
    const address = state.node.vxlanTunnelAddress ?? (guessAddresses ? optionalIPv4(firstAddressIn(state.blocks, pools, vxlanOn, ipipAddress)) : undefined);
    if (address === undefined && guessAddresses && pools.some((p) => vxlanOn(p.pool))) warnings.push(`${vxlanDeviceName} has no address: give node.vxlanTunnelAddress or a block in a VXLAN pool`);
    vxlan = {
      name: vxlanDeviceName,
      vni: vxlanVni,
      port: vxlanPort,
      parent: state.node.interface,
      local: nodeIp,
      mac: vxlanMacForNode(state.node.name),
      mtu: vxlanMtu(hostMtu),
      ...(address ? { address: `${address}/32` } : {}),
    };
  }

  // Own blocks: a blackhole each, so that addresses of the block that no pod holds go nowhere.
  for (const text of state.blocks) {
    const block = parseCidr(text);
    addRoute({ dst: formatCidr(block), type: 'blackhole', onlink: false, scope: 'global', owner: { kind: 'own-block', block: formatCidr(block), pool: poolOf(block)?.pool.name ?? '?' } }, block);
  }

  // Local pods: a /32 on the pod's interface.
  for (const endpoint of state.endpoints) {
    addRoute({ dst: `${endpoint.ip}/32`, type: 'unicast', dev: endpoint.interface, onlink: false, scope: 'link', owner: { kind: 'endpoint', endpoint: endpoint.name } }, { address: parseIPv4(endpoint.ip), prefixLength: 32 });
  }

  // VTEPs: every peer with a VXLAN tunnel gets a neighbour and an FDB entry while vxlan.calico exists.
  const vteps = new Map<string, { ip: string; mac: string }>();
  const neighbours: DesiredNeighbour[] = [];
  const fdb: DesiredFdbEntry[] = [];
  if (vxlan) {
    for (const peer of state.peers) {
      const vtep = peerVtep(peer, pools);
      if (!vtep) continue;
      vteps.set(peer.name, vtep);
      const peerIp = formatIPv4(parseInterfaceAddress(peer.address).address);
      neighbours.push({ dev: vxlanDeviceName, ip: vtep.ip, mac: vtep.mac, node: peer.name });
      fdb.push({ dev: vxlanDeviceName, mac: vtep.mac, dst: peerIp, node: peer.name });
    }
  }

  const ownBlocks = new Set(state.blocks.map((b) => formatCidr(parseCidr(b))));
  /** `dst` is `block` as text: parseCidr accepts only the canonical form, so the document's own text is it. */
  const peersByName = new Map(state.peers.map((p) => [p.name, p]));
  const remoteRoute = (block: Cidr, dst: string, nextHop: number, nextHopText: string, peerName: string) => {
    if (ownBlocks.has(dst)) return;
    const owner = poolOf(block);
    if (!owner) {
      warnings.push(`${dst} (from ${peerName}) lies in no pool: no route programmed`);
      return;
    }
    const { pool } = owner;
    const same = sameSubnet(node, nextHop);
    const mode = modeOf(pool);
    const base = { kind: 'remote-block' as const, block: dst, pool: pool.name, mode, node: peerName };
    const encapsulated = (ipipOn(pool) && (pool.ipipMode === 'Always' || !same)) || (vxlanOn(pool) && (pool.vxlanMode === 'Always' || !same));
    const way = encapsulated ? fallbackOf(peersByName.get(peerName), ipipOn(pool) ? 'IPIP' : 'VXLAN') : 'direct';
    if (way === 'IPIP') {
      addRoute({ dst, type: 'unicast', dev: ipipDeviceName, gateway: nextHopText, onlink: true, scope: 'global', mtu: ipipMtu(hostMtu), owner: { ...base, path: 'tunl0' } }, block);
      return;
    }
    if (way === 'VXLAN') {
      const vtep = vteps.get(peerName);
      if (!vtep) {
        warnings.push(`${dst}: ${peerName} has no VXLAN tunnel address (give peers[].vxlanTunnelAddress): no route programmed`);
        return;
      }
      addRoute({ dst, type: 'unicast', dev: vxlanDeviceName, gateway: vtep.ip, onlink: true, scope: 'global', mtu: vxlanMtu(hostMtu), owner: { ...base, path: 'vxlan' } }, block);
      return;
    }
    // Unencapsulated: the pool's mode, or a peer that accepts no encapsulation yet (it has not moved from Never).
    if (same) {
      addRoute({ dst, type: 'unicast', dev: state.node.interface, gateway: nextHopText, onlink: true, scope: 'global', owner: { ...base, path: 'direct' } }, block);
    } else if (gateway) {
      // As BIRD's `gateway recursive` does: the next hop off the subnet resolves to the subnet gateway.
      addRoute({ dst, type: 'unicast', dev: state.node.interface, gateway, onlink: false, scope: 'global', owner: { ...base, path: 'direct' } }, block);
    } else {
      warnings.push(`${dst}: ${peerName} is on another subnet and no gateway is known (give node.gateway): no route programmed`);
    }
  };

  // Remote blocks. VXLAN pools always come from the peers' blocks (Felix does them from IPAM);
  // the others from BGP when the document carries BGP routes, from the peers' blocks otherwise.
  const fromBgp = state.bgpRoutes !== undefined;
  const peerByAddress = new Map<number, string>();
  for (const peer of state.peers) {
    const peerAddress = parseInterfaceAddress(peer.address).address;
    const peerAddressText = formatIPv4(peerAddress);
    peerByAddress.set(peerAddress, peer.name);
    // A borrowed address's /32 is more specific than its block's route (or the lender's own blackhole).
    for (const text of [...peer.blocks, ...peer.borrowed]) {
      const block = parseCidr(text);
      const pool = poolOf(block)?.pool;
      if (fromBgp && !(pool && vxlanOn(pool))) continue;
      remoteRoute(block, text, peerAddress, peerAddressText, peer.name);
    }
  }
  for (const route of state.bgpRoutes ?? []) {
    const block = parseCidr(route.cidr);
    const pool = poolOf(block)?.pool;
    if (pool && vxlanOn(pool)) continue;
    const nextHop = parseIPv4(route.nextHop);
    remoteRoute(block, route.cidr, nextHop, route.nextHop, peerByAddress.get(nextHop) ?? route.nextHop);
  }

  const natPools = state.pools.filter((p) => p.natOutgoing).map((p) => formatCidr(parseCidr(p.cidr)));
  const hosts = new Set<number>([node.address, ...state.peers.map((p) => parseInterfaceAddress(p.address).address), ...state.hosts.map(parseIPv4)]);
  const tunnelAdmission: DesiredTunnelAdmission | undefined = ipip || vxlan
    ? { hosts: [...hosts].sort((a, b) => a - b).map(formatIPv4), ipip: ipip !== undefined, vxlan: vxlan !== undefined }
    : undefined;
  return {
    routes: [...routes.values()].sort((a, b) => a.key - b.key).map((entry) => entry.route),
    ...(ipip ? { ipip } : {}),
    ...(vxlan ? { vxlan } : {}),
    neighbours,
    fdb,
    ...(natPools.length > 0 ? { nat: { masqueradeFrom: natPools, allPools: pools.map((p) => formatCidr(p.cidr)) } } : {}),
    ...(tunnelAdmission ? { tunnelAdmission } : {}),
    warnings,
    modes: Object.fromEntries(state.pools.filter((p) => !p.disabled).map((p) => [p.name, modeOf(p)])),
  };
}
