// "Show me X on the wire" presets, one per routing mode of the seed: the node, interface and
// capture filter that make the mode's encapsulation visible for pod-1 (on worker-1) talking to
// pod-3 (on worker-3, another subnet) or pod-2 (worker-2, the same subnet).
export interface CapturePreset {
  id: string;
  label: string;
  /** A node of this name is chosen when there is one. */
  node: string;
  iface: string;
  filter: string;
  /** What the list should show, as the seed's table in docs/lab.md says. */
  expect: string;
}

export const capturePresets: CapturePreset[] = [
  { id: 'ipip', label: 'IP-in-IP: pod-1 to pod-3 on the wire', node: 'worker-1', iface: 'ens5', filter: 'ip proto 4', expect: 'protocol 4: node addresses outside, pod addresses inside' },
  { id: 'vxlan', label: 'VXLAN: pod-1 to pod-3 on the wire', node: 'worker-1', iface: 'ens5', filter: 'udp port 4789', expect: 'UDP 4789, VNI 4096, inner Ethernet with pod addresses' },
  { id: 'direct', label: 'Direct: pod addresses on the wire', node: 'worker-1', iface: 'ens5', filter: 'net 192.168.0.0/16', expect: 'plain pod addresses, no encapsulation' },
  { id: 'crosssubnet', label: 'CrossSubnet: direct in the subnet, IP-in-IP across', node: 'worker-1', iface: 'ens5', filter: 'ip proto 4 or net 192.168.0.0/16', expect: 'direct to worker-2, protocol 4 to worker-3' },
  { id: 'bgp', label: 'BGP sessions of a node', node: 'worker-1', iface: 'ens5', filter: 'tcp port 179', expect: 'OPEN, UPDATE with pod blocks, KEEPALIVE' },
  { id: 'tunl0', label: 'Inside the tunnel: tunl0', node: 'worker-1', iface: 'tunl0', filter: '', expect: 'pod addresses, the outer header already removed' },
  { id: 'vxlan-dev', label: 'Inside VXLAN: vxlan.calico', node: 'worker-1', iface: 'vxlan.calico', filter: '', expect: 'inner frames with pod addresses' },
];
