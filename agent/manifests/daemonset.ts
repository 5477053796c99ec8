// The Kubernetes way to run the agent on many nodes, for an admin who does not want SSH to every
// one of them: a DaemonSet. Gingham publishes no container image (none can be built or pulled
// where it is made), so the pod runs the agent executable that is already on the host, in
// /opt/gingham/current (put there by the console's SSH installer, or by the admin's own tooling
// from the same release), by chroot into the host's root: it then uses the host's own iproute2,
// nftables and /run, exactly as the installed service does. The image needs only `sh`, `cat` and
// `chroot` (busybox; any image with them will do).
//
// Its credential is the pod's own projected ServiceAccount token, which the kubelet rotates: the
// API server binds it to the pod and names the pod's node in it, so the own-node admission policy
// (manifests.ts) narrows each agent to its own node's status exactly as it does the installer's
// node-bound token. It runs only on nodes labelled gingham.dev/network-agent=gingham, the label
// that keeps calico-node's DaemonSet off a node (docs/mixed-clusters.md).
import { agentIdentity, agentNodeLayout, networkAgentLabel } from '../../shared/api/agent-contract.ts';

export const defaultDaemonSetImage = 'busybox:1.36';

/** Where the pod's token and the agent's configuration are, inside the host's /run (tmpfs: gone at reboot). */
const podRun = `${agentNodeLayout.run}/daemonset`;
const tokenDir = `${podRun}/serviceaccount`;

export interface DaemonSetOptions {
  /** The API server as the nodes reach it (the admin's kubeconfig's server). */
  server: string;
  image?: string;
}

/**
 * What the container runs: writes the agent's configuration for this node (its name from the
 * downward API), and runs the host's agent in the host's root. HOST is where the host's root is
 * mounted (/host in the pod).
 */
export function daemonSetEntrypoint(): string {
  const agent = `${agentNodeLayout.opt}/current/gingham-agent`;
  return [
    'set -eu',
    'HOST=${HOST:-/host}',
    `if [ ! -x "$HOST${agent}" ]; then`,
    `  echo "gingham-agent: no agent on $NODE_NAME at ${agent}: install it there first (the console's Nodes, Install; or copy a release's files from your own tooling), then delete this pod" >&2`,
    '  exit 1',
    'fi',
    `mkdir -p "$HOST${podRun}"`,
    `cat > "$HOST${podRun}/agent.yaml" <<EOF`,
    'nodeName: $NODE_NAME',
    'token:',
    '  server: $API_SERVER',
    `  caFile: ${tokenDir}/ca.crt`,
    `  tokenFile: ${tokenDir}/token`,
    'EOF',
    `exec chroot "$HOST" ${agent} run --config ${podRun}/agent.yaml`,
  ].join('\n');
}

/** The API server as an https URL, or an error that says what was given: it goes into every pod's configuration. */
function apiServer(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || url.protocol !== 'https:' || !url.hostname) throw new Error(`the API server must be an https URL the nodes reach, such as https://10.0.0.1:6443; got ${JSON.stringify(text)}`);
  return url.origin;
}

export function agentDaemonSet(options: DaemonSetOptions): object {
  const server = apiServer(options.server);
  const labels = { 'app.kubernetes.io/name': 'gingham-agent', 'app.kubernetes.io/managed-by': 'gingham' };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: agentIdentity.serviceAccount, namespace: agentIdentity.namespace, labels },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': 'gingham-agent' } },
      // One node at a time: a node whose agent restarts keeps its routes (SIGTERM leaves them).
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: agentIdentity.serviceAccount,
          hostNetwork: true,
          dnsPolicy: 'ClusterFirstWithHostNet',
          priorityClassName: 'system-node-critical',
          // The network comes before everything else on the node, tainted or not (as calico-node's).
          tolerations: [{ operator: 'Exists' }],
          terminationGracePeriodSeconds: 30,
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: networkAgentLabel.key, operator: 'In', values: [networkAgentLabel.value] }, { key: 'kubernetes.io/os', operator: 'In', values: ['linux'] }] }],
              },
            },
          },
          containers: [
            {
              name: 'agent',
              image: options.image ?? defaultDaemonSetImage,
              command: ['/bin/sh', '-c', daemonSetEntrypoint()],
              env: [
                { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                { name: 'API_SERVER', value: server },
              ],
              // Routes, devices, nftables and the user-space tunnel on the host: what calico-node needs too.
              securityContext: { privileged: true },
              volumeMounts: [
                { name: 'host', mountPath: '/host', mountPropagation: 'HostToContainer' },
                // Inside the host's root as the agent sees it after chroot, in this pod's mounts only.
                { name: 'token', mountPath: `/host${tokenDir}`, readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: 'host', hostPath: { path: '/', type: 'Directory' } },
            {
              name: 'token',
              projected: {
                sources: [
                  { serviceAccountToken: { path: 'token', expirationSeconds: 3600 } },
                  { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
                ],
              },
            },
          ],
        },
      },
    },
  };
}
