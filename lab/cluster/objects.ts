// What the lab puts in Kubernetes: the agent's manifests (Calico's CRDs Gingham uses, its
// namespace, ServiceAccount and least-privilege RBAC), the Node objects a kubelet would have
// registered (InternalIP, Ready, Calico's address annotation), the seed's IPPool, and the Pod
// objects with the status a kubelet would write. Through kubectl with the admin kubeconfig.
import { stringify } from 'yaml';
import { agentManifests } from '../../agent/manifests/manifests.ts';
import { kubectl } from '../controlplane/kubectl.ts';
import { subnetOfNode, type Topology, type TopologyNode } from '../topology/topology.ts';

export const poolName = 'default-ipv4-ippool';
export const podNamespace = 'default';

export async function kubectlOk(kubeconfig: string, args: string[], input?: string): Promise<string> {
  const result = await kubectl(kubeconfig, args, input);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

export async function applyObjects(kubeconfig: string, objects: unknown[]): Promise<void> {
  await kubectlOk(kubeconfig, ['apply', '--server-side', '--force-conflicts', '--field-manager=gingham-lab', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
}

export function nodeObject(topology: Topology, node: TopologyNode) {
  const prefix = subnetOfNode(topology, node).cidr.split('/')[1];
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      labels: {
        'kubernetes.io/hostname': node.name,
        'kubernetes.io/os': 'linux',
        ...(node.controlPlane ? { 'node-role.kubernetes.io/control-plane': '' } : {}),
      },
      annotations: { 'projectcalico.org/IPv4Address': `${node.address}/${prefix}` },
    },
  };
}

function nodeStatus(node: TopologyNode) {
  const now = new Date().toISOString();
  return {
    status: {
      addresses: [
        { type: 'InternalIP', address: node.address },
        { type: 'Hostname', address: node.name },
      ],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'the lab node is up', lastHeartbeatTime: now, lastTransitionTime: now }],
      nodeInfo: { kubeletVersion: 'v1.36.3', operatingSystem: 'linux', architecture: 'amd64', containerRuntimeVersion: 'gingham-lab', kernelVersion: '', osImage: 'gingham lab', kubeProxyVersion: '', machineID: '', systemUUID: '', bootID: '' },
    },
  };
}

export function poolObject(topology: Topology, spec: Partial<Topology['pool']> = {}) {
  return {
    apiVersion: 'crd.projectcalico.org/v1',
    kind: 'IPPool',
    metadata: { name: poolName },
    spec: { ...topology.pool, ...spec, nodeSelector: 'all()' },
  };
}

/** Manifests, Nodes (with status) and the pool. Idempotent (server-side apply). */
export async function applyCluster(kubeconfig: string, topology: Topology): Promise<void> {
  await applyObjects(kubeconfig, agentManifests());
  await kubectlOk(kubeconfig, ['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  await applyObjects(kubeconfig, topology.nodes.map((n) => nodeObject(topology, n)));
  for (const node of topology.nodes) {
    await kubectlOk(kubeconfig, ['patch', 'node', node.name, '--subresource=status', '--type=merge', '-p', JSON.stringify(nodeStatus(node))]);
  }
  // The pool is created once: a later `up` must not undo a mode someone switched to.
  const existing = await kubectl(kubeconfig, ['get', 'ippools.crd.projectcalico.org', poolName, '-o', 'name']);
  if (existing.code !== 0) await applyObjects(kubeconfig, [poolObject(topology)]);
}

export function podObject(name: string, node: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: podNamespace, labels: { app: 'lab-http', 'gingham.dev/lab': 'true' } },
    spec: {
      nodeName: node,
      containers: [{ name: 'http', image: 'gingham-lab/http', command: ['python3', '-m', 'http.server', '80'], ports: [{ containerPort: 80, protocol: 'TCP' }] }],
    },
  };
}

/** The status a kubelet writes once the pod's network is up and its container runs. */
export async function markPodRunning(kubeconfig: string, name: string, podIp: string, hostIp: string): Promise<void> {
  const now = new Date().toISOString();
  const status = {
    status: {
      phase: 'Running',
      hostIP: hostIp,
      hostIPs: [{ ip: hostIp }],
      podIP: podIp,
      podIPs: [{ ip: podIp }],
      startTime: now,
      conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: now })),
      containerStatuses: [{ name: 'http', ready: true, started: true, restartCount: 0, image: 'gingham-lab/http', imageID: '', state: { running: { startedAt: now } } }],
    },
  };
  await kubectlOk(kubeconfig, ['patch', 'pod', name, '-n', podNamespace, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
}
