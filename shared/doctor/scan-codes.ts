// The scan's finding codes: stable names that scripts may match on (`doctor scan --json`). Each one
// is documented in docs/doctor.md under "Scan codes" (a unit test checks both ways).
export const scanCodes = [
  // reading
  'api-server-unreachable',
  'node-unreachable',
  'node-not-scanned',
  'ipv6-not-scanned',
  // routes: the plan against the kernel
  'route-missing',
  'route-wrong-device',
  'route-wrong-gateway',
  'route-extra',
  'stale-blackhole',
  // devices and addresses
  'tunnel-device-missing',
  'tunnel-device-down',
  'tunnel-address-missing',
  'leftover-device',
  'leftover-tunnel-address',
  'vxlan-device-misconfigured',
  // VXLAN neighbours and FDB
  'vxlan-neighbour-missing',
  'vxlan-fdb-missing',
  'stale-neighbour',
  'stale-fdb',
  // BGP
  'bgp-speaker-unreachable',
  'bgp-session-missing',
  'bgp-session-down',
  'bgp-session-flapping',
  'bgp-route-not-received',
  // the agent
  'agent-not-running',
  'agent-restarted',
  'agent-datastore-disconnected',
  // MTU
  'tunnel-mtu-too-large',
  'pod-mtu-too-large',
  'pod-netns-not-found',
  'path-mtu-too-small',
  'tunnel-path-mtu-too-small',
  'peer-unreachable',
  // offloads
  'vxlan-checksum-offload-on',
  // the node itself
  'node-disk-full',
] as const;

export type ScanCode = (typeof scanCodes)[number];
