// The routing objects' forms against a real kube-apiserver with Calico's own CRDs: a spec is
// checked against the CRD the cluster serves (read live: a field added to the CRD in the cluster
// is accepted at once), a typo is named before anything is sent, a change goes first as a
// server-side dry run whose answer is the diff against the stored spec (nothing stored), and
// Apply on a stale resourceVersion is a conflict carrying the newer object.
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCalicoTestCluster, type TestCluster } from '../../../lab/testing/test-cluster.ts';
import { IPPoolStore } from '../ippools/ippool-store.ts';
import { RoutingConfigStore } from './routing-config-store.ts';

let cluster: TestCluster;
let config: KubeConfig;

beforeAll(async () => {
  cluster = await startCalicoTestCluster();
  config = new KubeConfig();
  config.loadFromFile(cluster.plane.kubeconfig);
}, 900_000);

afterAll(async () => {
  await cluster?.down();
});

const peer = { peerIP: '10.240.1.1', asNumber: 64512 };

describe('routing objects checked against the live CRD', () => {
  it('names a wrong type, a value outside an enum and a typo, field by field; a good spec has no issue', async () => {
    const peers = new RoutingConfigStore(config, 'BGPPeer');
    expect((await peers.validate(peer)).issues).toEqual([]);
    const bad = await peers.validate({ peerIP: '10.240.1.1', asNumber: 'sixty-four', peerIp: '10.0.0.1' });
    expect(bad.crd).toBe('bgppeers.crd.projectcalico.org');
    expect(bad.issues).toEqual(
      expect.arrayContaining([
        { path: 'spec.asNumber', message: 'must be integer' },
        { path: 'spec.peerIp', message: expect.stringMatching(/^not a field of this kind \(known here: .*peerIP.*\); the API server would drop it$/) },
      ]),
    );
    const pools = new RoutingConfigStore(config, 'IPPool');
    expect((await pools.validate({ cidr: '10.50.0.0/16', blockSize: '26' })).issues).toEqual([{ path: 'spec.blockSize', message: 'must be integer' }]);
  });

  it('follows the CRD the cluster serves: a field added to the CRD in the cluster is known at once', async () => {
    const felix = new RoutingConfigStore(config, 'FelixConfiguration');
    expect((await felix.validate({ ginghamTestKnob: 'on' })).issues.map((i) => i.path)).toEqual(['spec.ginghamTestKnob']);
    await cluster.kubectl(['patch', 'crd', 'felixconfigurations.crd.projectcalico.org', '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/ginghamTestKnob', value: { type: 'string' } }])]);
    expect((await felix.validate({ ginghamTestKnob: 'on' })).issues).toEqual([]);
    await cluster.kubectl(['patch', 'crd', 'felixconfigurations.crd.projectcalico.org', '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/ginghamTestKnob' }])]);
  });

  it('a BGPConfiguration change goes first as a dry run: the diff against the stored spec, nothing stored', async () => {
    const store = new RoutingConfigStore(config, 'BGPConfiguration');
    const created = await store.apply('default', { asNumber: 64512, nodeToNodeMeshEnabled: true });
    const answer = await store.dryRun('default', { asNumber: 64513, nodeToNodeMeshEnabled: false }, created.resourceVersion);
    expect(answer.created).toBe(false);
    expect(answer.changes).toEqual([
      { field: 'asNumber', before: '64512', after: '64513' },
      { field: 'nodeToNodeMeshEnabled', before: 'true', after: 'false' },
    ]);
    // What the server fills in (its CRD's defaults) is part of what it would store.
    expect(answer.wouldStore).toEqual({ asNumber: 64513, nodeToNodeMeshEnabled: false, serviceLoadBalancerAggregation: 'Enabled' });
    expect(await store.list()).toEqual([created]);
  });

  it('a new FelixConfiguration as a dry run is shown whole and created nowhere', async () => {
    const store = new RoutingConfigStore(config, 'FelixConfiguration');
    const answer = await store.dryRun('node.worker-1', { vxlanVNI: 4097 });
    expect(answer).toMatchObject({ created: true, changes: [{ field: 'vxlanVNI', after: '4097' }] });
    expect(await store.list()).toEqual([]);
  });

  it('refuses before sending what the live schema refuses, and Apply on a stale copy is a conflict with the newer object', async () => {
    const store = new RoutingConfigStore(config, 'BGPPeer');
    await expect(store.dryRun('tor', { ...peer, asNumber: 'x' })).rejects.toMatchObject({ code: 'invalid-field', details: { 'spec.asNumber': 'must be integer' } });
    const first = await store.apply('tor', peer);
    await store.apply('tor', { ...peer, asNumber: 64513 }, first.resourceVersion);
    const stale = store.apply('tor', { ...peer, keepOriginalNextHop: true }, first.resourceVersion);
    await expect(stale).rejects.toMatchObject({ code: 'conflict' });
    const error = (await stale.catch((e: unknown) => e)) as { details: { current: string } };
    expect(JSON.parse(error.details.current)).toMatchObject({ name: 'tor', spec: { asNumber: 64513 } });
  });

  it("the IP pool form's writes are checked against the live CRD too", async () => {
    // A rule of the cluster's CRD that Gingham's model lacks (the CRD narrowed in the cluster, as a
    // stricter Calico's would be) refuses the write before it is sent, naming the field.
    await cluster.kubectl(['patch', 'crd', 'ippools.crd.projectcalico.org', '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/natOutgoing/enum', value: [false] }])]);
    const pools = new IPPoolStore(config);
    const fields = { cidr: '10.60.0.0/16', blockSize: 26, ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true, disabled: false } as const;
    await expect(pools.dryRun('strict', fields)).rejects.toMatchObject({ code: 'invalid-field', details: { 'spec.natOutgoing': 'must be equal to one of the allowed values (false)' } });
    await cluster.kubectl(['patch', 'crd', 'ippools.crd.projectcalico.org', '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/natOutgoing/enum' }])]);
    await expect(pools.dryRun('strict', fields)).resolves.toMatchObject({ created: true });
  });
});
