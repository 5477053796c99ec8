import { describe, expect, it } from 'vitest';
import type { ClusterNode } from '../../../shared/model/cluster-snapshot.ts';
import { parseInterfaceAddress } from '../../../shared/net/index.ts';
import { parseBGPPeer } from '../../../shared/model/bgp-peer.ts';
import { adviseReflectors, configurationProblems, meshSessions, pickReflectors, reflectorSessions } from './advisor.ts';

const node = (name: string, address: string, labels: Record<string, string> = {}, extra: Partial<ClusterNode> = {}): ClusterNode => ({ name, ipv4Address: parseInterfaceAddress(address), labels, ...extra });
/** The lab: master, worker-1, worker-2 in subnet-1; worker-3 in subnet-2. */
const lab = [
  node('master', '10.240.1.10/24', { 'node-role.kubernetes.io/control-plane': '' }),
  node('worker-1', '10.240.1.11/24'),
  node('worker-2', '10.240.1.12/24'),
  node('worker-3', '10.240.2.13/24'),
];
/** n nodes over `zones` zones, each zone its own /24. */
const cluster = (n: number, zones: number) => Array.from({ length: n }, (_, i) => node(`node-${String(i).padStart(4, '0')}`, `10.${i % zones}.${Math.floor(i / 250)}.${(i % 250) + 1}/16`, { 'topology.kubernetes.io/zone': `zone-${i % zones}` }));

describe('the route reflector advice', () => {
  it('counts sessions as a full mesh and as reflectors have them', () => {
    expect(meshSessions(4)).toBe(6);
    expect(meshSessions(1000)).toBe(499_500);
    expect(reflectorSessions(4, 2)).toBe(5); // 2 x 2 clients + the reflectors' own
    expect(reflectorSessions(1000, 3)).toBe(2994);
  });

  it('on the lab: the mesh is fine, and the proposed reflectors are one per subnet, the control plane first', () => {
    const advice = adviseReflectors({ context: 'lab', nodes: lab, meshEnabled: true });
    expect(advice).toMatchObject({ topology: 'mesh', level: 'mesh-fine', meshSessions: 6, meshSessionsPerNode: 3, reflectorSessions: 5 });
    expect(advice.candidates.map((c) => [c.node, c.subnet])).toEqual([['master', '10.240.1.0/24'], ['worker-3', '10.240.2.0/24']]);
    expect(advice.candidates[0]!.why).toBe('the first in subnet 10.240.1.0/24, a control-plane node');
    expect(advice.nodes.map((n) => n.role)).toEqual(['mesh', 'mesh', 'mesh', 'mesh']);
  });

  it('judges by the documented thresholds: 50 to consider, beyond 100 advised, naming the mesh that stalled at 700', () => {
    expect(adviseReflectors({ context: 'c', nodes: cluster(49, 1), meshEnabled: true }).level).toBe('mesh-fine');
    expect(adviseReflectors({ context: 'c', nodes: cluster(50, 1), meshEnabled: true }).level).toBe('consider');
    expect(adviseReflectors({ context: 'c', nodes: cluster(100, 1), meshEnabled: true }).level).toBe('consider');
    const big = adviseReflectors({ context: 'c', nodes: cluster(1000, 3), meshEnabled: true });
    expect(big.level).toBe('advised');
    expect(big.reasons.join(' ')).toMatch(/499500 sessions.*calico#1579.*about 700/s);
  });

  it('spreads the reflectors over zones: one per zone, at most three', () => {
    const advice = adviseReflectors({ context: 'c', nodes: cluster(300, 4), meshEnabled: true });
    expect(advice.candidates).toHaveLength(3);
    expect(new Set(advice.candidates.map((c) => c.zone)).size).toBe(3);
    // Asked for more than there are zones: the second round goes round the zones again.
    const five = pickReflectors(cluster(300, 4), 5);
    expect(five.map((c) => c.zone)).toEqual(['zone-0', 'zone-1', 'zone-2', 'zone-3', 'zone-0']);
  });

  it('keeps the current reflectors first, and names the roles and a migration left half done', () => {
    const nodes = lab.map((n) => (n.name === 'worker-2' ? { ...n, routeReflectorClusterId: '244.0.0.1' } : n));
    const advice = adviseReflectors({ context: 'lab', nodes, meshEnabled: true });
    expect(advice.topology).toBe('mesh-and-reflectors');
    expect(advice.candidates.map((c) => c.node)).toEqual(['worker-2', 'worker-3']);
    expect(advice.nodes.map((n) => [n.name, n.role])).toEqual([['master', 'client'], ['worker-1', 'client'], ['worker-2', 'reflector'], ['worker-3', 'client']]);
    expect(advice.reasons.join(' ')).toMatch(/left between its steps/);
    expect(adviseReflectors({ context: 'lab', nodes, meshEnabled: false }).topology).toBe('reflectors');
  });

  it('names the configurations that leave a node without sessions, by Calico\'s own peerings', () => {
    const labelled = (n: ClusterNode) => ({ ...n, labels: { ...n.labels, 'route-reflector': 'true' }, routeReflectorClusterId: '244.0.0.1' });
    const nodes = lab.map((n) => (n.name === 'master' ? labelled(n) : n));
    const peering = parseBGPPeer({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name: 'rr' }, spec: { nodeSelector: 'all()', peerSelector: "route-reflector == 'true'" } });
    // A cluster ID and no BGPPeer: Calico drops master out of the mesh and gives it no peer.
    expect(configurationProblems({ context: 'lab', nodes, meshEnabled: true })).toEqual([
      expect.stringMatching(/^master is a route reflector \(cluster ID 244\.0\.0\.1\) that no BGPPeer peers with any node/),
    ]);
    expect(configurationProblems({ context: 'lab', nodes, meshEnabled: true, bgpPeers: [peering] })).toEqual([]);
    // The mesh off with a BGPPeer only for worker-1: worker-2 and worker-3 have no session.
    const onlyWorker1 = parseBGPPeer({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name: 'w1' }, spec: { node: 'worker-1', peerSelector: "route-reflector == 'true'" } });
    const meshOff = { apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { nodeToNodeMeshEnabled: false } } as const;
    const advice = adviseReflectors({ context: 'lab', nodes, meshEnabled: false, bgpPeers: [onlyWorker1], bgpConfigurations: [meshOff] });
    expect(advice.problems).toEqual([
      'worker-2 has no BGP session: the mesh is off and no BGPPeer peers it with a reflector.',
      'worker-3 has no BGP session: the mesh is off and no BGPPeer peers it with a reflector.',
    ]);
  });
});
