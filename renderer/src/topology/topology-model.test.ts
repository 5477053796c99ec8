import { describe, expect, it } from 'vitest';
import type { ClusterNode } from '../../../shared/api/console-contract.ts';
import type { NodeStatusEntry } from '../../../shared/api/node-status-contract.ts';
import { buildTopology, visibleGraph } from './topology-model.ts';

/** Nodes in two subnets of two zones; `sessions(i)` gives node i's listed sessions and `listed` mode. */
function cluster(count: number, options: { mode?: string; sessions?: (i: number, address: (j: number) => string) => Array<{ address: string; type: string; state: string }>; listed?: 'all' | 'not-established' } = {}) {
  const address = (i: number) => `10.240.${i < count / 2 ? 1 : 2}.${10 + i}`;
  const nodes: ClusterNode[] = Array.from({ length: count }, (_, i) => ({ name: `node-${i + 1}`, addresses: [{ type: 'InternalIP', address: address(i) }], ready: true, roles: [], zone: i < count / 2 ? 'zone-a' : 'zone-b' }));
  const statuses = new Map<string, NodeStatusEntry>(
    nodes.map((n, i) => {
      const sessions = options.sessions?.(i, address) ?? [];
      return [
        n.name,
        {
          node: n.name,
          stale: false,
          status: {
            agentVersion: '1',
            health: 'Ready',
            problems: [],
            address: `${address(i)}/24`,
            pools: [{ name: 'default', cidr: '192.168.0.0/16', mode: options.mode ?? 'IPIP CrossSubnet' }],
            datastore: { connected: true },
            bgp: { running: true, asn: 64512, established: count - 1 - sessions.filter((s) => s.state !== 'Established').length, total: count - 1, listed: options.listed ?? 'not-established', sessions },
            dataplane: { inSync: true, problems: [] },
            changedAt: '2026-12-07T00:00:00Z',
            heartbeatAt: '2026-12-07T00:00:00Z',
          },
        },
      ];
    }),
  );
  return { nodes, statuses };
}

describe('the topology of a cluster', () => {
  it('groups nodes by zone and subnet, and counts a large mesh per pair of subnets, coloured by what CrossSubnet does', () => {
    const topology = buildTopology(cluster(40));
    expect(topology.groups.map((g) => `${g.kind} ${g.label} ${g.nodes.length}`)).toEqual(['zone zone-a 20', 'subnet 10.240.1.0/24 20', 'zone zone-b 20', 'subnet 10.240.2.0/24 20']);
    expect([...topology.nodes.values()].every((n) => n.mesh)).toBe(true);
    const { elements, edges } = visibleGraph(topology, new Set());
    expect(elements.filter((e) => e.kind === 'node')).toHaveLength(40);
    // 20 x 20 sessions across the subnets, by IP-in-IP; 190 inside each, direct.
    expect(edges).toEqual([{ id: 'mesh subnet:zone-a:10.240.1.0/24 subnet:zone-b:10.240.2.0/24', source: 'subnet:zone-a:10.240.1.0/24', target: 'subnet:zone-b:10.240.2.0/24', kind: 'mesh', sessions: 400, down: 0, encapsulation: 'ipip' }]);
    expect(elements.find((e) => e.id === 'subnet:zone-a:10.240.1.0/24')?.inside).toEqual({ sessions: 190, down: 0, encapsulation: 'direct' });
    // Collapsed zones: one box each, the same counts.
    const zones = visibleGraph(topology, new Set(['zone:zone-a', 'zone:zone-b']));
    expect(zones.elements.map((e) => e.id)).toEqual(['zone:zone-a', 'zone:zone-b']);
    expect(zones.edges.map((e) => [e.sessions, e.encapsulation])).toEqual([[400, 'ipip']]);
  });

  it('takes the sessions listed as down off the bundle they belong to, once for both ends', () => {
    // node-40 (zone-b) has BGP blocked: every other node lists its session to it, and it lists 32 of its own.
    const topology = buildTopology(
      cluster(40, {
        sessions: (i, address) => (i === 39 ? Array.from({ length: 32 }, (_, j) => ({ address: address(j), type: 'node-to-node mesh', state: 'Active' })) : [{ address: address(39), type: 'node-to-node mesh', state: 'Active' }]),
      }),
    );
    const { elements, edges } = visibleGraph(topology, new Set());
    expect(edges[0]).toMatchObject({ sessions: 400, down: 20 });
    expect(elements.find((e) => e.id === 'subnet:zone-b:10.240.2.0/24')?.inside).toEqual({ sessions: 190, down: 19, encapsulation: 'direct' });
  });

  it('draws route reflector sessions one by one, node to node, with VXLAN Always across and within subnets', () => {
    // Four nodes, no mesh: node-1 and node-3 reflect, the others are clients of both.
    const topology = buildTopology(
      cluster(4, {
        mode: 'VXLAN Always',
        listed: 'all',
        sessions: (i, address) => (i === 0 || i === 2 ? [0, 1, 2, 3].filter((j) => j !== i).map((j) => ({ address: address(j), type: 'global', state: 'Established' })) : [0, 2].map((j) => ({ address: address(j), type: 'global', state: 'Established' }))),
      }),
    );
    expect([...topology.nodes.values()].some((n) => n.mesh)).toBe(false);
    const { edges } = visibleGraph(topology, new Set());
    expect(edges.map((e) => `${e.source}-${e.target} ${e.sessions} ${e.encapsulation}`).sort()).toEqual([
      'node:node-1-node:node-2 1 vxlan',
      'node:node-1-node:node-3 1 vxlan',
      'node:node-1-node:node-4 1 vxlan',
      'node:node-2-node:node-3 1 vxlan',
      'node:node-3-node:node-4 1 vxlan',
    ]);
  });
});
