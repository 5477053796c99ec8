import { describe, expect, it } from 'vitest';
import { parseCalicoManifests } from './resources.ts';

describe('parseCalicoManifests', () => {
  it('reads several documents of different kinds', () => {
    const resources = parseCalicoManifests(`
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: { name: pool-a }
spec: { cidr: 10.244.0.0/16, vxlanMode: Always }
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: { name: default }
spec: { asNumber: 65000 }
---
`);
    expect(resources.map((r) => r.kind)).toEqual(['IPPool', 'BGPConfiguration']);
  });

  it('names the document and field of a mistake', () => {
    expect(() =>
      parseCalicoManifests('kind: IPPool\napiVersion: projectcalico.org/v3\nmetadata: {name: a}\nspec: {cidr: 10.0.0.0/8}\n---\nkind: IPPool\napiVersion: projectcalico.org/v3\nmetadata: {name: b}\nspec: {cidr: 10.0.0.0/8, blockSize: 12}\n'),
    ).toThrow('IPPool "b" (document 2) is invalid:\n  spec.blockSize: must be between 20 and 32');
  });

  it('names the line of a YAML syntax error and refuses unknown kinds', () => {
    expect(() => parseCalicoManifests('kind: IPPool\nspec:\n  cidr: [10.0.0.0/8\n')).toThrow(/YAML document 1 is invalid:\n {2}line \d+:/);
    expect(() => parseCalicoManifests('kind: FelixConfiguration\n')).toThrow('kind: must be one of IPPool, BGPConfiguration, BGPPeer');
  });
});
