import { describe, expect, it } from 'vitest';
import { parseBGPConfiguration, parseBGPPeer, parseIPAMBlock, parseIPPool, emptyIPAMBlock } from '../../shared/model/index.ts';
import { parseInterfaceAddress } from '../../shared/net/index.ts';
import { desiredDataplane, type LocalFacts } from '../../shared/dataplane-plan/desired-state.ts';
import { allocate } from '../../shared/model/block-allocations.ts';
import type { ClusterSnapshot } from '../../shared/model/cluster-snapshot.ts';
import { announcedBlocks, bgpWanted, desiredBgp, durationSeconds } from './desired-bgp.ts';

const pool = (name: string, spec: Record<string, unknown>) => parseIPPool({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name }, spec });
const node = (name: string, address: string, extra: Record<string, unknown> = {}) => ({ name, ipv4Address: parseInterfaceAddress(address), labels: {}, ...extra });
function block(cidr: string, owner: string, pods: string[] = []) {
  let spec = emptyIPAMBlock(cidr, owner).spec;
  for (const pod of pods) spec = allocate(spec, `k8s-pod-network.${pod}`, { namespace: 'default', pod, node: owner })!.spec;
  spec = allocate(spec, `ipip-tunnel-addr-${owner}`, { node: owner, type: 'ipipTunnelAddress' })!.spec;
  return parseIPAMBlock({ ...emptyIPAMBlock(cidr, owner), kind: 'IPAMBlock', spec });
}

const local: LocalFacts = { nodeName: 'worker-1', interface: 'ens5', address: parseInterfaceAddress('10.240.1.11/24'), ipipTunnelAddress: '192.168.1.65' };
const snapshot = (pools = [pool('default', { cidr: '192.168.0.0/16', ipipMode: 'Always', natOutgoing: true })]): ClusterSnapshot => ({
  pools,
  bgpConfigurations: [],
  bgpPeers: [],
  blocks: [block('192.168.1.64/26', 'worker-1', ['pod-1']), block('192.168.2.0/26', 'worker-2'), block('192.168.3.0/26', 'worker-3')],
  nodes: [
    node('worker-1', '10.240.1.11/24'),
    node('worker-2', '10.240.1.12/24', { vxlanTunnelAddress: '192.168.2.1', vxlanTunnelMac: '66:00:00:00:00:02' }),
    node('worker-3', '10.240.2.13/24'),
    { name: 'master', labels: {} }, // no Calico address yet: not a peer
  ],
});

describe('the desired state', () => {
  it("lists every node's Calico address and InternalIP as a cluster host, nodes without a Calico address too", () => {
    const s = snapshot();
    s.nodes.push({ name: 'worker-4', ipv4Address: parseInterfaceAddress('10.240.2.14/24'), internalIP: '10.0.0.4', labels: {} }, { name: 'edge', internalIP: '10.240.9.9', labels: {} });
    expect(desiredDataplane(s, local, undefined).hosts).toEqual(['10.0.0.4', '10.240.1.11', '10.240.1.12', '10.240.2.13', '10.240.2.14', '10.240.9.9']);
  });

  it('puts own blocks, local pods from IPAM and the other nodes in the dataplane document', () => {
    const state = desiredDataplane(snapshot(), local, undefined);
    expect(state.node).toMatchObject({ name: 'worker-1', interface: 'ens5', address: '10.240.1.11/24', ipipTunnelAddress: '192.168.1.65' });
    expect(state.blocks).toEqual(['192.168.1.64/26']);
    expect(state.endpoints).toEqual([{ name: 'default/pod-1', ip: '192.168.1.64', interface: expect.stringMatching(/^cali[0-9a-f]{11}$/) }]);
    expect(state.peers.map((p) => [p.name, p.address, p.blocks])).toEqual([
      ['worker-2', '10.240.1.12/24', ['192.168.2.0/26']],
      ['worker-3', '10.240.2.13/24', ['192.168.3.0/26']],
    ]);
    expect(state.peers[0]).toMatchObject({ vxlanTunnelAddress: '192.168.2.1', vxlanMac: '66:00:00:00:00:02' });
    expect(state.bgpRoutes).toBeUndefined();
    expect(desiredDataplane(snapshot(), local, [{ cidr: '192.168.2.0/26', nextHop: '10.240.1.12' }]).bgpRoutes).toHaveLength(1);
  });

  it('meshes with every other node, announcing only its own blocks', () => {
    const bgp = desiredBgp(snapshot(), local)!;
    expect(bgp).toMatchObject({ routerId: '10.240.1.11', asn: 64512, listen: '10.240.1.11:179', announce: ['192.168.1.64/26'] });
    expect(bgp.peers.map((p) => [p.address, p.asn, p.peerType])).toEqual([
      ['10.240.1.12', 64512, 'node-to-node mesh'],
      ['10.240.2.13', 64512, 'node-to-node mesh'],
    ]);
  });

  it('follows BGPConfiguration (AS, mesh off) and adds BGPPeers that select the node', () => {
    const s = snapshot();
    s.bgpConfigurations = [parseBGPConfiguration({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { asNumber: 65000, nodeToNodeMeshEnabled: false } })];
    s.bgpPeers = [
      parseBGPPeer({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { peerIP: '10.240.1.1', asNumber: 65001 } }),
      parseBGPPeer({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name: 'other' }, spec: { peerIP: '10.240.2.1', asNumber: 65001, node: 'worker-3' } }),
      parseBGPPeer({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name: 'mine' }, spec: { peerIP: '10.240.1.2', node: local.nodeName } }),
      parseBGPPeer({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name: 'selected' }, spec: { peerIP: '10.240.1.3', nodeSelector: 'all()' } }),
    ];
    const bgp = desiredBgp(s, local)!;
    expect(bgp.asn).toBe(65000);
    // PEER TYPE as calicoctl node status shows it: global for every node, node specific with node or nodeSelector.
    expect(bgp.peers.map((p) => [p.address, p.asn, p.peerType])).toEqual([['10.240.1.1', 65001, 'global'], ['10.240.1.2', 65000, 'node specific'], ['10.240.1.3', 65000, 'node specific']]);
  });

  it('runs no BGP when every enabled pool is a VXLAN pool', () => {
    const vxlanOnly = [pool('v', { cidr: '192.168.0.0/16', vxlanMode: 'Always' }), pool('old', { cidr: '10.0.0.0/16', disabled: true })];
    expect(bgpWanted(vxlanOnly)).toBe(false);
    expect(desiredBgp(snapshot(vxlanOnly), local)).toBeUndefined();
    expect(bgpWanted([...vxlanOnly, pool('direct', { cidr: '10.1.0.0/16' })])).toBe(true);
  });

  it('does not announce blocks of pools that are kept out of BGP', () => {
    const bgp = desiredBgp(snapshot([pool('default', { cidr: '192.168.0.0/16', disableBGPExport: true })]), local)!;
    expect(bgp.announce).toEqual([]);
  });

  it('maps a BGPPeer’s per-peer fields into the speaker’s peer, as confd renders them for BIRD', () => {
    const s = snapshot();
    const bgpPeer = (name: string, spec: Record<string, unknown>) => parseBGPPeer({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name }, spec });
    s.bgpPeers = [
      bgpPeer('tor', { peerIP: '10.240.1.1:1790', asNumber: 65001, keepaliveTime: '20s', maxRestartTime: '2m', sourceAddress: 'None', nextHopMode: 'Self' }),
      bgpPeer('rr', { peerIP: '10.240.1.2', keepOriginalNextHop: true }),
      bgpPeer('plain', { peerIP: '10.240.1.3', sourceAddress: 'UseNodeIP' }),
    ];
    const peers = desiredBgp(s, local)!.peers;
    const byAddress = (a: string) => peers.find((p) => p.address === a)!;
    // eBGP: Calico's BIRD imports everything and exports the node's routes; the speaker's RFC 8212 default would be none.
    expect(byAddress('10.240.1.1')).toMatchObject({ port: 1790, asn: 65001, keepaliveTime: 20, restartTime: 120, sourceAddress: 'none', nextHop: 'self', import: 'all', export: 'announced', description: 'BGPPeer tor' });
    expect(byAddress('10.240.1.2')).toMatchObject({ asn: 64512, nextHop: 'keep' });
    expect(byAddress('10.240.1.2').import).toBeUndefined();
    const plain = byAddress('10.240.1.3');
    expect(plain.sourceAddress).toBeUndefined();
    expect(plain.keepaliveTime).toBeUndefined();
    expect(plain.nextHop).toBe('auto');
  });

  it('a BGPPeer keepaliveTime at or over our 90 s hold time raises that peer\'s hold time to three of them (BIRD holds 240 s), not refused', () => {
    const s = snapshot();
    s.bgpPeers = [parseBGPPeer({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name: 'slow' }, spec: { peerIP: '10.240.1.5', keepaliveTime: '100s' } })];
    const peer = desiredBgp(s, local)!.peers.find((p) => p.address === '10.240.1.5')!;
    expect(peer).toMatchObject({ keepaliveTime: 100, holdTime: 300 });
  });

  it('gives a BGPPeer its password from the Secret, and leaves it out while the password is not known', () => {
    const s = snapshot();
    const withSecret = (name: string, peerIP: string, optional?: boolean) =>
      parseBGPPeer({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name }, spec: { peerIP, password: { secretKeyRef: { name: 'bgp-secrets', key: name, ...(optional ? { optional } : {}) } } } });
    s.bgpPeers = [withSecret('known', '10.240.1.1'), withSecret('forbidden', '10.240.1.2'), withSecret('unread', '10.240.1.3'), withSecret('optional-missing', '10.240.1.4', true)];
    const peers = desiredBgp(s, local, { passwords: new Map([['known', 's3cret']]), problems: new Map([['forbidden', 'the agent may not read Secret gingham-system/bgp-secrets']]) })!.peers;
    const byName = Object.fromEntries(peers.filter((p) => p.description?.startsWith('BGPPeer')).map((p) => [p.description, p.password ?? null]));
    // 'unread': not read yet (no value, no problem) and not optional: left out until it is.
    expect(byName).toEqual({ 'BGPPeer known': 's3cret', 'BGPPeer optional-missing': null });
  });

  it('reads Go durations as whole seconds', () => {
    expect(durationSeconds('90s')).toBe(90);
    expect(durationSeconds('1m30s')).toBe(90);
    expect(durationSeconds('1h')).toBe(3600);
    expect(durationSeconds('1500ms')).toBe(2);
    expect(durationSeconds('10ms')).toBe(1);
  });

  it('treats an address borrowed from another node’s block as a pod of the borrower: its endpoint, announced as a /32', () => {
    const s = snapshot();
    // worker-1 borrowed the next address of worker-2's block for pod-b.
    const lender = s.blocks[1]!;
    const spec = allocate(lender.spec, 'k8s-pod-network.podb', { namespace: 'default', pod: 'pod-b', node: 'worker-1' })!.spec;
    s.blocks[1] = parseIPAMBlock({ ...lender, kind: 'IPAMBlock', spec });
    const borrowed = '192.168.2.1';
    const mine = desiredDataplane(s, local, undefined);
    expect(mine.endpoints.map((e) => [e.name, e.ip])).toEqual([
      ['default/pod-1', '192.168.1.64'],
      ['default/pod-b', borrowed],
    ]);
    expect(announcedBlocks(s, 'worker-1')).toEqual(['192.168.1.64/26', `${borrowed}/32`]);
    // The lender neither counts it as its own pod nor announces it.
    const lenderView = desiredDataplane(s, { ...local, nodeName: 'worker-2', address: parseInterfaceAddress('10.240.1.12/24') }, undefined);
    expect(lenderView.endpoints.map((e) => e.ip)).not.toContain(borrowed);
    expect(announcedBlocks(s, 'worker-2')).toEqual(['192.168.2.0/26']);
    // Every other node routes it to the borrower (what VXLAN needs, with no BGP to announce it).
    expect(lenderView.peers.find((p) => p.name === 'worker-1')?.borrowed).toEqual([`${borrowed}/32`]);
  });
});
