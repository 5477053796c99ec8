// Calico's own CLI reads what Gingham wrote as Calico's: on a cluster with Calico's own CRDs
// (from the calico module calicoctl is built from), Gingham's agent code claims blocks, takes
// tunnel addresses and, through its CNI plugin run as a runtime runs it, pod addresses; then
// `calicoctl get ippool`, `get nodes`, `ipam show --show-blocks` and `ipam check` (0 problems).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPlugin } from '../../agent/cni/testing/runtime.ts';
import { KubeClient } from '../../agent/datastore/kube-client.ts';
import { ipPool, nodeObject, startCalicoTestCluster, type TestCluster } from '../testing/test-cluster.ts';
import { NodeNetwork } from '../testing/node-network.ts';
import { Ipam } from '../../agent/ipam/ipam.ts';
import { agentManifests } from '../../agent/manifests/manifests.ts';
import { reconcileTunnelAddresses } from '../../agent/run/tunnel-addresses.ts';
import { calicoKinds } from '../../shared/model/calico-kinds.ts';
import { parseIPPool } from '../../shared/model/ippool.ts';
import { calicoctl } from './calicoctl.ts';

let network: NodeNetwork;
let cluster: TestCluster;
const ok = async (args: string[]) => {
  const result = await calicoctl(cluster.plane.kubeconfig, args);
  expect(result.code, `calicoctl ${args.join(' ')}: ${result.stderr}${result.stdout}`).toBe(0);
  return result.stdout;
};

beforeAll(async () => {
  network = await NodeNetwork.create(3, ['worker-1', 'worker-2']);
  cluster = await startCalicoTestCluster({ address: network.hostIp });
  await cluster.apply([
    ...network.nodes.map((n) => nodeObject(n.name, n.address)),
    ipPool('default-ipv4-ippool', { cidr: '192.168.0.0/16', ipipMode: 'Always', natOutgoing: true, vxlanMode: 'Never' }),
    ...['pod-1', 'pod-2', 'pod-gone'].map((name, i) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default' },
      spec: { nodeName: network.nodes[i % 2]!.name, containers: [{ name: 'web', image: 'nginx' }] },
    })),
  ]);
}, 900_000);

afterAll(async () => {
  await cluster?.down();
  await network?.destroy();
});

describe('calicoctl on what Gingham wrote', () => {
  it('the manifests leave a cluster’s existing Calico CRDs alone, and add only the missing ones', () => {
    const crdNames = (existing: ReadonlySet<string>) =>
      agentManifests({ existingCrds: existing })
        .filter((o) => (o as { kind: string }).kind === 'CustomResourceDefinition')
        .map((o) => (o as { metadata: { name: string } }).metadata.name)
        .filter((name) => name.endsWith('.crd.projectcalico.org'));
    const all = new Set(calicoKinds.map((k) => `${k.plural}.crd.projectcalico.org`));
    expect(crdNames(all)).toEqual([]);
    // A cluster with an older, partial set (IPAM and BGP only) gets the rest, and none of its own replaced.
    const partial = new Set(['ippools', 'bgpconfigurations', 'bgppeers', 'ipamblocks', 'blockaffinities', 'ipamhandles', 'ipamconfigs'].map((p) => `${p}.crd.projectcalico.org`));
    const added = crdNames(partial);
    expect(added.filter((name) => partial.has(name))).toEqual([]);
    expect(new Set([...added, ...partial])).toEqual(all);
  });

  it('reads the blocks, tunnel addresses and pod addresses as Calico’s, with 0 problems', async () => {
    const client = KubeClient.fromKubeconfigFile(cluster.plane.kubeconfig);
    const pool = parseIPPool(await client.get({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'default-ipv4-ippool' } }));
    for (const node of network.nodes) {
      await reconcileTunnelAddresses(client, new Ipam(client, node.name), [pool], {}, {});
    }
    const config = (node: string) => ({ cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'gingham', kubeconfig: cluster.plane.kubeconfig, nodename: node });
    for (const [i, pod] of ['pod-1', 'pod-2', 'pod-gone'].entries()) {
      const node = network.nodes[i % 2]!;
      const netns = await network.addPod(pod);
      const add = await runPlugin(node.netns, { command: 'ADD', containerId: `c${i}0000`, netns: `/var/run/netns/${netns}`, pod }, config(node.name));
      expect(add.code, add.stdout + add.stderr).toBe(0);
    }
    // One pod goes away again: DEL frees its address, the Pod object is deleted.
    const del = await runPlugin(network.nodes[0]!.netns, { command: 'DEL', containerId: 'c20000', netns: `/var/run/netns/gk8s${network.id}-pod-pod-gone`, pod: 'pod-gone' }, config('worker-1'));
    expect(del.code, del.stdout).toBe(0);
    await cluster.kubectl(['delete', 'pod', 'pod-gone', '--grace-period=0', '--force']);

    const pools = await ok(['get', 'ippool', '-o', 'wide']);
    expect(pools).toMatch(/default-ipv4-ippool\s+192\.168\.0\.0\/16\s+true\s+Always\s+Never\s+false\s+false\s+all\(\)/);
    const nodes = await ok(['get', 'nodes', '-o', 'wide']);
    expect(nodes).toMatch(/worker-1\s+\(64512\)\s+10\.178\.3\.11\/24/);
    const blocks = await ok(['ipam', 'show', '--show-blocks']);
    expect(blocks).toMatch(/Block\s+\|\s+192\.168\.0\.0\/26\s+\|\s+64\s+\|\s+2 \(3%\)/);
    expect(blocks).toMatch(/Block\s+\|\s+192\.168\.0\.64\/26\s+\|\s+64\s+\|\s+2 \(3%\)/);
    const check = await ok(['ipam', 'check', '--show-problem-ips']);
    console.log(['calicoctl get ippool -o wide', pools, 'calicoctl get nodes -o wide', nodes, 'calicoctl ipam show --show-blocks', blocks, 'calicoctl ipam check', check].join('\n'));
    expect(check).toMatch(/IPAM blocks record 4 allocations/);
    expect(check).toMatch(/Found 2 node tunnel IPs/);
    expect(check).toMatch(/Found 2 workload IPs/);
    expect(check).toMatch(/Check complete; found 0 problems\./);
  }, 120_000);

  it('and calicoctl ipam check does see a leak when there is one', async () => {
    // An allocation whose pod never existed: what a crashed CNI ADD would leave.
    const client = KubeClient.fromKubeconfigFile(cluster.plane.kubeconfig);
    const pool = parseIPPool(await client.get({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'default-ipv4-ippool' } }));
    const ipam = new Ipam(client, 'worker-2');
    await ipam.assign('k8s-pod-network.deadbeef', { namespace: 'default', pod: 'ghost', node: 'worker-2' }, [pool]);
    expect(await ok(['ipam', 'check'])).toMatch(/found 1 problems/);
    await ipam.release('k8s-pod-network.deadbeef');
    expect(await ok(['ipam', 'check'])).toMatch(/found 0 problems/);
  }, 60_000);
});
