import { describe, expect, it } from 'vitest';
import type { ClusterNode, ClusterSnapshot } from '../../shared/model/cluster-snapshot.ts';
import { parseInterfaceAddress } from '../../shared/net/index.ts';
import { standInNodes } from './stand-in-nodes.ts';

const node = (name: string, address?: string): ClusterNode => ({ name, labels: {}, ...(address ? { ipv4Address: parseInterfaceAddress(address) } : {}) });
const snapshot: ClusterSnapshot = {
  pools: [], bgpConfigurations: [], bgpPeers: [], blocks: [],
  nodes: [node('master', '10.240.1.10/24'), node('worker-1', '10.240.1.11/24'), node('worker-2', '10.240.1.12/24'), node('worker-3', '10.240.2.13/24'), node('new')],
};
const standIn = (peers: string[], complete: string[]) => [...standInNodes(snapshot, 'worker-1', peers, new Set(complete))].sort();

describe('which nodes the agent routes from IPAM while BGP has not said everything', () => {
  it('in a mesh: the nodes whose own session is not complete', () => {
    const mesh = ['10.240.1.10', '10.240.1.12', '10.240.2.13'];
    expect(standIn(mesh, [])).toEqual(['master', 'worker-2', 'worker-3']);
    expect(standIn(mesh, ['10.240.1.10', '10.240.2.13'])).toEqual(['worker-2']);
    expect(standIn(mesh, mesh)).toEqual([]);
  });

  it('as a client of a reflector: the other clients until the reflector\'s session is complete, then none', () => {
    expect(standIn(['10.240.1.10'], [])).toEqual(['master', 'worker-2', 'worker-3']);
    // Before, worker-2 and worker-3 (no session of their own) stood in for good.
    expect(standIn(['10.240.1.10'], ['10.240.1.10'])).toEqual([]);
    // Two reflectors: one complete brings the others' routes; the other reflector's own blocks wait for its session.
    expect(standIn(['10.240.1.10', '10.240.2.13'], ['10.240.1.10'])).toEqual(['worker-3']);
  });
});
