// The cluster's side of the doctor's evidence, read from a real kube-apiserver with Calico's own
// CRDs: Nodes with Calico's annotations, IPPools (one that another client stored past Calico's
// loose schema is left out with the reason, not fatal to the trace), Pods with their addresses,
// BGPPeers (a peerIP with a port, as Calico allows, read as the address).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { calicoModuleCrdsDir } from '../../../lab/calicoctl/build.ts';
import { startTestCluster, type TestCluster } from '../../../lab/testing/test-cluster.ts';
import { readClusterFacts } from './collect-evidence.ts';

let cluster: TestCluster;


beforeAll(async () => {
  const crdDir = await calicoModuleCrdsDir();
  const crds = readdirSync(crdDir)
    .filter((f) => f.startsWith('crd.projectcalico.org_'))
    .flatMap((f) => parseAllDocuments(readFileSync(path.join(crdDir, f), 'utf8')).map((d) => d.toJS() as unknown))
    .filter(Boolean);
  cluster = await startTestCluster({ crds });
  const nodes = [
    { name: 'worker-1', address: '10.240.1.11', annotations: { 'projectcalico.org/IPv4Address': '10.240.1.11/24', 'projectcalico.org/IPv4IPIPTunnelAddr': '192.168.0.128' } },
    { name: 'worker-3', address: '10.240.2.13', annotations: { 'projectcalico.org/IPv4Address': '10.240.2.13/32', 'projectcalico.org/IPv4VXLANTunnelAddr': '192.168.0.192', 'projectcalico.org/VXLANTunnelMACAddr': '66:93:7f:54:d5:53' } },
  ];
  await cluster.apply(nodes.map((n) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: n.name, annotations: n.annotations } })));
  for (const n of nodes) {
    await cluster.kubectl(['patch', 'node', n.name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { addresses: [{ type: 'InternalIP', address: n.address }] } })]);
  }
  await cluster.apply([
    { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'default-ipv4-ippool' }, spec: { cidr: '192.168.0.0/16', blockSize: 26, ipipMode: 'CrossSubnet', natOutgoing: true, nodeSelector: 'all()' } },
    { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'typo' }, spec: { cidr: '10.0.0.0/33', ipipMode: 'Always' } },
    { apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { peerIP: '10.240.1.1:179', asNumber: 64512, node: 'worker-1' } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pod-1', namespace: 'default' }, spec: { nodeName: 'worker-1', containers: [{ name: 'web', image: 'web' }] } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pending', namespace: 'default' }, spec: { containers: [{ name: 'web', image: 'web' }] } },
  ]);
  await cluster.kubectl(['patch', 'pod', 'pod-1', '-n', 'default', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase: 'Running', podIP: '192.168.0.129', podIPs: [{ ip: '192.168.0.129' }] } })]);
}, 300_000);

afterAll(async () => {
  await cluster?.down();
});

describe("the doctor's cluster facts", () => {
  it('reads nodes, pools, pods and BGPPeers as the trace needs them; a pool the model refuses is left out with why', async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.plane.kubeconfig);
    const facts = await readClusterFacts(kubeConfig);
    expect(facts.nodes).toEqual([
      { name: 'worker-1', internalIp: '10.240.1.11', ipv4Address: '10.240.1.11/24', ipipTunnelAddress: '192.168.0.128' },
      { name: 'worker-3', internalIp: '10.240.2.13', ipv4Address: '10.240.2.13/32', vxlanTunnelAddress: '192.168.0.192', vxlanMac: '66:93:7f:54:d5:53' },
    ]);
    expect(facts.pools).toEqual([{ name: 'default-ipv4-ippool', cidr: '192.168.0.0/16', ipipMode: 'CrossSubnet', vxlanMode: 'Never', natOutgoing: true, disabled: false }]);
    expect(facts.unreadPools).toHaveLength(1);
    expect(facts.unreadPools[0]!.name).toBe('typo');
    expect(facts.unreadPools[0]!.reason).toMatch(/cidr/);
    // The pending pod (no node, no address) is no end of a trace.
    expect(facts.pods).toEqual([{ name: 'pod-1', namespace: 'default', node: 'worker-1', ip: '192.168.0.129' }]);
    expect(facts.bgpPeers).toEqual([{ name: 'tor', peerIP: '10.240.1.1', node: 'worker-1' }]);
  }, 60_000);
});
