// What Calico decides about encapsulation between two nodes for a pool, and why, in words: the
// pool's modes, and for CrossSubnet the two nodes' addresses compared as Calico compares them (a
// node registered as a /32 is a subnet of its own, calico#2375). Used by the trace (what the
// route should be) and by the node-pair table.
import { containsAddress, parseCidr, parseInterfaceAddress, parseIPv4 } from '../net/index.ts';
import { sameSubnet } from '../net/cross-subnet.ts';
import type { ClusterFacts, ClusterNodeFacts, PoolFacts } from './evidence.ts';

export type Encap = 'ipip' | 'vxlan' | 'direct' | 'local';
export const encapName: Record<Encap, string> = { ipip: 'IP-in-IP', vxlan: 'VXLAN', direct: 'direct (unencapsulated)', local: 'local (same node)' };

export function nodeAddress(node: ClusterNodeFacts | undefined): string | undefined {
  return node?.ipv4Address?.split('/')[0] ?? node?.internalIp;
}

export function tryAddress(text: string): number | undefined {
  try {
    return parseIPv4(text);
  } catch {
    return undefined;
  }
}

export function poolOf(cluster: ClusterFacts, ip: string): PoolFacts | undefined {
  const address = tryAddress(ip);
  if (address === undefined) return undefined;
  return cluster.pools.find((p) => {
    try {
      return containsAddress(parseCidr(p.cidr), address);
    } catch {
      return false;
    }
  });
}

/** What Calico decides for traffic from `local` to a pod of `pool` on `remote`, and why, in words. */
export function expectedEncap(pool: PoolFacts | undefined, local: ClusterNodeFacts | undefined, remote: ClusterNodeFacts | undefined): { encap: Encap; why: string[] } {
  if (!pool) return { encap: 'direct', why: ['the destination is in no IP pool: no encapsulation applies'] };
  const modes = `pool ${pool.name} (${pool.cidr}): ipipMode ${pool.ipipMode}, vxlanMode ${pool.vxlanMode}`;
  const mode = pool.vxlanMode !== 'Never' ? { kind: 'vxlan' as const, value: pool.vxlanMode } : pool.ipipMode !== 'Never' ? { kind: 'ipip' as const, value: pool.ipipMode } : undefined;
  if (!mode) return { encap: 'direct', why: [`${modes}: no encapsulation`] };
  if (mode.value === 'Always') return { encap: mode.kind, why: [`${modes}: always ${encapName[mode.kind]}`] };
  // CrossSubnet: the remote node's address compared with this node's subnet, as Calico does.
  const localText = local?.ipv4Address;
  const remoteText = nodeAddress(remote);
  if (!localText || !remoteText || tryAddress(remoteText) === undefined) {
    return { encap: mode.kind, why: [`${modes}; the nodes' addresses are not known (no projectcalico.org/IPv4Address), so the subnets cannot be compared`] };
  }
  let localAddress;
  try {
    localAddress = parseInterfaceAddress(localText);
  } catch {
    return { encap: mode.kind, why: [`${modes}; ${local?.name}'s projectcalico.org/IPv4Address ${localText} has no prefix length, so its subnet is unknown`] };
  }
  const same = sameSubnet(localAddress, tryAddress(remoteText)!);
  const compared = localAddress.prefixLength === 32
    ? `${local?.name} is registered as ${localText}, a subnet of one address (calico#2375): every other node counts as another subnet`
    : `${local?.name} ${localText} and ${remote?.name} ${remoteText}: ${same ? 'same subnet' : 'different subnets'}`;
  return { encap: same ? 'direct' : mode.kind, why: [`${modes}; subnets compared: ${compared} -> ${same ? 'direct' : encapName[mode.kind]}`] };
}
