// Route reflectors as Calico configures them, through desiredBgp: a node's routeReflectorClusterID,
// BGPPeers by peerSelector with confd's reverse peerings, and the mesh with and without them.
import { describe, expect, it } from 'vitest';
import type { LocalFacts } from '../../shared/dataplane-plan/desired-state.ts';
import type { ClusterNode, ClusterSnapshot } from '../../shared/model/cluster-snapshot.ts';
import { parseBGPConfiguration, parseBGPPeer, parseIPPool } from '../../shared/model/index.ts';
import { parseInterfaceAddress } from '../../shared/net/index.ts';
import { desiredBgp } from './desired-bgp.ts';

const addresses: Record<string, string> = { master: '10.240.1.10/24', 'worker-1': '10.240.1.11/24', 'worker-2': '10.240.1.12/24', 'worker-3': '10.240.2.13/24' };
const node = (name: string, extra: Partial<ClusterNode> = {}): ClusterNode => ({ name, ipv4Address: parseInterfaceAddress(addresses[name]!), labels: {}, ...extra });
const reflector = (name: string, clusterId = '244.0.0.1'): ClusterNode => node(name, { labels: { 'route-reflector': 'true' }, routeReflectorClusterId: clusterId });
const bgpPeer = (name: string, spec: Record<string, unknown>) => parseBGPPeer({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name }, spec });
/** Calico's documented peering with reflectors: every node with every node labelled route-reflector=true. */
const peerWithReflectors = bgpPeer('peer-with-route-reflectors', { nodeSelector: 'all()', peerSelector: "route-reflector == 'true'" });
const meshOff = parseBGPConfiguration({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { nodeToNodeMeshEnabled: false } });

function cluster(nodes: ClusterNode[], bgpPeers = [peerWithReflectors], meshEnabled = true): ClusterSnapshot {
  return {
    pools: [parseIPPool({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'default' }, spec: { cidr: '192.168.0.0/16', ipipMode: 'Always' } })],
    bgpConfigurations: meshEnabled ? [] : [meshOff],
    bgpPeers,
    blocks: [],
    nodes,
  };
}

const localOf = (name: string): LocalFacts => ({ nodeName: name, interface: 'ens5', address: parseInterfaceAddress(addresses[name]!) });
/** The peers of `name` as [address, role, how configured]. */
function peersOf(snapshot: ClusterSnapshot, name: string) {
  return desiredBgp(snapshot, localOf(name))!.peers.map((p) => [p.address, p.routeReflectorClient ? 'client' : 'peer', p.peerType]);
}

describe('route reflectors as Calico configures them', () => {
  it('a node with a cluster ID reflects for every other node, which peers with it beside the mesh of the rest', () => {
    const s = cluster([reflector('master'), node('worker-1'), node('worker-2'), node('worker-3')]);
    const master = desiredBgp(s, localOf('master'))!;
    expect(master.clusterId).toBe('244.0.0.1');
    // confd ignores the mesh on a reflector: its clients come from the reverse peering of the BGPPeer.
    expect(peersOf(s, 'master')).toEqual([
      ['10.240.1.11', 'client', 'node specific'],
      ['10.240.1.12', 'client', 'node specific'],
      ['10.240.2.13', 'client', 'node specific'],
    ]);
    // The mesh leaves the reflector out; the BGPPeer brings it back, as a plain iBGP peer.
    expect(desiredBgp(s, localOf('worker-1'))!.clusterId).toBeUndefined();
    expect(peersOf(s, 'worker-1')).toEqual([
      ['10.240.1.10', 'peer', 'node specific'],
      ['10.240.1.12', 'peer', 'node-to-node mesh'],
      ['10.240.2.13', 'peer', 'node-to-node mesh'],
    ]);
  });

  it('with the mesh off, a client peers with the reflectors only', () => {
    const s = cluster([reflector('master'), node('worker-1'), node('worker-2'), reflector('worker-3')], [peerWithReflectors], false);
    expect(peersOf(s, 'worker-2')).toEqual([['10.240.1.10', 'peer', 'node specific'], ['10.240.2.13', 'peer', 'node specific']]);
    // Reflectors of one cluster ID peer as non-clients (RFC 4456: they share their clients).
    expect(peersOf(s, 'worker-3')).toEqual([
      ['10.240.1.10', 'peer', 'node specific'],
      ['10.240.1.11', 'client', 'node specific'],
      ['10.240.1.12', 'client', 'node specific'],
    ]);
  });

  it('a reflector with another cluster ID is a client of this one, as BIRD is told `rr client` for it', () => {
    const s = cluster([reflector('master', '244.0.0.1'), node('worker-1'), reflector('worker-3', '244.0.0.2')], [peerWithReflectors], false);
    expect(peersOf(s, 'master')).toEqual([['10.240.1.11', 'client', 'node specific'], ['10.240.2.13', 'client', 'node specific']]);
  });

  it('a label without a cluster ID makes a plain peer, and a selector that picks nothing adds nothing', () => {
    const labelled = node('master', { labels: { 'route-reflector': 'true' } });
    const s = cluster([labelled, node('worker-1'), node('worker-2')]);
    // The mesh peer to master stays (first to an address wins): nothing changes on worker-1's sessions.
    expect(peersOf(s, 'worker-1')).toEqual([['10.240.1.10', 'peer', 'node-to-node mesh'], ['10.240.1.12', 'peer', 'node-to-node mesh']]);
    expect(desiredBgp(s, localOf('master'))!.clusterId).toBeUndefined();
    const none = cluster([node('master'), node('worker-1')], [peerWithReflectors], false);
    expect(peersOf(none, 'worker-1')).toEqual([]);
  });

  it('a BGPPeer by peerIP to a node peers back from that node (confd\'s reverse peering)', () => {
    const s = cluster([node('master'), node('worker-1'), node('worker-2')], [bgpPeer('w2-to-w1', { node: 'worker-2', peerIP: '10.240.1.11' })], false);
    expect(peersOf(s, 'worker-2')).toEqual([['10.240.1.11', 'peer', 'node specific']]);
    expect(peersOf(s, 'worker-1')).toEqual([['10.240.1.12', 'peer', 'node specific']]);
    expect(peersOf(s, 'master')).toEqual([]);
  });

  it('takes a selected node’s own AS and listen port', () => {
    const s = cluster([reflector('master'), node('worker-1', { asNumber: 65010 })], [peerWithReflectors], false);
    s.bgpConfigurations.push(parseBGPConfiguration({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPConfiguration', metadata: { name: 'node.master' }, spec: { listenPort: 1179 } }));
    const toMaster = desiredBgp(s, localOf('worker-1'))!.peers[0]!;
    expect(toMaster).toMatchObject({ address: '10.240.1.10', port: 1179, asn: 64512 });
    // Another AS is eBGP: never a reflector client (BIRD's template asks for the same AS).
    const fromMaster = desiredBgp(s, localOf('master'))!.peers[0]!;
    expect(fromMaster).toMatchObject({ address: '10.240.1.11', asn: 65010, routeReflectorClient: false, import: 'all', export: 'announced' });
  });
});
