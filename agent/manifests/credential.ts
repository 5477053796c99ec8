// The agent's credential: a kubeconfig holding a bound ServiceAccount token from the TokenRequest
// API, the cluster's CA and its address, and nothing else. Whoever asks for the token (the
// console's installer as the admin, or the agent renewing its own) never hands over its own
// credentials: they are used for the one request and never written into the result.
import { readFileSync } from 'node:fs';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { agentNamespace, agentServiceAccount } from './manifests.ts';

export interface AgentCredential {
  token: string;
  expiresAt: string;
  kubeconfig: string;
}

/** The server and CA of `config`'s current cluster, for the agent's kubeconfig. */
function clusterOf(config: KubeConfig): { server: string; caData: string } {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster: pick one with `kubectl config use-context`');
  const caData = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString('base64') : undefined);
  if (!caData) throw new Error(`the kubeconfig's cluster ${cluster.name} has no certificate-authority: the agent must verify the API server`);
  return { server: cluster.server, caData };
}

export function tokenKubeconfig(server: string, caData: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'cluster', cluster: { server, 'certificate-authority-data': caData } }],
    users: [{ name: agentServiceAccount, user: { token } }],
    contexts: [{ name: `${agentServiceAccount}@cluster`, context: { cluster: 'cluster', user: agentServiceAccount, namespace: agentNamespace } }],
    'current-context': `${agentServiceAccount}@cluster`,
  });
}

/**
 * Requests a token for the agent's ServiceAccount with `requester`'s identity (an admin's, or the
 * agent's own when renewing) and returns a kubeconfig that holds only that token. With `node`, the
 * token is bound to that Node object: the API server then names the node in the token's identity,
 * which is how the agent's admission policy lets each agent write its own node's status and no
 * other's (agent/manifests/manifests.ts), and the token dies with the Node.
 */
export async function mintAgentCredential(requester: KubeConfig, expirationSeconds = 24 * 3600, node?: string): Promise<AgentCredential> {
  const api = requester.makeApiClient(CoreV1Api);
  const boundObjectRef = node ? await nodeRef(api, node) : undefined;
  const response = await api.createNamespacedServiceAccountToken({
    name: agentServiceAccount,
    namespace: agentNamespace,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds, ...(boundObjectRef ? { boundObjectRef } : {}) } },
  });
  const token = response.status?.token;
  if (!token) throw new Error('the API server answered the TokenRequest without a token');
  const { server, caData } = clusterOf(requester);
  return { token, expiresAt: new Date(response.status!.expirationTimestamp as unknown as string).toISOString(), kubeconfig: tokenKubeconfig(server, caData, token) };
}

async function nodeRef(api: CoreV1Api, name: string): Promise<{ kind: 'Node'; apiVersion: 'v1'; name: string; uid: string }> {
  let uid: string | undefined;
  try {
    uid = (await api.readNode({ name })).metadata?.uid;
  } catch (error) {
    throw new Error(`cannot bind the agent's token to Node ${name}: ${(error as Error).message}. Is the node registered (\`kubectl get node ${name}\`)?`);
  }
  if (!uid) throw new Error(`Node ${name} has no uid: cannot bind the agent's token to it`);
  return { kind: 'Node', apiVersion: 'v1', name, uid };
}
