// The preview is the agent's planner run twice: worker-1 of the seed's cluster (master and
// worker-2 in its subnet, worker-3 in the other) under each mode switch the seed walks through.
import { describe, expect, it } from 'vitest';
import type { PoolFields } from '../../../shared/api/cluster-ops-contract.ts';
import { parseDataplaneState } from '../../../shared/model/dataplane-state.ts';
import { bgpWanted } from '../../../shared/dataplane-plan/index.ts';
import { previewNode, withPool } from './mode-preview.ts';

const fields = (ipipMode: PoolFields['ipipMode'], vxlanMode: PoolFields['vxlanMode'] = 'Never'): PoolFields => ({ cidr: '192.168.0.0/16', blockSize: 26, ipipMode, vxlanMode, natOutgoing: true, disabled: false });

const worker1 = (ipipMode: string, vxlanMode = 'Never') =>
  parseDataplaneState({
    node: { name: 'worker-1', interface: 'ens5', address: '10.240.1.11/24', gateway: '10.240.1.1', mtu: 1500, ipipTunnelAddress: '192.168.0.129', vxlanTunnelAddress: '192.168.0.130' },
    pools: [{ name: 'default-ipv4-ippool', cidr: '192.168.0.0/16', blockSize: 26, ipipMode, vxlanMode, natOutgoing: true }],
    blocks: ['192.168.0.128/26'],
    peers: [
      { name: 'master', address: '10.240.1.10/24', blocks: ['192.168.0.0/26'], vxlanTunnelAddress: '192.168.0.1', vxlanMac: '66:00:00:00:00:01' },
      { name: 'worker-2', address: '10.240.1.12/24', blocks: ['192.168.0.64/26'], vxlanTunnelAddress: '192.168.0.65', vxlanMac: '66:00:00:00:00:02' },
      { name: 'worker-3', address: '10.240.2.13/24', blocks: ['192.168.0.192/26'], vxlanTunnelAddress: '192.168.0.193', vxlanMac: '66:00:00:00:00:03' },
    ],
  });

describe('mode change preview', () => {
  it('Always -> CrossSubnet: the same subnet goes direct, the other subnet stays on tunl0', () => {
    const p = previewNode('worker-1', worker1('Always'), 'default-ipv4-ippool', fields('CrossSubnet'));
    expect(p.routes.removed.map((r) => `${r.dst} ${r.via}`).sort()).toEqual(['192.168.0.0/26 via 10.240.1.10 dev tunl0 onlink', '192.168.0.64/26 via 10.240.1.12 dev tunl0 onlink']);
    expect(p.routes.added.map((r) => `${r.dst} ${r.via}`).sort()).toEqual(['192.168.0.0/26 via 10.240.1.10 dev ens5 onlink', '192.168.0.64/26 via 10.240.1.12 dev ens5 onlink']);
    expect(p.devices).toEqual({ added: [], removed: [] });
    expect(p.bgp).toEqual({ added: [], removed: [] });
  });

  it('CrossSubnet -> Never: the other subnet goes to the subnet gateway, tunl0 goes', () => {
    const p = previewNode('worker-1', worker1('CrossSubnet'), 'default-ipv4-ippool', fields('Never'));
    expect(p.routes.added.map((r) => `${r.dst} ${r.via}`)).toEqual(['192.168.0.192/26 via 10.240.1.1 dev ens5']);
    expect(p.devices.removed).toEqual(['tunl0 (IP-in-IP)']);
  });

  it('Never -> VXLAN Always: every remote block through vxlan.calico, and BGP stops', () => {
    const p = previewNode('worker-1', worker1('Never'), 'default-ipv4-ippool', fields('Never', 'Always'));
    expect(p.routes.added.map((r) => r.via).every((via) => via.includes('dev vxlan.calico'))).toBe(true);
    expect(p.routes.added).toHaveLength(3);
    expect(p.devices.added).toEqual(['vxlan.calico (VXLAN 4096)']);
    expect(p.bgp.removed.sort()).toEqual(['master 10.240.1.10', 'worker-2 10.240.1.12', 'worker-3 10.240.2.13']);
  });

  it('VXLAN -> IPIP Always brings the BGP sessions back; an unchanged pool changes nothing', () => {
    const back = previewNode('worker-1', worker1('Never', 'Always'), 'default-ipv4-ippool', fields('Always'));
    expect(back.bgp.added).toHaveLength(3);
    expect(back.devices).toEqual({ added: ['tunl0 (IP-in-IP)'], removed: ['vxlan.calico (VXLAN 4096)'] });
    const same = previewNode('worker-1', worker1('Always'), 'default-ipv4-ippool', fields('Always'));
    expect(same.routes).toEqual({ added: [], removed: [] });
  });

  it('BGP follows the agent: off only when every enabled pool is VXLAN-only', () => {
    expect(bgpWanted(withPool(worker1('Always'), 'default-ipv4-ippool', fields('Never', 'Always')).pools)).toBe(false);
    expect(bgpWanted(withPool(worker1('Always'), 'default-ipv4-ippool', fields('Never', 'CrossSubnet')).pools)).toBe(false);
    expect(bgpWanted(withPool(worker1('Always'), 'default-ipv4-ippool', fields('Never')).pools)).toBe(true);
  });
});
