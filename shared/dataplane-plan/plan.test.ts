import { describe, expect, it } from 'vitest';
import { parseDataplaneState } from '../model/dataplane-state.ts';
import { ValidationError } from '../model/validation.ts';
import { describeOwner, planDataplane, type DataplanePlan } from './index.ts';

// The seed's cluster seen from worker-1 (10.240.1.11/24): worker-2 on the same subnet, worker-3 on
// the other one, one /26 block each.
function seedState(pool: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return parseDataplaneState({
    node: { name: 'worker-1', interface: 'ens5', address: '10.240.1.11/24' },
    pools: [{ name: 'default-ipv4-ippool', cidr: '192.168.0.0/16', blockSize: 26, natOutgoing: true, ...pool }],
    blocks: ['192.168.1.64/26'],
    endpoints: [{ name: 'default/pod-1', ip: '192.168.1.65', interface: 'cali83dbd022cd5' }],
    peers: [
      { name: 'worker-2', address: '10.240.1.12/24', blocks: ['192.168.2.0/26'] },
      { name: 'worker-3', address: '10.240.2.13/24', blocks: ['192.168.3.128/26'] },
    ],
    ...extra,
  });
}
const host = { mtu: 1500, gateway: '10.240.1.1' };

/** Routes in `ip route` words, for readable expectations. */
function routeLines(plan: DataplanePlan): string[] {
  return plan.routes.map((r) =>
    [r.type === 'blackhole' ? 'blackhole' : '', r.dst, r.gateway ? `via ${r.gateway}` : '', r.dev ? `dev ${r.dev}` : '',
      r.onlink ? 'onlink' : '', r.scope === 'link' ? 'scope link' : '', r.mtu ? `mtu ${r.mtu}` : '']
      .filter(Boolean).join(' '));
}

describe('planDataplane: the seed’s route tables per mode', () => {
  it('IPIP Always: every remote block via tunl0 onlink with the node as gateway, MTU 1480', () => {
    const plan = planDataplane(seedState({ ipipMode: 'Always' }), host);
    expect(routeLines(plan)).toEqual([
      'blackhole 192.168.1.64/26',
      '192.168.1.65/32 dev cali83dbd022cd5 scope link',
      '192.168.2.0/26 via 10.240.1.12 dev tunl0 onlink mtu 1480',
      '192.168.3.128/26 via 10.240.2.13 dev tunl0 onlink mtu 1480',
    ]);
    expect(plan.ipip).toEqual({ name: 'tunl0', address: '192.168.1.64/32', mtu: 1480, local: '10.240.1.11' });
    expect(plan.vxlan).toBeUndefined();
    expect(plan.neighbours).toEqual([]);
    expect(plan.fdb).toEqual([]);
    expect(plan.warnings).toEqual([]);
  });

  it('Never: direct via ens5, the node as next hop on the subnet, the subnet gateway across it; no tunnel device', () => {
    const plan = planDataplane(seedState({ ipipMode: 'Never' }), host);
    expect(routeLines(plan).slice(2)).toEqual([
      '192.168.2.0/26 via 10.240.1.12 dev ens5 onlink',
      '192.168.3.128/26 via 10.240.1.1 dev ens5',
    ]);
    expect(plan.ipip).toBeUndefined();
    expect(plan.vxlan).toBeUndefined();
  });

  it('IPIP CrossSubnet: direct inside the subnet, tunl0 across it', () => {
    const plan = planDataplane(seedState({ ipipMode: 'CrossSubnet' }), host);
    expect(routeLines(plan).slice(2)).toEqual([
      '192.168.2.0/26 via 10.240.1.12 dev ens5 onlink',
      '192.168.3.128/26 via 10.240.2.13 dev tunl0 onlink mtu 1480',
    ]);
    expect(plan.ipip?.name).toBe('tunl0');
  });

  it('VXLAN Always: via each VTEP’s tunnel address onlink, with a permanent neighbour and FDB entry per VTEP', () => {
    const plan = planDataplane(seedState({ vxlanMode: 'Always' }), host);
    expect(routeLines(plan).slice(2)).toEqual([
      '192.168.2.0/26 via 192.168.2.0 dev vxlan.calico onlink mtu 1450',
      '192.168.3.128/26 via 192.168.3.128 dev vxlan.calico onlink mtu 1450',
    ]);
    expect(plan.vxlan).toEqual({
      name: 'vxlan.calico', vni: 4096, port: 4789, parent: 'ens5', local: '10.240.1.11',
      mac: '66:93:7f:54:d5:53', address: '192.168.1.64/32', mtu: 1450,
    });
    expect(plan.ipip).toBeUndefined();
    expect(plan.neighbours.map((n) => `${n.ip} ${n.mac}`)).toEqual(['192.168.2.0 ' + plan.fdb[0]!.mac, '192.168.3.128 ' + plan.fdb[1]!.mac]);
    expect(plan.fdb.map((f) => `${f.mac} dst ${f.dst}`)).toEqual([`${plan.fdb[0]!.mac} dst 10.240.1.12`, `${plan.fdb[1]!.mac} dst 10.240.2.13`]);
  });

  it("VXLAN: an address a peer borrowed (from this node's block or another's) gets a /32 to that peer's VTEP", () => {
    // worker-3 borrowed 192.168.1.70 from worker-1's block and 192.168.2.5 from worker-2's: no BGP to tell of them.
    const state = seedState({ vxlanMode: 'Always' }, {
      peers: [
        { name: 'worker-2', address: '10.240.1.12/24', blocks: ['192.168.2.0/26'] },
        { name: 'worker-3', address: '10.240.2.13/24', blocks: ['192.168.3.128/26'], borrowed: ['192.168.1.70/32', '192.168.2.5/32'] },
      ],
    });
    const plan = planDataplane(state, host);
    expect(routeLines(plan)).toEqual([
      'blackhole 192.168.1.64/26',
      '192.168.1.65/32 dev cali83dbd022cd5 scope link',
      '192.168.1.70/32 via 192.168.3.128 dev vxlan.calico onlink mtu 1450',
      '192.168.2.0/26 via 192.168.2.0 dev vxlan.calico onlink mtu 1450',
      '192.168.2.5/32 via 192.168.3.128 dev vxlan.calico onlink mtu 1450',
      '192.168.3.128/26 via 192.168.3.128 dev vxlan.calico onlink mtu 1450',
    ]);
    expect(describeOwner(plan.routes[2]!.owner)).toBe('pool default-ipv4-ippool, VXLAN Always, worker-3');
    // With IP-in-IP the borrower announces its /32s over BGP: they come from bgpRoutes, not from IPAM.
    const ipip = planDataplane({ ...state, pools: state.pools.map((p) => ({ ...p, ipipMode: 'Always' as const, vxlanMode: 'Never' as const })), bgpRoutes: [{ cidr: '192.168.2.5/32', nextHop: '10.240.2.13' }] }, host);
    expect(routeLines(ipip).filter((line) => line.includes('/32 via'))).toEqual(['192.168.2.5/32 via 10.240.2.13 dev tunl0 onlink mtu 1480']);
  });

  it('VXLAN CrossSubnet: direct inside the subnet, vxlan.calico across it, VTEP entries for all peers', () => {
    const plan = planDataplane(seedState({ vxlanMode: 'CrossSubnet' }), host);
    expect(routeLines(plan).slice(2)).toEqual([
      '192.168.2.0/26 via 10.240.1.12 dev ens5 onlink',
      '192.168.3.128/26 via 192.168.3.128 dev vxlan.calico onlink mtu 1450',
    ]);
    expect(plan.fdb).toHaveLength(2);
  });

  it('a node registered as /32 encapsulates even to its subnet neighbours (calico#4254)', () => {
    const state = seedState({ ipipMode: 'CrossSubnet' });
    state.node.address = '10.240.1.11/32';
    expect(routeLines(planDataplane(state, host)).slice(2)).toEqual([
      '192.168.2.0/26 via 10.240.1.12 dev tunl0 onlink mtu 1480',
      '192.168.3.128/26 via 10.240.2.13 dev tunl0 onlink mtu 1480',
    ]);
  });
});

describe('planDataplane: inputs and defaults', () => {
  it('takes tunnel addresses, VTEP MACs and the MTU from the document when given', () => {
    const state = seedState({ vxlanMode: 'Always' }, {
      node: { name: 'worker-1', interface: 'ens5', address: '10.240.1.11/24', vxlanTunnelAddress: '192.168.1.70', mtu: 9001 },
      peers: [{ name: 'worker-2', address: '10.240.1.12/24', blocks: ['192.168.2.0/26'], vxlanTunnelAddress: '192.168.2.9', vxlanMac: '66:00:00:00:00:02' }],
    });
    const plan = planDataplane(state, host);
    expect(plan.vxlan?.address).toBe('192.168.1.70/32');
    expect(plan.vxlan?.mtu).toBe(8951);
    expect(plan.neighbours).toEqual([{ dev: 'vxlan.calico', ip: '192.168.2.9', mac: '66:00:00:00:00:02', node: 'worker-2' }]);
    expect(routeLines(plan)).toContain('192.168.2.0/26 via 192.168.2.9 dev vxlan.calico onlink mtu 8951');
  });

  it("guesses no tunnel address in the agent's documents, where IPAM may have given the block's first addresses to pods", () => {
    // worker-1's block 192.168.1.64/26: tunl0 held .64 and pod-1 .65 when the pool went to VXLAN;
    // a guessed vxlan.calico address of .65 made the host take pod-1's packets for its own.
    const switching = seedState({ vxlanMode: 'Always' }, { node: { name: 'worker-1', interface: 'ens5', address: '10.240.1.11/24', ipipTunnelAddress: '192.168.1.64', tunnelAddressesAllocated: true, keepAccepting: ['IPIP'] } });
    const plan = planDataplane(switching, host);
    expect(plan.vxlan?.address).toBeUndefined();
    expect(plan.ipip?.address).toBe('192.168.1.64/32');
    expect(plan.warnings).toEqual([]);
    // Without the flag (a document written by hand), the first free address stands in, as before.
    const byHand = planDataplane(seedState({ vxlanMode: 'Always' }, { node: { name: 'worker-1', interface: 'ens5', address: '10.240.1.11/24', ipipTunnelAddress: '192.168.1.64', keepAccepting: ['IPIP'] } }), host);
    expect(byHand.vxlan?.address).toBe('192.168.1.65/32');
  });

  it('programs IPIP and direct pools from BGP routes when the document has them, VXLAN pools from the blocks', () => {
    const state = seedState({ ipipMode: 'Always' }, {
      pools: [
        { name: 'ipip', cidr: '192.168.0.0/16', ipipMode: 'Always' },
        { name: 'vx', cidr: '172.16.0.0/16', vxlanMode: 'Always' },
      ],
      blocks: ['192.168.1.64/26', '172.16.1.0/26'],
      peers: [{ name: 'worker-2', address: '10.240.1.12/24', blocks: ['192.168.2.0/26', '172.16.2.0/26'] }],
      bgpRoutes: [{ cidr: '192.168.9.0/26', nextHop: '10.240.1.12' }, { cidr: '172.16.9.0/26', nextHop: '10.240.1.12' }],
    });
    const plan = planDataplane(state, host);
    const remote = plan.routes.filter((r) => r.owner.kind === 'remote-block').map((r) => `${r.dst} ${r.dev}`);
    expect(remote).toEqual(['172.16.2.0/26 vxlan.calico', '192.168.9.0/26 tunl0']);
    expect(plan.ipip?.address).toBe('192.168.1.64/32');
    expect(plan.vxlan?.address).toBe('172.16.1.0/32');
  });

  it('says why a cross-subnet direct route is missing when no gateway is known', () => {
    const plan = planDataplane(seedState({ ipipMode: 'Never' }), { mtu: 1500 });
    expect(plan.routes.map((r) => r.dst)).not.toContain('192.168.3.128/26');
    expect(plan.warnings).toEqual([expect.stringContaining('give node.gateway')]);
  });

  it('masquerades natOutgoing pools to destinations outside every pool, and has no NAT without such a pool', () => {
    expect(planDataplane(seedState({ ipipMode: 'Always' }), host).nat).toEqual({ masqueradeFrom: ['192.168.0.0/16'], allPools: ['192.168.0.0/16'] });
    expect(planDataplane(seedState({ ipipMode: 'Always', natOutgoing: false }), host).nat).toBeUndefined();
  });

  it('names the owner of each route for `gingham-agent routes`', () => {
    const plan = planDataplane(seedState({ ipipMode: 'CrossSubnet' }), host);
    expect(plan.routes.map((r) => describeOwner(r.owner))).toEqual([
      'own block, pool default-ipv4-ippool',
      'endpoint default/pod-1',
      'pool default-ipv4-ippool, IPIP CrossSubnet (direct), worker-2',
      'pool default-ipv4-ippool, IPIP CrossSubnet (tunl0), worker-3',
    ]);
  });
});

describe('planDataplane: tunnel packets only from cluster hosts', () => {
  it('admits IP-in-IP from this node, every peer and the extra hosts, and nothing without a tunnel', () => {
    const plan = planDataplane(seedState({ ipipMode: 'Always' }, { hosts: ['10.240.2.20', '10.240.1.12'] }), host);
    expect(plan.tunnelAdmission).toEqual({ hosts: ['10.240.1.11', '10.240.1.12', '10.240.2.13', '10.240.2.20'], ipip: true, vxlan: false });
    expect(planDataplane(seedState({ vxlanMode: 'CrossSubnet' }), host).tunnelAdmission).toEqual({ hosts: ['10.240.1.11', '10.240.1.12', '10.240.2.13'], ipip: false, vxlan: true });
    expect(planDataplane(seedState({}), host).tunnelAdmission).toBeUndefined();
  });

  it('refuses a host that is not an address', () => {
    expect(() => seedState({ ipipMode: 'Always' }, { hosts: ['10.240.1.300'] })).toThrow(/hosts\[0\]/);
  });
});

describe('parseDataplaneState: errors that name the field', () => {
  const errorOf = (input: unknown): ValidationError => {
    try {
      parseDataplaneState(input);
    } catch (error) {
      if (error instanceof ValidationError) return error;
      throw error;
    }
    throw new Error('expected a ValidationError');
  };
  const node = { name: 'worker-1', interface: 'ens5', address: '10.240.1.11/24' };

  it('names each bad field with what is allowed', () => {
    const error = errorOf({
      node: { name: 'worker-1', interface: 'ens5', address: '10.240.1.11' },
      pools: [{ name: 'p', cidr: '192.168.1.1/16', ipipMode: 'Sometimes' }],
      peers: [{ name: 'worker-2', address: '10.240.1.12/24', vxlanMac: 'zz' }],
    });
    const paths = error.issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['node.address', 'pools[0].cidr', 'pools[0].ipipMode', 'peers[0].vxlanMac']));
    expect(error.message).toContain('node.address: must be an IPv4 address with its prefix length');
    expect(error.message).toContain('did you mean 192.168.0.0/16');
  });

  it('refuses a pool with both encapsulations, overlapping pools, and blocks outside every pool', () => {
    const error = errorOf({
      node,
      pools: [
        { name: 'a', cidr: '192.168.0.0/16', ipipMode: 'Always', vxlanMode: 'Always' },
        { name: 'b', cidr: '192.168.4.0/24' },
      ],
      blocks: ['10.0.0.0/26', '192.168.1.0/24'],
    });
    expect(error.issues).toEqual(expect.arrayContaining([
      { path: 'pools[0].vxlanMode', message: expect.stringContaining('not both') },
      { path: 'pools[1].cidr', message: expect.stringContaining('overlaps pool "a"') },
      { path: 'blocks[0]', message: expect.stringContaining('lies in no pool') },
      { path: 'blocks[1]', message: expect.stringContaining('hands out /26 blocks') },
    ]));
  });

  it('refuses this node listed as its own peer', () => {
    const error = errorOf({ node, peers: [{ name: 'worker-1', address: '10.240.1.11/24' }] });
    expect(error.issues.map((i) => i.path)).toEqual(['peers[0].name', 'peers[0].address']);
  });

  it('applies Calico’s defaults: empty mode means Never, blockSize 26', () => {
    const state = parseDataplaneState({ node, pools: [{ name: 'p', cidr: '192.168.0.0/16', ipipMode: '' }] });
    expect(state.pools[0]).toMatchObject({ ipipMode: 'Never', vxlanMode: 'Never', blockSize: 26, natOutgoing: false, disabled: false });
  });
});
