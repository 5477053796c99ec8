// IPAM against a real kube-apiserver: blocks claimed with Calico's three objects, nodes racing
// for blocks and for addresses, tunnel and pod addresses, release.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockAffinityName, blockName } from '../../shared/net/index.ts';
import { handleIds, parseIPPool, type BlockAffinity, type IPAMBlock, type IPAMHandle, type IPPool } from '../../shared/model/index.ts';
import type { KubeApi } from '../datastore/kube-api.ts';
import { KubeClient } from '../datastore/kube-client.ts';
import { ipPool, nodeObject, startTestCluster, type TestCluster } from '../../lab/testing/test-cluster.ts';
import { Ipam } from './ipam.ts';

let cluster: TestCluster;
let client: KubeClient;

beforeAll(async () => {
  cluster = await startTestCluster();
  client = KubeClient.fromKubeconfigFile(cluster.plane.kubeconfig);
  await cluster.apply(['worker-1', 'worker-2', 'worker-3', 'worker-4'].map((n, i) => nodeObject(n, `10.240.1.${11 + i}/24`)));
}, 600_000);
afterAll(() => cluster?.down());

const crd = (kind: string, name: string) => ({ apiVersion: 'crd.projectcalico.org/v1', kind, metadata: { name } });
const get = <T>(kind: string, name: string) => client.get<T>(crd(kind, name));
async function createPool(name: string, spec: Record<string, unknown>): Promise<IPPool> {
  await cluster.apply([ipPool(name, spec)]);
  return parseIPPool((await get(`IPPool`, name))!);
}
const list = async <T>(kind: string) => (await client.list<T>('crd.projectcalico.org/v1', kind)).items;

describe('IPAM', () => {
  it('claims a block as Calico does, hands out pod addresses and frees them', async () => {
    const pool = await createPool('pods', { cidr: '192.168.0.0/16', ipipMode: 'Always' });
    const ipam = new Ipam(client, 'worker-1');
    const attrs = (pod: string) => ({ namespace: 'default', node: 'worker-1', pod, timestamp: new Date().toISOString() });
    const first = await ipam.assign(handleIds.pod('c0ffee01'), attrs('pod-1'), [pool]);
    const second = await ipam.assign(handleIds.pod('c0ffee02'), attrs('pod-2'), [pool]);
    expect(first).toEqual({ address: '192.168.0.0', block: '192.168.0.0/26', pool: 'pods' });
    expect(second.address).toBe('192.168.0.1');

    const block = (await get<IPAMBlock>('IPAMBlock', blockName('192.168.0.0/26')))!;
    expect(block.spec).toMatchObject({ cidr: '192.168.0.0/26', affinity: 'host:worker-1', strictAffinity: false });
    expect(block.spec.allocations.slice(0, 3)).toEqual([0, 1, null]);
    expect(block.spec.attributes[0]).toMatchObject({ handle_id: 'k8s-pod-network.c0ffee01', secondary: { pod: 'pod-1', namespace: 'default' } });
    const affinity = (await get<BlockAffinity>('BlockAffinity', blockAffinityName('worker-1', '192.168.0.0/26')))!;
    expect(affinity.spec).toEqual({ node: 'worker-1', cidr: '192.168.0.0/26', state: 'confirmed', deleted: 'false' });
    const handle = (await get<IPAMHandle>('IPAMHandle', 'k8s-pod-network.c0ffee01'))!;
    expect(handle.spec).toMatchObject({ handleID: 'k8s-pod-network.c0ffee01', block: { '192.168.0.0/26': 1 } });

    expect(await ipam.addressesOf(handleIds.pod('c0ffee02'))).toMatchObject([{ address: '192.168.0.1' }]);
    expect(await ipam.release(handleIds.pod('c0ffee01'))).toEqual(['192.168.0.0']);
    expect(await get('IPAMHandle', 'k8s-pod-network.c0ffee01')).toBeUndefined();
    const after = (await get<IPAMBlock>('IPAMBlock', blockName('192.168.0.0/26')))!;
    expect(after.spec.allocations[0]).toBeNull();
    expect(after.spec.unallocated.at(-1)).toBe(0);
    // Releasing twice is harmless.
    expect(await ipam.release(handleIds.pod('c0ffee01'))).toEqual([]);
    await ipam.release(handleIds.pod('c0ffee02'));
  });

  it('gives four nodes racing for blocks four different blocks, each with one confirmed affinity', async () => {
    const pool = await createPool('race', { cidr: '10.50.0.0/24', blockSize: 26 });
    const nodes = ['worker-1', 'worker-2', 'worker-3', 'worker-4'];
    const claims = await Promise.all(nodes.map((node) => new Ipam(client, node).claimBlock(pool)));
    expect(new Set(claims).size).toBe(4);
    const blocks = (await list<IPAMBlock>('IPAMBlock')).filter((b) => b.spec.cidr.startsWith('10.50.'));
    expect(blocks.map((b) => b.spec.affinity).sort()).toEqual(nodes.map((n) => `host:${n}`));
    const affinities = (await list<BlockAffinity>('BlockAffinity')).filter((a) => a.spec.cidr.startsWith('10.50.'));
    expect(affinities.map((a) => `${a.spec.node} ${a.spec.cidr} ${a.spec.state}`).sort()).toEqual(
      blocks.map((b) => `${b.spec.affinity!.slice(5)} ${b.spec.cidr} confirmed`).sort(),
    );
    // The pool is full now: a fifth claim finds nothing.
    expect(await new Ipam(client, 'worker-1').claimBlock(pool)).toBeUndefined();
  });

  it('never gives one address twice when allocations on one node race (as parallel CNI calls do)', async () => {
    const pool = await createPool('busy', { cidr: '10.60.0.0/24', blockSize: 30 });
    // One Ipam per call, as separate CNI processes would be.
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => new Ipam(client, 'worker-2').assign(handleIds.pod(`busy${i}`), { namespace: 'default', pod: `p${i}`, node: 'worker-2' }, [pool])),
    );
    const addresses = results.map((r) => r.address);
    expect(new Set(addresses).size).toBe(6);
    // 6 addresses need two /30 blocks, both this node's.
    const blocks = (await list<IPAMBlock>('IPAMBlock')).filter((b) => b.spec.cidr.startsWith('10.60.'));
    expect(blocks.map((b) => b.spec.affinity)).toEqual(['host:worker-2', 'host:worker-2']);
    expect(blocks.flatMap((b) => b.spec.allocations.filter((a) => a !== null))).toHaveLength(6);
    const handles = (await list<IPAMHandle>('IPAMHandle')).filter((h) => h.spec.handleID.startsWith('k8s-pod-network.busy'));
    expect(handles.map((h) => Object.values(h.spec.block).reduce((a, b) => a + b, 0))).toEqual(Array(6).fill(1));
    const ipam = new Ipam(client, 'worker-2');
    for (let i = 0; i < 6; i++) await ipam.release(handleIds.pod(`busy${i}`));
  }, 60_000);

  it('assigns from a watch cache without a list call, and a stale cache costs a conflict, never an address given twice', async () => {
    const pool = await createPool('cached', { cidr: '10.80.0.0/24', blockSize: 26 });
    const attrs = (pod: string) => ({ namespace: 'default', node: 'worker-4', pod });
    const plain = new Ipam(client, 'worker-4');
    expect((await plain.assign(handleIds.pod('cache0'), attrs('p0'), [pool])).address).toBe('10.80.0.0');
    // The cache as read now; then another process (a CNI call) takes the next address behind it.
    const stale = (await list<IPAMBlock>('IPAMBlock')).filter((b) => b.spec.cidr.startsWith('10.80.'));
    expect((await plain.assign(handleIds.pod('cache1'), attrs('p1'), [pool])).address).toBe('10.80.0.1');
    const lists: string[] = [];
    const counting: KubeApi = {
      get: (ref) => client.get(ref),
      list: (apiVersion, kind) => (lists.push(kind), client.list(apiVersion, kind)),
      create: (object) => client.create(object),
      replace: (object) => client.replace(object),
      mergePatch: (ref, patch) => client.mergePatch(ref, patch),
      delete: (ref) => client.delete(ref),
    };
    const cached = new Ipam(counting, 'worker-4', () => {}, { cachedBlocks: () => stale });
    const third = await cached.assign(handleIds.pod('cache2'), attrs('p2'), [pool]);
    // The stale block said .1 was free: its write was refused (409), the fresh list gave .2.
    expect(third.address).toBe('10.80.0.2');
    expect(lists).toEqual(['IPAMBlock']);
    // A cache that is current needs no list at all.
    const current = (await list<IPAMBlock>('IPAMBlock')).filter((b) => b.spec.cidr.startsWith('10.80.'));
    lists.length = 0;
    const fresh = new Ipam(counting, 'worker-4', () => {}, { cachedBlocks: () => current });
    expect((await fresh.assign(handleIds.pod('cache3'), attrs('p3'), [pool])).address).toBe('10.80.0.3');
    expect(lists).toEqual([]);
    expect(fresh.cacheShowsHeld(handleIds.pod('cache2'), '10.80.0.2')).toBe(true);
    expect(fresh.cacheShowsHeld(handleIds.pod('cache2'), '10.80.0.3')).toBe(false);
    const block = (await get<IPAMBlock>('IPAMBlock', blockName('10.80.0.0/26')))!;
    expect(block.spec.allocations.slice(0, 5)).toEqual([0, 1, 2, 3, null]);
    const handles = (await list<IPAMHandle>('IPAMHandle')).filter((h) => h.spec.handleID.startsWith('k8s-pod-network.cache'));
    expect(handles.map((h) => `${h.spec.handleID} ${JSON.stringify(h.spec.block)}`).sort()).toEqual([0, 1, 2, 3].map((i) => `k8s-pod-network.cache${i} {"10.80.0.0/26":1}`));
    for (let i = 0; i < 4; i++) await plain.release(handleIds.pod(`cache${i}`));
  });

  it('takes a tunnel address only from pools that allow tunnels and select the node', async () => {
    const pool = await createPool('tunnels', { cidr: '10.70.0.0/24', nodeSelector: "kubernetes.io/hostname == 'worker-3'", allowedUses: ['Tunnel'] });
    const ipam = new Ipam(client, 'worker-3');
    expect(ipam.usablePools([pool], { 'kubernetes.io/hostname': 'worker-3' }, 'Tunnel')).toHaveLength(1);
    expect(ipam.usablePools([pool], { 'kubernetes.io/hostname': 'worker-3' }, 'Workload')).toHaveLength(0);
    expect(ipam.usablePools([pool], { 'kubernetes.io/hostname': 'worker-4' }, 'Tunnel')).toHaveLength(0);
    const tunnel = await ipam.assign(handleIds.ipipTunnel('worker-3'), { node: 'worker-3', type: 'ipipTunnelAddress' }, [pool]);
    expect(tunnel.address).toBe('10.70.0.0');
    expect((await get<IPAMHandle>('IPAMHandle', 'ipip-tunnel-addr-worker-3'))?.spec.block).toEqual({ '10.70.0.0/26': 1 });
  });
});
