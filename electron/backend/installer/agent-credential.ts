// The agent's own identity in the cluster, made with the admin's kubeconfig and handed to the
// node without it: the agent's manifests (namespace, ServiceAccount, least-privilege RBAC, and
// Calico's CRDs where the cluster lacks them) are applied, then a TokenRequest for the
// ServiceAccount gingham-system/gingham-agent gives a bound token. The node gets a kubeconfig
// with that token, the cluster's CA and its address: never the admin's credentials.
//
// The manifests come from the agent being installed (`gingham-agent manifests`, run on the node),
// so the RBAC always matches the agent's version and the backend needs no agent code.
import { ApiException, CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import { agentIdentity, agentNodeLayout, agentRunConfigSchema, type AgentRunConfigInput } from '../../../shared/api/agent-contract.ts';

export const agentNamespace = agentIdentity.namespace;
export const agentServiceAccount = agentIdentity.serviceAccount;
const fieldManager = 'gingham-console';

function isConflict(error: unknown): boolean {
  return error instanceof ApiException && error.code === 409;
}

/**
 * Applies the manifests: CRDs only where missing (a Calico cluster's own stay untouched), the rest
 * with server-side apply. Each group at once (30 objects one after the other were seconds of an
 * install): the CRDs, then the namespaces, then what lives in them or refers to them by name.
 */
export async function applyAgentManifests(admin: KubeConfig, yamlText: string): Promise<{ applied: string[] }> {
  const api = KubernetesObjectApi.makeApiClient(admin);
  const objects = parseAllDocuments(yamlText)
    .map((doc) => doc.toJSON() as KubernetesObject | null)
    .filter((object): object is KubernetesObject => Boolean(object?.kind && object.metadata?.name));
  const applied = new Set<KubernetesObject>();
  const ensureCrd = async (object: KubernetesObject) => {
    try {
      await api.read({ apiVersion: object.apiVersion!, kind: object.kind!, metadata: { name: object.metadata!.name! } });
      return;
    } catch (error) {
      if (!(error instanceof ApiException) || error.code !== 404) throw error;
    }
    try {
      await api.create(object);
    } catch (error) {
      // Another install (this console installs on several nodes at once) made it in between.
      if (!isConflict(error)) throw error;
    }
    applied.add(object);
  };
  const apply = async (object: KubernetesObject) => {
    const once = () => api.patch(object, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
    // Two applies that both create the object race: the loser gets 409 and applies again, as an update.
    await once().catch((error: unknown) => (isConflict(error) ? once() : Promise.reject(error)));
    applied.add(object);
  };
  const isCrd = (o: KubernetesObject) => o.kind === 'CustomResourceDefinition';
  const isNamespace = (o: KubernetesObject) => o.kind === 'Namespace';
  await Promise.all(objects.filter(isCrd).map(ensureCrd));
  await Promise.all(objects.filter(isNamespace).map(apply));
  await Promise.all(objects.filter((o) => !isCrd(o) && !isNamespace(o)).map(apply));
  return { applied: objects.filter((o) => applied.has(o)).map((o) => `${o.kind}/${o.metadata!.name}`) };
}

export interface AgentToken {
  kubeconfig: string;
  expiresAt: string;
}

/**
 * Asks for a bound token of the agent's ServiceAccount; the kubeconfig holds it and nothing of
 * `admin`. With `nodeName`, the token is bound to that Node, which is what lets the agent write its
 * node's status and no other's (the agent's admission policy); a node not registered yet gets an
 * unbound token, and the next install binds it.
 */
export async function requestAgentToken(admin: KubeConfig, expirationSeconds = 365 * 24 * 3600, nodeName?: string): Promise<AgentToken> {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster: pick a context first');
  const caData = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString('base64') : undefined);
  if (!caData) throw new Error(`the cluster ${cluster.name} has no certificate-authority in the kubeconfig: the agent must be able to verify the API server`);
  const core = admin.makeApiClient(CoreV1Api);
  const uid = nodeName ? await core.readNode({ name: nodeName }).then((n) => n.metadata?.uid, (error: unknown) => (error instanceof ApiException && error.code === 404 ? undefined : Promise.reject(error))) : undefined;
  const boundObjectRef = nodeName && uid ? { kind: 'Node', apiVersion: 'v1', name: nodeName, uid } : undefined;
  const response = await core.createNamespacedServiceAccountToken({
    name: agentServiceAccount,
    namespace: agentNamespace,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds, ...(boundObjectRef ? { boundObjectRef } : {}) } },
  });
  const token = response.status?.token;
  if (!token) throw new Error('the API server answered the TokenRequest without a token');
  const user = agentServiceAccount;
  const kubeconfig = stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'cluster', cluster: { server: cluster.server, 'certificate-authority-data': caData } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: `${user}@cluster`, context: { cluster: 'cluster', user, namespace: agentNamespace } }],
    'current-context': `${user}@cluster`,
  });
  return { kubeconfig, expiresAt: new Date(response.status!.expirationTimestamp as unknown as string).toISOString() };
}

export interface AgentConfigFields {
  nodeName: string;
  /** The node's address with its prefix length (Calico's IPv4Address annotation); autodetect when absent. */
  address?: string;
  autodetect?: string;
}

/**
 * The agent's configuration file, checked with the agent's own schema (a field the agent would
 * refuse is refused here, before anything reaches the node), in a stable form so that equal
 * inputs give equal bytes.
 */
export function agentConfigYaml(fields: AgentConfigFields): string {
  const config: AgentRunConfigInput = {
    nodeName: fields.nodeName,
    kubeconfig: agentNodeLayout.kubeconfig,
    ...(fields.address ? { address: fields.address } : { autodetect: fields.autodetect ?? 'first-found' }),
    control: agentNodeLayout.control,
  };
  const checked = agentRunConfigSchema.safeParse(config);
  if (!checked.success) {
    throw new Error(`the agent's configuration for ${fields.nodeName} is not valid: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return stringify(config);
}
