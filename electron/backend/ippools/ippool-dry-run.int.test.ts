// The console's IP pool writes sent first as a server-side dry run, against a real API server with
// Calico's own CRDs: the server's answer (what it would store) is shown field by field, and
// nothing is stored.
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipPool, startCalicoTestCluster, type TestCluster } from '../../../lab/testing/test-cluster.ts';
import { IPPoolStore } from './ippool-store.ts';

let cluster: TestCluster;
let store: IPPoolStore;
const seed = { cidr: '192.168.0.0/16', blockSize: 26, ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true, disabled: false } as const;

beforeAll(async () => {
  cluster = await startCalicoTestCluster();
  await cluster.apply([ipPool('default-ipv4-ippool', { cidr: seed.cidr, ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true })]);
  const config = new KubeConfig();
  config.loadFromFile(cluster.plane.kubeconfig);
  store = new IPPoolStore(config);
}, 900_000);

afterAll(async () => {
  await cluster?.down();
});

describe('IP pool changes as a server-side dry run', () => {
  it("shows the mode change as the server would store it, and stores nothing", async () => {
    const [row] = await store.list();
    const answer = await store.dryRun('default-ipv4-ippool', { ...seed, ipipMode: 'CrossSubnet' }, row!.resourceVersion);
    expect(answer.created).toBe(false);
    expect(answer.changes).toEqual([{ field: 'ipipMode', before: '"Always"', after: '"CrossSubnet"' }]);
    const [after] = await store.list();
    expect(after).toEqual(row);
  });

  it('shows a new pool whole, with what the server fills in, and creates nothing', async () => {
    const answer = await store.dryRun('other', { ...seed, cidr: '10.244.0.0/16', ipipMode: 'Never', vxlanMode: 'Always' });
    expect(answer.created).toBe(true);
    expect(answer.changes).toEqual(expect.arrayContaining([{ field: 'cidr', after: '"10.244.0.0/16"' }, { field: 'vxlanMode', after: '"Always"' }]));
    expect((await store.list()).map((p) => p.name)).toEqual(['default-ipv4-ippool']);
  });

  it('tells a dry run on a stale resourceVersion that someone changed the pool', async () => {
    const [row] = await store.list();
    await store.save('default-ipv4-ippool', { ...seed, natOutgoing: false }, row!.resourceVersion);
    await expect(store.dryRun('default-ipv4-ippool', { ...seed, ipipMode: 'CrossSubnet' }, row!.resourceVersion)).rejects.toMatchObject({ code: 'conflict' });
  });
});
