// The datastore against a real kube-apiserver: list+watch, watches resumed when the server ends
// them, a full relist after 410 Gone, the last known state kept through an outage, and the
// node's own annotations written, and a full resync when the server comes back with an older
// history (its etcd restored from a backup).
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlPlaneDown, controlPlaneUp } from '../../lab/controlplane/controlplane.ts';
import { calicoAnnotations } from '../../shared/model/calico-node.ts';
import { Datastore } from './datastore.ts';
import { KubeClient } from './kube-client.ts';
import { writeOwnAnnotations } from './node-annotations.ts';
import { eventually, ipPool, nodeObject, startTestCluster, type TestCluster } from '../../lab/testing/test-cluster.ts';

let cluster: TestCluster;
let datastore: Datastore;
const logs: string[] = [];

beforeAll(async () => {
  cluster = await startTestCluster();
  await cluster.apply([
    nodeObject('worker-1', '10.240.1.11/24', { zone: 'a' }),
    nodeObject('worker-2', '10.240.1.12/24'),
    ipPool('default-ipv4-ippool', { cidr: '192.168.0.0/16', ipipMode: 'Always', natOutgoing: true }),
  ]);
  // The server ends every watch after 1 s, so the test sees many resumptions.
  datastore = new Datastore(KubeClient.fromKubeconfigFile(cluster.plane.kubeconfig), { watchTimeoutSeconds: 1, log: (m) => logs.push(m) });
  datastore.start();
  await datastore.waitForSync();
}, 600_000);

afterAll(async () => {
  await datastore?.stop();
  await cluster?.down();
});

const poolMode = () => datastore.snapshot().pools.find((p) => p.metadata.name === 'default-ipv4-ippool')?.spec.ipipMode;

describe('the datastore', () => {
  it('lists pools and nodes with their Calico facts and labels', () => {
    const snapshot = datastore.snapshot();
    expect(snapshot.pools.map((p) => [p.spec.cidr, p.spec.ipipMode, p.spec.natOutgoing])).toEqual([['192.168.0.0/16', 'Always', true]]);
    const worker1 = snapshot.nodes.find((n) => n.name === 'worker-1')!;
    expect(worker1.ipv4Address).toEqual({ address: 0x0af0010b, prefixLength: 24 });
    expect(worker1.labels.zone).toBe('a');
  });

  it('sees a changed pool at once, across watches the server keeps ending', async () => {
    await new Promise((r) => setTimeout(r, 2500)); // several server-side watch timeouts
    const before = datastore.status().kinds.IPPool!;
    expect(before.watches).toBeGreaterThan(2);
    const started = Date.now();
    await cluster.kubectl(['patch', 'ippools.crd.projectcalico.org', 'default-ipv4-ippool', '--type=merge', '-p', '{"spec":{"ipipMode":"CrossSubnet"}}']);
    // Within a second on a quiet machine; the bound is generous for a loaded CI box (the time
    // includes starting kubectl), and the figure is printed.
    await eventually(() => (poolMode() === 'CrossSubnet' ? true : undefined), 5000, 'the mode change', 10);
    const ms = Date.now() - started;
    console.log(`a changed pool reached the datastore in ${ms} ms (kubectl patch included)`);
    expect(ms).toBeLessThan(5000);
    // Resumed, not relisted: a watch that simply ends costs no list.
    expect(datastore.status().kinds.IPPool!.lists).toBe(before.lists);
  });

  it('writes this node’s own annotations and reads them back', async () => {
    const client = KubeClient.fromKubeconfigFile(cluster.plane.kubeconfig);
    await writeOwnAnnotations(client, 'worker-2', {
      ipv4Address: { address: 0x0af0010c, prefixLength: 24 },
      ipipTunnelAddress: '192.168.0.129',
      vxlanTunnelMac: '66:aa:bb:cc:dd:ee',
    });
    const node = await eventually(() => {
      const n = datastore.snapshot().nodes.find((x) => x.name === 'worker-2');
      return n?.ipipTunnelAddress ? n : undefined;
    });
    expect(node.vxlanTunnelMac).toBe('66:aa:bb:cc:dd:ee');
    const raw = JSON.parse(await cluster.kubectl(['get', 'node', 'worker-2', '-o', 'json'])) as { metadata: { annotations: Record<string, string> } };
    expect(raw.metadata.annotations[calicoAnnotations.ipv4Address]).toBe('10.240.1.12/24');
    // null removes an annotation (a tunnel switched off).
    await writeOwnAnnotations(client, 'worker-2', { ipipTunnelAddress: null });
    await eventually(() => (datastore.snapshot().nodes.find((x) => x.name === 'worker-2')?.ipipTunnelAddress === undefined ? true : undefined));
  });

  it('keeps the last known state while the API server is down, and resyncs after it returns', async () => {
    const port = Number(new URL(cluster.plane.server).port);
    const before = datastore.snapshot();
    const listsBefore = datastore.status().kinds.IPPool!.lists;
    process.kill(-cluster.plane.pids.apiserver, 'SIGKILL');
    await eventually(() => (datastore.status().connected ? undefined : true), 10_000, 'noticing the outage');
    await new Promise((r) => setTimeout(r, 1500));
    expect(datastore.snapshot()).toEqual(before);

    cluster.plane = await controlPlaneUp({ stateDir: cluster.dir, port, progress: () => {} });
    await eventually(() => (datastore.status().connected ? true : undefined), 20_000, 'reconnecting');
    await cluster.kubectl(['patch', 'ippools.crd.projectcalico.org', 'default-ipv4-ippool', '--type=merge', '-p', '{"spec":{"ipipMode":"Never","vxlanMode":"Always"}}']);
    await eventually(() => (poolMode() === 'Never' ? true : undefined), 5000, 'the change made after the outage');
    const after = datastore.status().kinds.IPPool!;
    console.log('IPPool reflector after the outage:', JSON.stringify(after));
    // The new server's watch cache starts after our last resourceVersion: 410 Gone, then a relist.
    expect(after.gone + after.lists - listsBefore).toBeGreaterThan(0);
    expect(after.failures).toBeGreaterThan(0);
  }, 60_000);

  it('resyncs when the server comes back with an older history (etcd restored from a backup): what it holds, and changes made on it', async () => {
    const port = Number(new URL(cluster.plane.server).port);
    const etcd = path.join(cluster.dir, 'etcd');
    const backup = path.join(cluster.dir, 'etcd.backup');
    const patchLabel = (value: string) => cluster.kubectl(['label', '--overwrite', 'ippools.crd.projectcalico.org', 'default-ipv4-ippool', `step=${value}`]);
    const label = () => datastore.snapshot().pools.find((p) => p.metadata.name === 'default-ipv4-ippool')?.metadata.labels?.step;
    await patchLabel('backup');
    await eventually(() => (label() === 'backup' ? true : undefined), 5000, 'the label before the backup');
    await controlPlaneDown(cluster.dir);
    cpSync(etcd, backup, { recursive: true }); // a cold copy: etcd is stopped
    cluster.plane = await controlPlaneUp({ stateDir: cluster.dir, port, progress: () => {} });
    // The history moves on past the backup, and the datastore follows it.
    for (let i = 1; i <= 15; i++) await patchLabel(`after-${i}`);
    await eventually(() => (label() === 'after-15' ? true : undefined), 10_000, 'the edits after the backup');
    await controlPlaneDown(cluster.dir);
    rmSync(etcd, { recursive: true, force: true });
    cpSync(backup, etcd, { recursive: true });
    rmSync(backup, { recursive: true, force: true });
    cluster.plane = await controlPlaneUp({ stateDir: cluster.dir, port, progress: () => {} });
    // The restored server is at a resourceVersion below the datastore's last: a watch resumed
    // from there would wait for versions this history reaches only much later, and the cache
    // would go on saying after-15.
    await eventually(() => (label() === 'backup' ? true : undefined), 20_000, 'the restored state');
    await patchLabel('restored-edit');
    await eventually(() => (label() === 'restored-edit' ? true : undefined), 10_000, 'an edit made on the restored history');
  }, 120_000);
});
