import { describe, expect, it } from 'vitest';
import type { NodeStatusEntry } from '../../../shared/api/node-status-contract.ts';
import type { NodeAgentStatus } from '../../../shared/model/node-agent-status.ts';
import { agentWords, healthKey, modeWords, passDetail, passWords, problemsOf, sessionWords, statusFor } from './status-words.ts';

const status: NodeAgentStatus = {
  agentVersion: '1.2.3',
  health: 'Degraded',
  problems: ['1 of 3 BGP sessions are not established'],
  pools: [{ name: 'default-ipv4-ippool', cidr: '192.168.0.0/16', mode: 'IPIP CrossSubnet' }],
  datastore: { connected: true },
  bgp: { running: true, established: 2, total: 3, listed: 'all', sessions: [] },
  dataplane: { inSync: false, lastPassMs: 12.4, problems: ['route add 192.168.2.0/26: refused'] },
  changedAt: '2026-12-04T10:00:00.000Z',
  heartbeatAt: '2026-12-04T10:00:00.000Z',
};

describe("an agent's published status in the tables' words", () => {
  it('says health, sessions, mode, last pass and every problem', () => {
    const entry: NodeStatusEntry = { node: 'worker-1', stale: false, status };
    expect([agentWords(entry), healthKey(entry), sessionWords(status), modeWords(status), passWords(status), passDetail(status)]).toEqual(['Degraded', 'Degraded', '2 of 3 sessions up', 'IPIP CrossSubnet', 'Not in sync', '12 ms']);
    expect(problemsOf(status)).toEqual(['1 of 3 BGP sessions are not established', 'route add 192.168.2.0/26: refused']);
  });

  it('says that a stale agent no longer reports, BGP off, and each pool when there are several', () => {
    const entry: NodeStatusEntry = { node: 'worker-1', stale: true, status };
    expect(agentWords(entry)).toMatch(/^Not reporting since \d\d:\d\d:\d\d$/);
    expect(healthKey(entry)).toBe('stale');
    const off = { ...status, bgp: { ...status.bgp, running: false }, pools: [...status.pools, { name: 'vx', cidr: '10.9.0.0/16', mode: 'VXLAN Always' }] };
    expect(sessionWords(off)).toBe('Off');
    expect(modeWords(off)).toBe('default-ipv4-ippool: IPIP CrossSubnet; vx: VXLAN Always');
    expect(healthKey({ node: 'x', stale: false, invalid: 'status.health: bad' })).toBe('invalid');
  });

  it("finds an SSH node's status by name, else by the cluster node whose InternalIP is its host", () => {
    const statuses = new Map([['worker-1', { node: 'worker-1', stale: false, status }]]);
    const nodes = [{ name: 'worker-1', addresses: [{ type: 'InternalIP', address: '10.240.1.11' }] }];
    expect(statusFor(statuses, 'worker-1', undefined, [])?.node).toBe('worker-1');
    expect(statusFor(statuses, 'lab-w1', '10.240.1.11', nodes)?.node).toBe('worker-1');
    expect(statusFor(statuses, 'lab-w2', '10.240.1.12', nodes)).toBeUndefined();
  });
});
