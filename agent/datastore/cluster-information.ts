// Keeps Calico's ClusterInformation `default` as calico-node's start-up does (libcalico-go's
// ensureClusterInformation): created with a fresh GUID where it is missing, otherwise completed
// and never overwritten, so that calicoctl (`ipam check`, `version`) finds the cluster Calico's
// components would have left, and a calico-node beside Gingham's agents keeps what it wrote.
import { randomBytes } from 'node:crypto';
import { calicoKind } from '../../shared/model/calico-kinds.ts';
import {
  calicoApiRelease,
  clusterInformationName,
  clusterInformationUpdate,
  parseClusterInformation,
  type ClusterInformation,
} from '../../shared/model/cluster-information.ts';
import { isConflict, type KubeApi } from './kube-api.ts';

/**
 * Calico's manifests set CLUSTER_TYPE=k8s,bgp and libcalico-go appends kdd for the Kubernetes
 * datastore; `gingham` says which agents run here, without confusing Calico's own readers.
 */
export const ginghamClusterTypes = ['k8s', 'bgp', 'kdd', 'gingham'];

const { apiVersion, kind } = calicoKind('ClusterInformation');
const ref = { apiVersion, kind, metadata: { name: clusterInformationName } };

/** Calico's GUID: 16 random bytes in hex (uuid.New() without its dashes). */
const newGuid = () => randomBytes(16).toString('hex');

const kubeControllers = calicoKind('KubeControllersConfiguration');
const kubeControllersRef = { apiVersion: kubeControllers.apiVersion, kind: kubeControllers.kind, metadata: { name: 'default' } };

/**
 * KubeControllersConfiguration `default`, which Calico's kube-controllers creates and calicoctl's
 * `ipam check` reads before it checks anything. Gingham runs no kube-controllers, so an agent makes
 * an empty one where there is none (no controller settings: Calico's defaults apply) and never
 * changes one that exists.
 */
export async function ensureKubeControllersConfiguration(client: KubeApi): Promise<void> {
  if ((await client.get<unknown>(kubeControllersRef)) !== undefined) return;
  try {
    await client.create({ ...kubeControllersRef, spec: { controllers: {} } });
  } catch (error) {
    if (!isConflict(error)) throw error; // another agent made it first
  }
}

/**
 * Makes sure ClusterInformation `default` exists and is complete; returns what is stored.
 * Concurrent agents race on create and update: the loser of either reads again and retries.
 */
export async function ensureClusterInformation(client: KubeApi, attempts = 5): Promise<ClusterInformation> {
  const wanted = { clusterTypes: ginghamClusterTypes, calicoVersion: calicoApiRelease, newGuid };
  for (let attempt = 1; ; attempt++) {
    try {
      const stored = await client.get<unknown>(ref);
      if (stored === undefined) {
        const spec = clusterInformationUpdate({}, wanted)!;
        return parseClusterInformation(await client.create({ ...ref, spec }));
      }
      const current = parseClusterInformation(stored);
      const spec = clusterInformationUpdate(current.spec, wanted);
      if (!spec) return current;
      // resourceVersion rides along in metadata: a concurrent writer makes this a 409.
      return parseClusterInformation(await client.replace({ ...ref, metadata: current.metadata, spec }));
    } catch (error) {
      if (!isConflict(error) || attempt >= attempts) throw error;
    }
  }
}
