// Configuration text for the peer daemons the tests and benchmarks start.
import type { LabNode } from '../../../lab/testing/netns-lab.ts';

export function gobgpConfig(node: LabNode, neighbors: Array<{ address: string; asn?: number; addPathSend?: number }>, options: { asn?: number } = {}): string {
  return `[global.config]
  as = ${options.asn ?? 64512}
  router-id = "${node.address}"
  local-address-list = ["${node.address}"]
${neighbors.map((n) => `
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${n.address}"
    peer-as = ${n.asn ?? 64512}
  [neighbors.timers.config]
    connect-retry = 2
    hold-time = 9
    keepalive-interval = 3
  [neighbors.transport.config]
    local-address = "${node.address}"
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 30
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
${n.addPathSend ? `    [neighbors.afi-safis.add-paths.config]
      send-max = ${n.addPathSend}
` : ''}`).join('')}`;
}

export function frrConfig(node: LabNode, neighbors: Array<{ address: string; asn?: number }>, networks: string[], options: { asn?: number } = {}): string {
  return `frr defaults traditional
hostname ${node.name}
log stdout warnings
router bgp ${options.asn ?? 64512}
 bgp router-id ${node.address}
 no bgp ebgp-requires-policy
 no bgp network import-check
 bgp graceful-restart
${neighbors.map((n) => ` neighbor ${n.address} remote-as ${n.asn ?? 64512}
 neighbor ${n.address} timers connect 2
 neighbor ${n.address} update-source ${node.address}`).join('\n')}
 address-family ipv4 unicast
${networks.map((n) => `  network ${n}`).join('\n')}
 exit-address-family
`;
}
