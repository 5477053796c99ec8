// Sample Calico objects shared by the unit tests (Calico's CRD schemas evaluated in-process)
// and the integration tests (a real kube-apiserver): valid ones the model must produce and
// Calico must accept, and invalid ones both must reject.
import { emptyIPAMBlock, handleIds } from '../ipam.ts';
import { parseCalicoResource } from '../resources.ts';

export type Obj = { kind: string; [key: string]: unknown };
export const crd = (kind: string, spec: Record<string, unknown>, name = 'sample'): Obj => ({
  apiVersion: 'crd.projectcalico.org/v1',
  kind,
  metadata: { name },
  spec,
});

/** Objects as the model writes them: parsed (defaults applied), then serialized as the CRD stores them. */
export function modelOutput(input: Obj): Obj {
  const parsed = parseCalicoResource(input);
  return JSON.parse(JSON.stringify({ apiVersion: 'crd.projectcalico.org/v1', kind: parsed.kind, metadata: parsed.metadata, spec: parsed.spec }));
}

export const seedPools = ['Always', 'Never', 'CrossSubnet'].map((ipipMode) =>
  crd('IPPool', { cidr: '192.168.0.0/16', blockSize: 26, ipipMode, natOutgoing: true, nodeSelector: 'all()', vxlanMode: 'Never' }, 'default-ipv4-ippool'),
);
const block = emptyIPAMBlock('192.168.1.64/26', 'worker-1');
export const validSamples: Obj[] = [
  ...seedPools,
  crd('IPPool', { cidr: '10.244.0.0/16', vxlanMode: 'Always' }),
  crd('IPPool', { cidr: '10.96.0.0/24', blockSize: 32, allowedUses: ['LoadBalancer'] }),
  crd('BGPConfiguration', { asNumber: 65000, nodeToNodeMeshEnabled: true, listenPort: 179, nodeMeshMaxRestartTime: '120s' }, 'default'),
  crd('BGPConfiguration', { nodeToNodeMeshEnabled: false }, 'node.worker-1'),
  crd('BGPPeer', { peerIP: '10.240.1.1', asNumber: 65001, node: 'worker-1', keepaliveTime: '30s', password: { secretKeyRef: { name: 'bgp', key: 'tor' } } }),
  crd('BGPPeer', { peerSelector: "route-reflector == 'true'", nodeSelector: 'all()' }),
  { ...block, kind: 'IPAMBlock' },
  crd('BlockAffinity', { node: 'worker-1', cidr: '192.168.1.64/26', state: 'confirmed', deleted: 'false' }, 'worker-1-192-168-1-64-26'),
  crd('IPAMHandle', { handleID: handleIds.ipipTunnel('worker-1'), block: { '192.168.1.64/26': 1 } }, handleIds.ipipTunnel('worker-1')),
];

/** Invalid for Calico and for Gingham alike. */
export const invalidSamples: Array<[string, Obj]> = [
  ['IPIP and VXLAN both on', crd('IPPool', { cidr: '10.0.0.0/16', ipipMode: 'Always', vxlanMode: 'Always' })],
  ['an unknown mode', crd('IPPool', { cidr: '10.0.0.0/16', ipipMode: 'Sometimes' })],
  ['no cidr', crd('IPPool', { blockSize: 26 })],
  ['a blockSize that is not a number', crd('IPPool', { cidr: '10.0.0.0/16', blockSize: 'big' })],
  ['natOutgoing as a string', crd('IPPool', { cidr: '10.0.0.0/16', natOutgoing: 'yes' })],
  ['LoadBalancer with Workload', crd('IPPool', { cidr: '10.0.0.0/16', allowedUses: ['LoadBalancer', 'Workload'] })],
  ['LoadBalancer with IPIP', crd('IPPool', { cidr: '10.0.0.0/16', allowedUses: ['LoadBalancer'], ipipMode: 'Always' })],
  ['peerIP and peerSelector', crd('BGPPeer', { peerIP: '10.0.0.1', peerSelector: 'all()' })],
  ['node and nodeSelector', crd('BGPPeer', { node: 'worker-1', nodeSelector: 'all()' })],
  ['peerSelector with asNumber', crd('BGPPeer', { peerSelector: 'all()', asNumber: 64512 })],
  ['an unknown nextHopMode', crd('BGPPeer', { peerIP: '10.0.0.1', nextHopMode: 'Other' })],
  ['mesh restart time with the mesh off', crd('BGPConfiguration', { nodeToNodeMeshEnabled: false, nodeMeshMaxRestartTime: '120s' }, 'default')],
  ['a listen port above 65535', crd('BGPConfiguration', { listenPort: 70000 }, 'default')],
  ['a block without allocations', crd('IPAMBlock', { cidr: '192.168.1.64/26', strictAffinity: false, unallocated: [], attributes: [] }, '192-168-1-64-26')],
  ['an affinity without deleted', crd('BlockAffinity', { node: 'worker-1', cidr: '192.168.1.64/26', state: 'confirmed' }, 'worker-1-192-168-1-64-26')],
  ['a handle without handleID', crd('IPAMHandle', { block: {} })],
];

/** Where Gingham is deliberately stricter than Calico's CRD (docs/calico-compatibility.md). */
export const stricterSamples: Array<[string, Obj]> = [
  ['a pool CIDR with host bits (Calico masks it silently in calicoctl; the CRD takes it)', crd('IPPool', { cidr: '192.168.1.0/16' })],
  ['an IPv4 blockSize outside 20-32 (the v3.32.1 CRD allows 0-128)', crd('IPPool', { cidr: '10.0.0.0/8', blockSize: 16 })],
];

