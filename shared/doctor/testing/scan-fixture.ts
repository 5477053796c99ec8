// Cluster objects and node evidence for the scan's tests, written as the API server and the scan
// script give them: Calico IPPools, IPAMBlocks with pods' allocations, core Nodes with Calico's
// annotations; `ip -json` sections as iproute2 prints them.
import { blockName, cidrSize, parseCidr } from '../../net/index.ts';
import type { ClusterObjects, ScanNodeEvidence } from '../scan-evidence.ts';

export function pool(name: string, cidr: string, ipipMode: string, vxlanMode: string, extra: Record<string, unknown> = {}): unknown {
  return { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name }, spec: { cidr, ipipMode, vxlanMode, natOutgoing: true, blockSize: 26, nodeSelector: 'all()', ...extra } };
}

/** A block of `node` with pods at the given ordinals: `{ 5: 'default/web' }`. */
export function block(cidr: string, node: string, pods: Record<number, string> = {}): unknown {
  const size = cidrSize(parseCidr(cidr));
  const allocations: (number | null)[] = Array.from({ length: size }, () => null);
  const attributes: unknown[] = [];
  for (const [ordinal, pod] of Object.entries(pods)) {
    const [namespace, name] = pod.split('/') as [string, string];
    allocations[Number(ordinal)] = attributes.length;
    attributes.push({ handle_id: `k8s-pod-network.${namespace}.${name}`, secondary: { namespace, pod: name, node } });
  }
  const unallocated = allocations.flatMap((a, i) => (a === null ? [i] : []));
  return { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPAMBlock', metadata: { name: blockName(cidr) }, spec: { cidr, affinity: `host:${node}`, strictAffinity: false, allocations, unallocated, attributes } };
}

export function node(name: string, address: string, annotations: Record<string, string> = {}): unknown {
  return { metadata: { name, labels: {}, annotations: { 'projectcalico.org/IPv4Address': address, ...annotations } }, status: { addresses: [{ type: 'InternalIP', address: address.split('/')[0] }] } };
}

export function objects(parts: Partial<ClusterObjects>): ClusterObjects {
  return { pools: [], blocks: [], nodes: [], bgpConfigurations: [], bgpPeers: [], felixConfigurations: [], ...parts };
}

export interface KernelFacts {
  routes?: unknown[];
  links?: unknown[];
  addrs?: unknown[];
  neigh?: unknown[];
  fdb?: unknown[];
  netns?: Record<string, unknown[]>;
  extra?: Record<string, string>;
}

const j = (value: unknown[] | undefined) => JSON.stringify(value ?? []);

/** A node's evidence: its sections as the scan script prints them, and its speaker's view. */
export function nodeEvidence(name: string, kernel: KernelFacts, bgp: Partial<ScanNodeEvidence['bgp']> = {}, rest: Partial<ScanNodeEvidence> = {}): ScanNodeEvidence {
  const sections: Record<string, string> = {
    clock: '1764750000 08:20:00',
    routes: j(kernel.routes),
    links: j(kernel.links),
    addrs: j(kernel.addrs),
    df: '',
    agent: '',
    'nft-bgp': '',
    probes: '',
    ...(kernel.neigh ? { 'vxlan-neigh': j(kernel.neigh) } : {}),
    ...(kernel.fdb ? { 'vxlan-fdb': j(kernel.fdb) } : {}),
    ...Object.fromEntries(Object.entries(kernel.netns ?? {}).map(([path, links]) => [`netns ${path}`, j(links)])),
    ...kernel.extra,
  };
  return { node: name, sections, bgp: { source: 'bird', sessions: [], routes: [], ...bgp }, ...rest };
}

/** `ip -json addr` entries: interface, MTU, addresses. */
export const addr = (ifname: string, mtu: number, ...addresses: string[]) => ({ ifname, mtu, addr_info: addresses.map((a) => ({ family: 'inet', local: a.split('/')[0], prefixlen: Number(a.split('/')[1] ?? 32) })) });
export const link = (ifname: string, mtu: number, kind?: string, data?: Record<string, unknown>) => ({ ifname, mtu, flags: ['UP', 'LOWER_UP'], operstate: 'UP', ...(kind ? { linkinfo: { info_kind: kind, ...(data ? { info_data: data } : {}) } } : {}) });
