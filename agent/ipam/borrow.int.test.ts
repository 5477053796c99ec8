// Borrowing and releasing blocks, against a real kube-apiserver with Calico's own CRDs (from the
// calico module calicoctl is built from, IPAMConfig among them), read back by calicoctl v3.31.0:
// a node whose pool has no free block borrows an address from another node's block (not with
// strictAffinity), and `calicoctl ipam check` finds 0 problems with borrowed addresses; an empty
// block whose pool no longer selects its node is released; an empty block without affinity goes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calicoctl } from '../../lab/calicoctl/calicoctl.ts';
import { handleIds, parseIPPool, type BlockAffinity, type IPAMBlock, type IPPool } from '../../shared/model/index.ts';
import { blockAffinityName, blockName } from '../../shared/net/index.ts';
import { KubeClient } from '../datastore/kube-client.ts';
import { ipPool, nodeObject, startCalicoTestCluster, type TestCluster } from '../../lab/testing/test-cluster.ts';
import { Ipam, IpamError } from './ipam.ts';

let cluster: TestCluster;
let client: KubeClient;
const nodes = ['worker-1', 'worker-2', 'worker-3'];

const crd = (kind: string, name: string) => ({ apiVersion: 'crd.projectcalico.org/v1', kind, metadata: { name } });
const get = <T>(kind: string, name: string) => client.get<T>(crd(kind, name));
const list = async <T>(kind: string) => (await client.list<T>('crd.projectcalico.org/v1', kind)).items;
async function pool(name: string): Promise<IPPool> {
  return parseIPPool(await get(`IPPool`, name));
}
const attrs = (pod: string, node: string) => ({ namespace: 'default', node, pod, timestamp: new Date().toISOString() });
// With the annotations Calico's CNI plugin (and Gingham's) writes: where calicoctl finds pods' addresses.
const podObject = (name: string, node: string, ip: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', annotations: { 'cni.projectcalico.org/podIP': `${ip}/32`, 'cni.projectcalico.org/podIPs': `${ip}/32` } },
  spec: { nodeName: node, containers: [{ name: 'web', image: 'nginx' }] },
});
async function check(): Promise<string> {
  const result = await calicoctl(cluster.plane.kubeconfig, ['ipam', 'check', '--show-problem-ips']);
  expect(result.code, result.stderr + result.stdout).toBe(0);
  return result.stdout;
}

beforeAll(async () => {
  cluster = await startCalicoTestCluster();
  client = KubeClient.fromKubeconfigFile(cluster.plane.kubeconfig);
  await cluster.apply([
    ...nodes.map((n, i) => nodeObject(n, `10.240.1.${11 + i}/24`)),
    // Two blocks of four addresses: two nodes take them, the third has none of its own.
    ipPool('small', { cidr: '10.80.0.0/29', blockSize: 30, ipipMode: 'Always' }),
  ]);
}, 900_000);
afterAll(() => cluster?.down());

describe('IPAM when the pool runs out of blocks', () => {
  it('borrows an address from another node’s block, and calicoctl ipam check finds 0 problems', async () => {
    const small = await pool('small');
    const a = await new Ipam(client, 'worker-1').assign(handleIds.pod('own0001'), attrs('pod-1', 'worker-1'), [small]);
    const b = await new Ipam(client, 'worker-2').assign(handleIds.pod('own0002'), attrs('pod-2', 'worker-2'), [small]);
    expect([a.block, b.block].sort()).toEqual(['10.80.0.0/30', '10.80.0.4/30']);
    expect(a.borrowed ?? false).toBe(false);

    const ipam3 = new Ipam(client, 'worker-3');
    const borrowed = await ipam3.assign(handleIds.pod('borrow01'), attrs('pod-3', 'worker-3'), [small]);
    expect(borrowed.borrowed).toBe(true);
    expect(['10.80.0.0/30', '10.80.0.4/30']).toContain(borrowed.block);
    // The block stays its owner's; the allocation records the borrower, as Calico's does.
    const block = (await get<IPAMBlock>('IPAMBlock', blockName(borrowed.block)))!;
    expect(block.spec.affinity).not.toBe('host:worker-3');
    const index = block.spec.allocations[Number(borrowed.address.split('.')[3]) % 4]!;
    expect(block.spec.attributes[index!]).toMatchObject({ handle_id: 'k8s-pod-network.borrow01', secondary: { node: 'worker-3', pod: 'pod-3' } });
    expect(await list<BlockAffinity>('BlockAffinity')).toHaveLength(2);

    await cluster.apply([podObject('pod-1', 'worker-1', a.address), podObject('pod-2', 'worker-2', b.address), podObject('pod-3', 'worker-3', borrowed.address)]);
    const report = await check();
    console.log(`calicoctl ipam check (one borrowed address):\n${report}`);
    expect(report).toMatch(/Found 3 workload IPs/);
    expect(report).toMatch(/Check complete; found 0 problems\./);
    const shown = await calicoctl(cluster.plane.kubeconfig, ['ipam', 'show', '--show-borrowed']);
    expect(shown.stdout).toContain(borrowed.address);
    expect(shown.stdout).toContain('worker-3');

    // Releasing the borrowed address frees it in the owner's block, which stays the owner's.
    expect(await ipam3.release(handleIds.pod('borrow01'))).toEqual([borrowed.address]);
    expect((await get<IPAMBlock>('IPAMBlock', blockName(borrowed.block)))!.spec.affinity).toBe(block.spec.affinity);
    await cluster.kubectl(['delete', 'pod', 'pod-3', '--grace-period=0', '--force']);
  }, 120_000);

  it('does not borrow with strictAffinity, and says why', async () => {
    const small = await pool('small');
    await cluster.apply([{ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPAMConfig', metadata: { name: 'default' }, spec: { strictAffinity: true, autoAllocateBlocks: true } }]);
    const ipam3 = new Ipam(client, 'worker-3');
    expect(await ipam3.config()).toEqual({ strictAffinity: true });
    await expect(ipam3.assign(handleIds.pod('strict01'), attrs('pod-x', 'worker-3'), [small])).rejects.toThrow(/strictAffinity/);
    expect(await get('IPAMHandle', 'k8s-pod-network.strict01')).toBeUndefined();
    await cluster.kubectl(['delete', 'ipamconfigs.crd.projectcalico.org', 'default']);
    expect(await ipam3.config()).toEqual({ strictAffinity: false });
  }, 60_000);

  it('says so when every address of the pool is in use', async () => {
    const small = await pool('small');
    const ipam3 = new Ipam(client, 'worker-3');
    // 8 addresses, 2 held: 6 more fit (all borrowed), the next does not.
    for (let i = 0; i < 6; i++) expect((await ipam3.assign(handleIds.pod(`fill${i}`), attrs(`fill-${i}`, 'worker-3'), [small])).borrowed).toBe(true);
    const error = await ipam3.assign(handleIds.pod('fill6'), attrs('fill-6', 'worker-3'), [small]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpamError);
    expect((error as Error).message).toMatch(/every address of pools small is in use/);
    for (let i = 0; i < 6; i++) await ipam3.release(handleIds.pod(`fill${i}`));
  }, 60_000);
});

describe('IPAM releasing blocks', () => {
  it('releases an empty block whose pool no longer selects the node, once its last address is freed', async () => {
    await cluster.apply([ipPool('moving', { cidr: '10.90.0.0/24', blockSize: 26, nodeSelector: "kubernetes.io/hostname == 'worker-1'" })]);
    const ipam1 = new Ipam(client, 'worker-1');
    const first = await ipam1.assign(handleIds.pod('move0001'), attrs('m-1', 'worker-1'), [await pool('moving')]);
    expect(first.block).toBe('10.90.0.0/26');
    // The pool moves to worker-2: worker-1's block is no longer fit, but holds an address.
    await cluster.apply([ipPool('moving', { cidr: '10.90.0.0/24', blockSize: 26, nodeSelector: "kubernetes.io/hostname == 'worker-2'" })]);
    const moved = await pool('moving');
    const labels = { 'kubernetes.io/hostname': 'worker-1' };
    const blocksOf1 = async () => (await list<IPAMBlock>('IPAMBlock')).filter((b) => b.spec.cidr.startsWith('10.90.'));
    expect(await ipam1.releaseUnfitEmptyBlocks(await blocksOf1(), [moved], labels)).toEqual([]);
    expect(await get('IPAMBlock', blockName('10.90.0.0/26'))).toBeDefined();
    // A block that still fits is never released, even when empty.
    expect(await ipam1.releaseUnfitEmptyBlocks(await blocksOf1(), [await pool('small')], labels)).toEqual([]);

    await ipam1.release(handleIds.pod('move0001'));
    expect(await ipam1.releaseUnfitEmptyBlocks(await blocksOf1(), [moved], labels)).toEqual(['10.90.0.0/26']);
    expect(await get('IPAMBlock', blockName('10.90.0.0/26'))).toBeUndefined();
    expect(await get('BlockAffinity', blockAffinityName('worker-1', '10.90.0.0/26'))).toBeUndefined();
    // worker-2, which the pool selects now, gets the lowest block: the one worker-1 gave back.
    expect(await new Ipam(client, 'worker-2').claimBlock(moved)).toBe('10.90.0.0/26');
    expect(await check()).toMatch(/found 0 problems/);
  }, 60_000);

  it('keeps a released block that holds addresses without affinity, and deletes it when its last address goes', async () => {
    await cluster.apply([ipPool('leaving', { cidr: '10.91.0.0/24', blockSize: 26 })]);
    const ipam1 = new Ipam(client, 'worker-1');
    const held = await ipam1.assign(handleIds.pod('leave001'), attrs('pod-l', 'worker-1'), [await pool('leaving')]);
    expect(await ipam1.releaseBlockAffinity(held.block, { mustBeEmpty: true })).toBe(false);
    expect(await ipam1.releaseBlockAffinity(held.block, { mustBeEmpty: false })).toBe(true);
    const block = (await get<IPAMBlock>('IPAMBlock', blockName(held.block)))!;
    expect(block.spec.affinity).toBeUndefined();
    expect(block.spec.allocations.filter((a) => a !== null)).toHaveLength(1);
    expect(await get('BlockAffinity', blockAffinityName('worker-1', held.block))).toBeUndefined();
    await ipam1.release(handleIds.pod('leave001'));
    expect(await get('IPAMBlock', blockName(held.block))).toBeUndefined();
    expect(await check()).toMatch(/found 0 problems/);
  }, 60_000);
});
