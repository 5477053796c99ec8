// The node's tunnel addresses, as calico-node's tunnel-IP allocator keeps them: while a pool that
// selects the node has IP-in-IP (or VXLAN) on, the node holds one address for tunl0 (or
// vxlan.calico) under Calico's handle, and publishes it in its Node annotation; when the mode is
// switched off, the address goes back to IPAM and the annotation is removed.
import { handleIds } from '../../shared/model/ipam.ts';
import type { IPPool } from '../../shared/model/ippool.ts';
import { containsAddress, parseIPv4, vxlanMacForNode } from '../../shared/net/index.ts';
import type { KubeApi } from '../datastore/kube-api.ts';
import { writeOwnAnnotations } from '../datastore/node-annotations.ts';
import type { Labels } from '../datastore/selector.ts';
import type { Ipam } from '../ipam/ipam.ts';

export interface TunnelAddresses {
  ipip?: string;
  vxlan?: string;
}

const kinds = [
  { key: 'ipip', handle: handleIds.ipipTunnel, type: 'ipipTunnelAddress', on: (p: IPPool) => p.spec.ipipMode !== 'Never' },
  { key: 'vxlan', handle: handleIds.vxlanTunnel, type: 'vxlanTunnelAddress', on: (p: IPPool) => p.spec.vxlanMode !== 'Never' },
] as const;

/** Brings the node's tunnel addresses in line with the pools; returns what it holds afterwards. */
export async function reconcileTunnelAddresses(
  client: KubeApi,
  ipam: Ipam,
  pools: IPPool[],
  nodeLabels: Labels,
  current: TunnelAddresses,
  /** Kinds whose device stays (or comes) although no pool wants it: it receives for peers during a mode switch, so it holds an address. */
  keeping: ReadonlySet<keyof TunnelAddresses> = new Set(),
): Promise<TunnelAddresses> {
  const out: TunnelAddresses = {};
  const usable = ipam.usablePools(pools, nodeLabels, 'Tunnel');
  for (const kind of kinds) {
    const wanted = usable.filter(kind.on);
    const handle = kind.handle(ipam.nodeName);
    const held = await ipam.addressesOf(handle);
    const keep = held.find((a) => wanted.some((p) => containsAddress(p.cidr, parseIPv4(a.address)))) ?? (wanted.length === 0 && keeping.has(kind.key) ? held[0] : undefined);
    let address = keep?.address;
    if (!keep && held.length > 0) await ipam.release(handle);
    // A device kept for peers gets an address too (from any pool the node may use): during a
    // canary stage the nodes not yet switched receive the canary's VXLAN, and only a device with
    // its address is one they publish they accept, so without it the canary kept sending IP-in-IP.
    const from = wanted.length > 0 ? wanted : keeping.has(kind.key) ? usable : [];
    if (!address && from.length > 0) {
      address = (await ipam.assign(handle, { node: ipam.nodeName, type: kind.type }, from)).address;
    }
    if (address !== current[kind.key]) {
      await writeOwnAnnotations(client, ipam.nodeName, {
        [kind.key === 'ipip' ? 'ipipTunnelAddress' : 'vxlanTunnelAddress']: address ?? null,
        ...(kind.key === 'vxlan' ? { vxlanTunnelMac: address ? vxlanMacForNode(ipam.nodeName) : null } : {}),
      });
    }
    if (address) out[kind.key] = address;
  }
  return out;
}
