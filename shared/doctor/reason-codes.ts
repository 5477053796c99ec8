// The doctor's reason codes: stable names that scripts may match on. Each one is documented in
// docs/doctor.md (a unit test checks that every code here has its section there).
export const reasonCodes = [
  // the answer
  'reachable',
  'reachable-asymmetric',
  // evidence
  'evidence-missing',
  // source side
  'source-netns-not-found',
  'source-pod-no-route',
  'source-veth-missing',
  'source-veth-down',
  // the node's routing
  'route-ok',
  'local-delivery',
  'no-route',
  'blackhole-route',
  'rp-filter-drop',
  'route-disagrees-with-pool',
  'vxlan-neighbour-missing',
  'vxlan-fdb-missing',
  // the underlay
  'underlay-ok',
  'tunnel-to-wrong-node',
  'gateway-cannot-route-pods',
  'gateway-peers-by-bgp',
  'fabric-may-drop-pod-addresses',
  'pod-mtu-exceeds-path',
  'destination-outside-cluster',
  // destination side
  'tunnel-device-missing',
  'destination-node-no-route',
  'destination-node-misroutes',
  'destination-veth-down',
  'destination-netns-not-found',
  'destination-address-missing',
  'port-not-listening',
  'endpoint-ok',
  // the way back
  'asymmetric-path',
  // the live probe
  'fabric-drops-pod-addresses',
  'probe-agrees',
  'probe-disagrees',
] as const;
