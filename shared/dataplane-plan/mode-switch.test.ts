import { describe, expect, it } from 'vitest';
import { parseCalicoNode } from '../model/calico-node.ts';
import type { ClusterSnapshot } from '../model/cluster-snapshot.ts';
import { parseDataplaneState } from '../model/dataplane-state.ts';
import { emptyIPAMBlock, parseIPAMBlock, parseIPPool } from '../model/index.ts';
import { encapsulationsAnnotation, hasConverged, parsePoolModesOverride, poolModesAnnotation } from '../model/node-encapsulation.ts';
import { parseInterfaceAddress } from '../net/index.ts';
import { desiredDataplane } from './desired-state.ts';
import { encapsulationsFromPeers, peersOnBgp, planDataplane, publishedEncapsulations, type DataplanePlan } from './index.ts';

// The seed seen from worker-1 (10.240.1.11/24): worker-2 on its subnet, worker-3 across it.
function state(pool: Record<string, unknown>, accepts: { w2?: string[]; w3?: string[] }, keepAccepting?: string[]) {
  return parseDataplaneState({
    node: { name: 'worker-1', interface: 'ens5', address: '10.240.1.11/24', ...(keepAccepting ? { keepAccepting } : {}) },
    pools: [{ name: 'default-ipv4-ippool', cidr: '192.168.0.0/16', blockSize: 26, ...pool }],
    blocks: ['192.168.1.64/26'],
    peers: [
      { name: 'worker-2', address: '10.240.1.12/24', blocks: ['192.168.2.0/26'], vxlanTunnelAddress: '192.168.2.1', ...(accepts.w2 ? { accepts: accepts.w2 } : {}) },
      { name: 'worker-3', address: '10.240.2.13/24', blocks: ['192.168.3.128/26'], vxlanTunnelAddress: '192.168.3.129', ...(accepts.w3 ? { accepts: accepts.w3 } : {}) },
    ],
  });
}
const host = { mtu: 1500, gateway: '10.240.1.1' };
const remote = (plan: DataplanePlan) => plan.routes.filter((r) => r.owner.kind === 'remote-block').map((r) => `${r.dst} via ${r.gateway} dev ${r.dev}`);

describe('make before break: a route takes the new encapsulation only towards a peer that accepts it', () => {
  it('IPIP -> VXLAN: keeps IP-in-IP towards a peer that accepts only IP-in-IP, with both devices up', () => {
    const plan = planDataplane(state({ vxlanMode: 'Always' }, { w2: ['IPIP'], w3: ['IPIP', 'VXLAN'] }, ['IPIP']), host);
    expect(remote(plan)).toEqual(['192.168.2.0/26 via 10.240.1.12 dev tunl0', '192.168.3.128/26 via 192.168.3.129 dev vxlan.calico']);
    expect(plan.ipip).toBeDefined();
    expect(plan.vxlan).toBeDefined();
    expect(plan.tunnelAdmission).toMatchObject({ ipip: true, vxlan: true });
    expect(publishedEncapsulations(plan)).toEqual({ accepts: ['IPIP', 'VXLAN'], sends: ['IPIP', 'VXLAN'], modes: { 'default-ipv4-ippool': 'VXLAN Always' } });
  });

  it('the steady state: every peer accepts the new kind, or published nothing (stock calico-node): the pool mode only', () => {
    const plan = planDataplane(state({ vxlanMode: 'Always' }, { w2: ['VXLAN'] }), host);
    expect(remote(plan)).toEqual(['192.168.2.0/26 via 192.168.2.1 dev vxlan.calico', '192.168.3.128/26 via 192.168.3.129 dev vxlan.calico']);
    expect(plan.ipip).toBeUndefined();
    expect(plan.tunnelAdmission).toMatchObject({ ipip: false, vxlan: true });
  });

  it('VXLAN -> IPIP: keeps VXLAN to a peer that accepts only VXLAN, to its VTEP (or its first address once it gave up its tunnel address)', () => {
    const plan = planDataplane(state({ ipipMode: 'Always' }, { w2: ['VXLAN'], w3: ['VXLAN', 'IPIP'] }), host);
    expect(remote(plan)).toEqual(['192.168.2.0/26 via 192.168.2.1 dev vxlan.calico', '192.168.3.128/26 via 10.240.2.13 dev tunl0']);
    expect(plan.neighbours.map((n) => n.ip)).toEqual(['192.168.2.1', '192.168.3.129']);
    const released = parseDataplaneState({ ...state({ ipipMode: 'Always' }, { w2: ['VXLAN'] }), peers: [{ name: 'worker-2', address: '10.240.1.12/24', blocks: ['192.168.2.0/26'], accepts: ['VXLAN'] }] });
    expect(remote(planDataplane(released, host))).toEqual(['192.168.2.0/26 via 192.168.2.0 dev vxlan.calico']);
  });

  it('Never -> IPIP: unencapsulated to a peer that accepts no encapsulation yet (onlink inside the subnet, by the gateway across it)', () => {
    const plan = planDataplane(state({ ipipMode: 'Always' }, { w2: [], w3: [] }), host);
    expect(remote(plan)).toEqual(['192.168.2.0/26 via 10.240.1.12 dev ens5', '192.168.3.128/26 via 10.240.1.1 dev ens5']);
    expect(plan.ipip).toBeDefined(); // its own, for the peers that switch first
  });

  it('IPIP -> Never: unencapsulated at once (every node receives that), tunl0 kept while peers still send IP-in-IP', () => {
    const plan = planDataplane(state({}, { w2: ['IPIP'], w3: ['IPIP'] }, ['IPIP']), host);
    expect(remote(plan)).toEqual(['192.168.2.0/26 via 10.240.1.12 dev ens5', '192.168.3.128/26 via 10.240.1.1 dev ens5']);
    expect(plan.ipip).toBeDefined();
    expect(publishedEncapsulations(plan).sends).toEqual([]);
    expect(planDataplane(state({}, { w2: [], w3: [] }), host).ipip).toBeUndefined();
  });

  it('publishes VXLAN as accepted only once vxlan.calico has the address its annotation gives', () => {
    const plan = planDataplane(state({ vxlanMode: 'Always' }, {}), host);
    expect(publishedEncapsulations(plan, false).accepts).toEqual([]);
    expect(publishedEncapsulations(plan, true).accepts).toEqual(['VXLAN']);
  });
});

const pool = (spec: Record<string, unknown>) => parseIPPool({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'default-ipv4-ippool' }, spec: { cidr: '192.168.0.0/16', ...spec } });
const k8sNode = (name: string, address: string, annotations: Record<string, string> = {}) =>
  ({ ...parseCalicoNode({ metadata: { name, annotations: { 'projectcalico.org/IPv4Address': address, ...annotations } } }), labels: {} });

function cluster(spec: Record<string, unknown>, annotations: { w1?: Record<string, string>; w2?: Record<string, string> } = {}): ClusterSnapshot {
  return {
    pools: [pool(spec)],
    bgpConfigurations: [],
    bgpPeers: [],
    blocks: [parseIPAMBlock({ ...emptyIPAMBlock('192.168.1.64/26', 'worker-1'), kind: 'IPAMBlock' }), parseIPAMBlock({ ...emptyIPAMBlock('192.168.2.0/26', 'worker-2'), kind: 'IPAMBlock' })],
    nodes: [k8sNode('worker-1', '10.240.1.11/24', annotations.w1), k8sNode('worker-2', '10.240.1.12/24', annotations.w2)],
  };
}
const local = { nodeName: 'worker-1', interface: 'ens5', address: parseInterfaceAddress('10.240.1.11/24') };
const published = (accepts: string[], sends: string[], mode: string) => ({ [encapsulationsAnnotation]: JSON.stringify({ accepts, sends, modes: { 'default-ipv4-ippool': mode } }) });

describe('from the cluster: what peers still send, BGP kept for them, a stage override', () => {
  it('keeps receiving what a peer that has not moved still sends, and nothing for a stock node', () => {
    // The pool is VXLAN now: worker-2's IP-in-IP is a leftover, which the agent keeps for a while only.
    const leftover = encapsulationsFromPeers(cluster({ vxlanMode: 'Always' }, { w2: published(['IPIP'], ['IPIP'], 'IPIP Always') }), 'worker-1');
    expect({ expected: [...leftover.expected], leftover: [...leftover.leftover] }).toEqual({ expected: [], leftover: ['IPIP'] });
    const stock = encapsulationsFromPeers(cluster({ vxlanMode: 'Always' }), 'worker-1');
    expect({ expected: [...stock.expected], leftover: [...stock.leftover] }).toEqual({ expected: [], leftover: [] });
    const state = desiredDataplane(cluster({ vxlanMode: 'Always' }, { w2: published(['IPIP'], ['IPIP'], 'IPIP Always') }), local, undefined);
    expect(state.node.keepAccepting).toEqual(['IPIP']);
    expect(state.peers[0]!.accepts).toEqual(['IPIP']);
  });

  it('keeps BGP up while a peer still routes by it (its published modes are not VXLAN)', () => {
    expect(peersOnBgp(cluster({ vxlanMode: 'Always' }, { w2: published(['IPIP'], ['IPIP'], 'IPIP Always') }), 'worker-1')).toEqual({ expected: false, leftover: true });
    expect(peersOnBgp(cluster({ vxlanMode: 'Always' }, { w2: published(['VXLAN'], ['VXLAN'], 'VXLAN Always') }), 'worker-1')).toEqual({ expected: false, leftover: false });
    expect(peersOnBgp(cluster({ vxlanMode: 'Always' }), 'worker-1')).toEqual({ expected: false, leftover: false });
  });

  it('a canary override: the canary applies its own modes, and its peers accept what it sends', () => {
    const override = { [poolModesAnnotation]: JSON.stringify({ 'default-ipv4-ippool': { ipipMode: 'Never', vxlanMode: 'Always' } }) };
    const canary = desiredDataplane(cluster({ ipipMode: 'Always' }, { w1: override }), local, undefined);
    expect(canary.pools[0]).toMatchObject({ ipipMode: 'Never', vxlanMode: 'Always' });
    const peer = desiredDataplane(cluster({ ipipMode: 'Always' }, { w2: override }), local, undefined);
    expect(peer.pools[0]).toMatchObject({ ipipMode: 'Always', vxlanMode: 'Never' });
    expect(peer.node.keepAccepting).toEqual(['VXLAN']);
    // Both for as long as the override stands: the canary's VXLAN is what its modes send, and the
    // IP-in-IP of the nodes not yet switched is what theirs send (and they route by BGP).
    expect([...encapsulationsFromPeers(cluster({ ipipMode: 'Always' }, { w2: override }), 'worker-1').expected]).toEqual(['VXLAN']);
    expect([...encapsulationsFromPeers(cluster({ ipipMode: 'Always' }, { w1: override }), 'worker-1').expected]).toEqual(['IPIP']);
    expect(canary.node.keepAccepting).toEqual(['IPIP']);
    expect(peersOnBgp(cluster({ ipipMode: 'Always' }, { w1: override }), 'worker-1')).toEqual({ expected: true, leftover: false });
  });

  it('ignores an unreadable annotation with a reason, and keeps the Node', () => {
    const node = parseCalicoNode({ metadata: { name: 'worker-2', annotations: { [poolModesAnnotation]: '{"default-ipv4-ippool":{"ipipMode":"Always","vxlanMode":"Always"}}', [encapsulationsAnnotation]: 'nope' } } });
    expect(node.poolModes).toBeUndefined();
    expect(node.encapsulations).toBeUndefined();
    expect(node.annotationProblems).toEqual([expect.stringContaining('is not JSON'), expect.stringContaining('not both')]);
    expect(() => parsePoolModesOverride('{"p":{"ipipMode":"Sometimes"}}')).toThrow(/p\.ipipMode: must be one of Never, Always, CrossSubnet/);
  });

  it('says a node has converged on a stage only with the old kind gone', () => {
    const target = { 'default-ipv4-ippool': 'VXLAN Always' as const };
    expect(hasConverged({ accepts: ['IPIP', 'VXLAN'], sends: ['VXLAN'], modes: target }, target)).toBe(false);
    expect(hasConverged({ accepts: ['VXLAN'], sends: ['VXLAN'], modes: target }, target)).toBe(true);
    expect(hasConverged({ accepts: ['VXLAN'], sends: ['VXLAN'], modes: { 'default-ipv4-ippool': 'IPIP Always' } }, target)).toBe(false);
    expect(hasConverged(undefined, target)).toBe(false);
  });
});
