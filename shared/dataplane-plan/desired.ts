// What the dataplane should hold, as data: the planner's output and every manager's input. Pure
// values with strings in the kernel's own notation, so that the console can show a preview of a
// mode change with the very same objects the agent programs.

/** Gingham's route protocol number: its mark on every route it owns (Felix uses 80, BIRD 12). */
export const ginghamRouteProtocol = 71;

export const ipipDeviceName = 'tunl0';
export const vxlanDeviceName = 'vxlan.calico';
/** Calico's VXLAN network identifier and UDP port. */
export const vxlanVni = 4096;
export const vxlanPort = 4789;

export type RouteMode = 'IPIP Always' | 'IPIP CrossSubnet' | 'VXLAN Always' | 'VXLAN CrossSubnet' | 'Never';

/** Why a route exists: which pool, mode, block or endpoint made it. */
export type RouteOwner =
  | { kind: 'own-block'; block: string; pool: string }
  | { kind: 'remote-block'; block: string; pool: string; mode: RouteMode; node: string; path: 'tunl0' | 'vxlan' | 'direct' }
  | { kind: 'endpoint'; endpoint: string };

export interface DesiredRoute {
  /** Destination prefix, always with its length (`192.168.1.65/32`). */
  dst: string;
  type: 'unicast' | 'blackhole';
  dev?: string;
  gateway?: string;
  onlink: boolean;
  scope: 'global' | 'link';
  mtu?: number;
  owner: RouteOwner;
}

/** tunl0: the kernel ipip device where there is one, a TUN device run by the agent otherwise. */
export interface DesiredIpipDevice {
  name: typeof ipipDeviceName;
  /** The tunnel address (/32), absent when the node has no block to take one from. */
  address?: string;
  mtu: number;
  /** The outer source address: the node's own. */
  local: string;
}

export interface DesiredVxlanDevice {
  name: typeof vxlanDeviceName;
  vni: number;
  port: number;
  parent: string;
  local: string;
  mac: string;
  address?: string;
  mtu: number;
}

/** A permanent neighbour entry: a remote VTEP's tunnel address -> its MAC, on vxlan.calico. */
export interface DesiredNeighbour {
  dev: string;
  ip: string;
  mac: string;
  node: string;
}

/** A permanent FDB entry: a remote VTEP's MAC -> its node address, on vxlan.calico. */
export interface DesiredFdbEntry {
  dev: string;
  mac: string;
  dst: string;
  node: string;
}

/** nat-outgoing: masquerade from `masqueradeFrom` to anything outside `allPools`. */
export interface DesiredNat {
  masqueradeFrom: string[];
  allPools: string[];
}

/**
 * Tunnel packets only from the cluster's hosts, as Felix accepts them only from its all-hosts
 * ipset: IP-in-IP (protocol 4) and VXLAN (UDP 4789) from any other source are dropped, so that
 * no host outside the cluster can put a packet into the pod network.
 */
export interface DesiredTunnelAdmission {
  /** The cluster's host addresses, sorted, this node's own included. */
  hosts: string[];
  ipip: boolean;
  vxlan: boolean;
}

export interface DataplanePlan {
  routes: DesiredRoute[];
  ipip?: DesiredIpipDevice;
  vxlan?: DesiredVxlanDevice;
  neighbours: DesiredNeighbour[];
  fdb: DesiredFdbEntry[];
  nat?: DesiredNat;
  /** Present while a tunnel device is. */
  tunnelAdmission?: DesiredTunnelAdmission;
  /** Things the planner could not do, in words a user can act on. */
  warnings: string[];
  /** Per enabled pool, the mode planned (the pool's, or a staged rollout's override): what the agent publishes it applied. */
  modes?: Record<string, RouteMode>;
}

/** What the planner needs to know about the host that the document may leave out. */
export interface HostFacts {
  /** The host interface's MTU. */
  mtu: number;
  /** The subnet gateway (default route's next hop), for direct routes to other subnets. */
  gateway?: string;
}

/** The owner column of `gingham-agent routes`. */
export function describeOwner(owner: RouteOwner): string {
  switch (owner.kind) {
    case 'own-block':
      return `own block, pool ${owner.pool}`;
    case 'remote-block':
      return `pool ${owner.pool}, ${owner.mode}${owner.mode.endsWith('CrossSubnet') ? ` (${owner.path})` : ''}, ${owner.node}`;
    case 'endpoint':
      return `endpoint ${owner.endpoint}`;
  }
}
