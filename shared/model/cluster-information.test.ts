import { describe, expect, it } from 'vitest';
import { clusterInformationUpdate, parseClusterInformation } from './cluster-information.ts';

const wanted = { clusterTypes: ['k8s', 'bgp', 'kdd', 'gingham'], calicoVersion: 'v3.31.0', newGuid: () => 'ab'.repeat(16) };

describe('ClusterInformation as calico-node keeps it', () => {
  it('completes an empty one: a GUID, ready, the release and our cluster types', () => {
    expect(clusterInformationUpdate({}, wanted)).toEqual({ clusterGUID: 'ab'.repeat(16), datastoreReady: true, calicoVersion: 'v3.31.0', clusterType: 'k8s,bgp,kdd,gingham' });
  });

  it("keeps what another component wrote: its GUID, its release, a false datastoreReady (a migration's hold)", () => {
    const calicoNode = { clusterGUID: 'c'.repeat(32), calicoVersion: 'v3.30.7', datastoreReady: false, clusterType: 'k8s,bgp,kdd' };
    expect(clusterInformationUpdate(calicoNode, wanted)).toEqual({ ...calicoNode, clusterType: 'k8s,bgp,kdd,gingham' });
  });

  it('changes nothing once complete', () => {
    const done = clusterInformationUpdate({}, wanted)!;
    expect(clusterInformationUpdate(done, { ...wanted, newGuid: () => 'ff'.repeat(16) })).toBeUndefined();
  });

  it('reads only the one named default, and says why', () => {
    expect(() => parseClusterInformation({ apiVersion: 'crd.projectcalico.org/v1', kind: 'ClusterInformation', metadata: { name: 'other' }, spec: {} })).toThrow(/must be default/);
  });
});
