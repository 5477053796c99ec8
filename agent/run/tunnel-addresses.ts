// The node's tunnel addresses, as calico-node's tunnel-IP allocator keeps them: while a pool that
// selects the node has IP-in-IP (or VXLAN) on, the node holds one address for tunl0 (or
// vxlan.calico) under Calico's handle, and publishes it in its Node annotation; when the mode is
// switched off, the address goes back to IPAM and the annotation is removed.
import { handleIds } from '../../shared/model/ipam.ts';
import type { IPPool } from '../../shared/model/ippool.ts';
import { containsAddress, parseIPv4, vxlanMacForNode } from '../../shared/net/index.ts';
import type { KubeApi } from '../datastore/kube-api.ts';
import { writeOwnAnnotations, type OwnAnnotations } from '../datastore/node-annotations.ts';
import type { Labels } from '../../shared/model/selector.ts';
import type { Ipam } from '../ipam/ipam.ts';

export interface TunnelAddresses {
  ipip?: string;
  vxlan?: string;
}

const kinds = [
  { key: 'ipip', handle: handleIds.ipipTunnel, type: 'ipipTunnelAddress', on: (p: IPPool) => p.spec.ipipMode !== 'Never' },
  { key: 'vxlan', handle: handleIds.vxlanTunnel, type: 'vxlanTunnelAddress', on: (p: IPPool) => p.spec.vxlanMode !== 'Never' },
] as const;

export interface TunnelAddressOptions {
  /** Kinds whose device stays (or comes) although no pool wants it: it receives for peers during a mode switch, so it holds an address. */
  keeping?: ReadonlySet<keyof TunnelAddresses>;
  /**
   * What this process's last successful call returned: it assigned those addresses itself, and
   * released every other one. Such an address, still fitting and shown held in IPAM's watch
   * cache, is kept without a call, and a kind it holds none of is assigned without first reading
   * its handle: the handles and blocks are read only when something is to change (two calls per
   * kind on every pool change before, 200-400 ms of a switch into VXLAN on the lab). Undefined (a
   * new process, or after a failed call): everything is read.
   */
  established?: TunnelAddresses;
  /**
   * Called with a kind's new address as soon as IPAM has given it, before the Node annotation is
   * written: the device can get it meanwhile (the annotation is for peers and calicoctl).
   */
  assigned?: (key: keyof TunnelAddresses, address: string) => void;
  /**
   * Writes the node's annotations (default: a merge patch of its Node). The agent passes its own
   * writer: one queue for all its patches, which adds what the new address lets it accept.
   */
  write?: (values: OwnAnnotations) => Promise<void>;
}

/** Brings the node's tunnel addresses in line with the pools; returns what it holds afterwards. */
export async function reconcileTunnelAddresses(
  client: KubeApi,
  ipam: Ipam,
  pools: IPPool[],
  nodeLabels: Labels,
  current: TunnelAddresses,
  options: TunnelAddressOptions = {},
): Promise<TunnelAddresses> {
  const { keeping = new Set(), established } = options;
  const out: TunnelAddresses = {};
  const usable = ipam.usablePools(pools, nodeLabels, 'Tunnel');
  for (const kind of kinds) {
    const wanted = usable.filter(kind.on);
    const handle = kind.handle(ipam.nodeName);
    const mine = established?.[kind.key];
    const fits = mine !== undefined && (wanted.some((p) => containsAddress(p.cidr, parseIPv4(mine))) || (wanted.length === 0 && keeping.has(kind.key)));
    if (fits && mine === current[kind.key] && ipam.cacheShowsHeld(handle, mine)) {
      out[kind.key] = mine;
      continue;
    }
    // The handle holds nothing when this process released or never had an address of the kind.
    const held = established && mine === undefined ? [] : await ipam.addressesOf(handle);
    const keep = held.find((a) => wanted.some((p) => containsAddress(p.cidr, parseIPv4(a.address)))) ?? (wanted.length === 0 && keeping.has(kind.key) ? held[0] : undefined);
    let address = keep?.address;
    if (!keep && held.length > 0) await ipam.release(handle);
    // A device kept for peers gets an address too (from any pool the node may use): during a
    // canary stage the nodes not yet switched receive the canary's VXLAN, and only a device with
    // its address is one they publish they accept, so without it the canary kept sending IP-in-IP.
    const from = wanted.length > 0 ? wanted : keeping.has(kind.key) ? usable : [];
    if (!address && from.length > 0) {
      address = (await ipam.assign(handle, { node: ipam.nodeName, type: kind.type }, from)).address;
      options.assigned?.(kind.key, address);
    }
    if (address !== current[kind.key]) {
      const write = options.write ?? ((values: OwnAnnotations) => writeOwnAnnotations(client, ipam.nodeName, values));
      await write({
        [kind.key === 'ipip' ? 'ipipTunnelAddress' : 'vxlanTunnelAddress']: address ?? null,
        ...(kind.key === 'vxlan' ? { vxlanTunnelMac: address ? vxlanMacForNode(ipam.nodeName) : null } : {}),
      });
    }
    if (address) out[kind.key] = address;
  }
  return out;
}
