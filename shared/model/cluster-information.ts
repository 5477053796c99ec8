// Calico's ClusterInformation `default`: the cluster's identity and the Calico release it runs.
// calico-node creates it at start-up; calicoctl reads it before `ipam check` and `version`, and
// refuses to run against a cluster whose calicoVersion differs from its own. Gingham's agent keeps
// it as calico-node does (agent/datastore/cluster-information.ts).
import { z } from 'zod';
import { calicoResourceSchema, subjectOf, type CalicoApiVersion, type ObjectMeta } from './meta.ts';
import { addIssue, parseWith } from './validation.ts';

/**
 * The Calico release whose API Gingham implements and is tested against with Calico's own tools
 * (calicoctl and calico-node v3.31.0). Written as ClusterInformation's calicoVersion only where no
 * Calico component has written one, so calicoctl's version check behaves as on that release.
 */
export const calicoApiRelease = 'v3.31.0';

/** The name every Calico component reads. */
export const clusterInformationName = 'default';

export const clusterInformationSpecSchema = z
  .looseObject({
    clusterGUID: z.string().optional().meta({ description: 'A random 128-bit identifier in hex, made once.' }),
    clusterType: z.string().optional().meta({ description: 'Comma-separated cluster types, such as k8s,bgp,kdd.' }),
    calicoVersion: z.string().optional().meta({ description: 'The Calico release the cluster runs.' }),
    datastoreReady: z.boolean().optional().meta({ description: 'False while a datastore migration holds Calico components back.' }),
    variant: z.string().optional(),
  })
  .meta({ 'x-kubernetes-preserve-unknown-fields': true });

const clusterInformationResourceSchema = calicoResourceSchema('ClusterInformation', clusterInformationSpecSchema).superRefine((info, ctx) => {
  if (info.metadata.name !== clusterInformationName) addIssue(ctx, ['metadata', 'name'], 'must be default: Calico reads only the ClusterInformation named default');
});

export interface ClusterInformation {
  apiVersion: CalicoApiVersion;
  metadata: ObjectMeta;
  spec: z.output<typeof clusterInformationSpecSchema>;
}

export function parseClusterInformation(input: unknown): ClusterInformation {
  return parseWith(clusterInformationResourceSchema, input, subjectOf('ClusterInformation', input));
}

/**
 * What a node's agent changes in the stored spec, as calico-node's start-up does: a GUID where
 * there is none, datastoreReady true only where it is unset (false is an admin's or a migration's
 * hold and stays), our cluster types added to the list, and calicoVersion only where it is empty
 * (a calico-node in a mixed cluster owns it). Returns undefined when nothing needs to change.
 */
export function clusterInformationUpdate(
  spec: ClusterInformation['spec'],
  wanted: { clusterTypes: string[]; calicoVersion: string; newGuid: () => string },
): ClusterInformation['spec'] | undefined {
  const next = { ...spec };
  if (!next.clusterGUID) next.clusterGUID = wanted.newGuid();
  if (next.datastoreReady === undefined) next.datastoreReady = true;
  if (!next.calicoVersion) next.calicoVersion = wanted.calicoVersion;
  const types = next.clusterType ? next.clusterType.split(',').filter(Boolean) : [];
  for (const type of wanted.clusterTypes) if (!types.includes(type)) types.push(type);
  next.clusterType = types.join(',');
  const changed = (Object.keys(next) as Array<keyof typeof next>).some((key) => next[key] !== spec[key]);
  return changed ? next : undefined;
}
