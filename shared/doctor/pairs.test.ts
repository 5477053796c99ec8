// The node-pair table on the lab's shape (worker-1 and worker-2 in 10.240.1.0/24, worker-3 in
// 10.240.2.0/24), in each of the seed's modes, and with a node registered as a /32.
import { describe, expect, it } from 'vitest';
import type { ClusterFacts, PoolFacts } from './evidence.ts';
import { nodePairs } from './pairs.ts';

const pool = (modes: Partial<PoolFacts>): PoolFacts => ({ name: 'default-ipv4-ippool', cidr: '192.168.0.0/16', ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: true, disabled: false, ...modes });
const cluster = (modes: Partial<PoolFacts>, worker2 = '10.240.1.12/24'): ClusterFacts => ({
  nodes: [
    { name: 'worker-3', ipv4Address: '10.240.2.13/24' },
    { name: 'worker-1', ipv4Address: '10.240.1.11/24' },
    { name: 'worker-2', ipv4Address: worker2 },
  ],
  pools: [pool(modes)],
  unreadPools: [],
  pods: [],
  bgpPeers: [],
});
const table = (facts: ClusterFacts) => nodePairs(facts).pairs.map((p) => `${p.from}->${p.to} ${p.encapsulation}${p.crossesSubnet ? ' crosses' : ''}${p.asymmetric ? ' asymmetric' : ''}`);

describe('the node-pair table', () => {
  it('ipipMode CrossSubnet: direct inside 10.240.1.0/24, IP-in-IP to and from worker-3, which is across the boundary', () => {
    expect(table(cluster({ ipipMode: 'CrossSubnet' }))).toEqual([
      'worker-1->worker-2 direct',
      'worker-1->worker-3 ipip crosses',
      'worker-2->worker-1 direct',
      'worker-2->worker-3 ipip crosses',
      'worker-3->worker-1 ipip crosses',
      'worker-3->worker-2 ipip crosses',
    ]);
    const why = nodePairs(cluster({ ipipMode: 'CrossSubnet' })).pairs[1]!.why;
    expect(why).toContain('worker-1 10.240.1.11/24 and worker-3 10.240.2.13: different subnets -> IP-in-IP');
  });

  it('Always and Never: every pair the same, whatever the subnets; VXLAN CrossSubnet as IPIP CrossSubnet', () => {
    expect(new Set(nodePairs(cluster({ ipipMode: 'Always' })).pairs.map((p) => p.encapsulation))).toEqual(new Set(['ipip']));
    expect(new Set(nodePairs(cluster({})).pairs.map((p) => p.encapsulation))).toEqual(new Set(['direct']));
    expect(table(cluster({ vxlanMode: 'CrossSubnet' }))).toContain('worker-1->worker-3 vxlan crosses');
    expect(table(cluster({ vxlanMode: 'CrossSubnet' }))).toContain('worker-1->worker-2 direct');
  });

  it('a node registered as a /32 encapsulates towards every node, while they send to it direct: named asymmetric (calico#2375)', () => {
    const rows = table(cluster({ ipipMode: 'CrossSubnet' }, '10.240.1.12/32'));
    expect(rows).toContain('worker-2->worker-1 ipip crosses asymmetric');
    expect(rows).toContain('worker-1->worker-2 direct asymmetric');
    expect(nodePairs(cluster({ ipipMode: 'CrossSubnet' }, '10.240.1.12/32')).pairs.find((p) => p.from === 'worker-2' && p.to === 'worker-1')!.why).toContain('a subnet of one address (calico#2375)');
  });

  it('says which decisions it could not make: a node without its Calico address, a pool it could not read', () => {
    const facts = cluster({ ipipMode: 'CrossSubnet' });
    facts.nodes.push({ name: 'worker-4', internalIp: '10.240.3.14' });
    facts.unreadPools.push({ name: 'typo', reason: 'spec.ipipMode: Sometimes is not a mode' });
    const result = nodePairs(facts);
    expect(result.gaps).toEqual(['IPPool typo was left out: spec.ipipMode: Sometimes is not a mode', 'worker-4 has no projectcalico.org/IPv4Address: its CrossSubnet decisions cannot be made']);
    expect(result.pairs.find((p) => p.from === 'worker-4' && p.to === 'worker-1')!.crossesSubnet).toBeUndefined();
  });
});
