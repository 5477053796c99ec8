// The CRDs the agent's manifests carry: the model's generated CRDs, with one bound added that a
// real kube-apiserver (v1.36) demands. Without a maxItems on IPPool.spec.allowedUses, the API
// server estimates the cost of the pool's CEL rules over an unbounded list and refuses the CRD
// ("estimated rule cost exceeds budget by factor of 1.6x"). Three is every distinct use there is.
// (Adapter on the agent's side; the bound belongs in shared/model/ippool.ts.)
import { calicoCrds } from '../../shared/model/crds.ts';
import { allowedUses } from '../../shared/model/ippool.ts';

type Schema = { properties?: Record<string, Schema>; maxItems?: number };

export function agentCrds(): ReturnType<typeof calicoCrds> {
  const crds = calicoCrds();
  for (const crd of crds) {
    if (crd.spec.names.kind !== 'IPPool') continue;
    for (const version of crd.spec.versions) {
      const spec = (version.schema.openAPIV3Schema.properties.spec as Schema).properties;
      if (spec?.allowedUses && spec.allowedUses.maxItems === undefined) spec.allowedUses.maxItems = allowedUses.length;
    }
  }
  return crds;
}
