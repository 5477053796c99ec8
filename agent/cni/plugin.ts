// The CNI commands. ADD assigns the pod an address from this node's IPAM blocks (reusing the one
// its handle already holds, so a repeated ADD returns the same result) and plumbs the veth; DEL
// undoes both and succeeds whatever is already gone; CHECK compares the kernel with what ADD made;
// VERSION lists the spec versions this plugin speaks.
import { parseCalicoNode } from '../../shared/model/calico-node.ts';
import { handleIds } from '../../shared/model/ipam.ts';
import { parseIPPool, type IPPool } from '../../shared/model/ippool.ts';
import { calicoCrdV1 } from '../../shared/model/meta.ts';
import { caliInterfaceName, podMtu } from '../../shared/net/index.ts';
import { DirectKubeClient } from '../datastore/direct-client.ts';
import { isUnreachable, type KubeApi } from '../datastore/kube-api.ts';
import { Ipam, IpamError } from '../ipam/ipam.ts';
import { CniError, cniErrorCodes, supportedVersions, type CniRequest } from './request.ts';
import { alreadyPlumbed, hostMtu, plumb, podGateway, unplumb, verify } from './veth.ts';

export interface CniResult {
  cniVersion: string;
  interfaces: Array<{ name: string; mac: string; sandbox?: string }>;
  ips: Array<{ address: string; gateway: string; interface: number }>;
  routes: Array<{ dst: string }>;
  dns: Record<string, never>;
}

/** Annotations Calico's CNI plugin writes on the Pod, which Calico's tools read when the kubelet has not yet reported the IP. */
export const podAnnotations = {
  podIP: 'cni.projectcalico.org/podIP',
  podIPs: 'cni.projectcalico.org/podIPs',
  containerID: 'cni.projectcalico.org/containerID',
};

export function versionResult(cniVersion = '1.0.0') {
  return { cniVersion, supportedVersions: [...supportedVersions] };
}

async function withApi<T>(what: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof CniError) throw error;
    if (error instanceof IpamError) throw new CniError(cniErrorCodes.ipamFailure, error.message);
    if (isUnreachable(error)) throw new CniError(cniErrorCodes.tryAgainLater, `${what}: ${(error as Error).message}`);
    throw new CniError(cniErrorCodes.ioFailure, `${what}: ${(error as Error).message}`);
  }
}

function hostInterfaceOf(request: CniRequest): string {
  return caliInterfaceName(request.podNamespace, request.podName);
}

async function nodePools(client: KubeApi, request: CniRequest): Promise<{ pools: IPPool[]; labels: Record<string, string> }> {
  const raw = await client.get<{ metadata: { labels?: Record<string, string> } }>({ apiVersion: 'v1', kind: 'Node', metadata: { name: request.config.nodename } });
  if (!raw) throw new CniError(cniErrorCodes.invalidConfig, `there is no Node named ${JSON.stringify(request.config.nodename)}: set "nodename" in the network configuration to this node's Kubernetes name`);
  parseCalicoNode(raw);
  const { items } = await client.list<unknown>(calicoCrdV1, 'IPPool');
  let pools = items.map(parseIPPool);
  if (request.config.ipv4Pools) pools = pools.filter((p) => request.config.ipv4Pools!.includes(p.metadata.name) || request.config.ipv4Pools!.includes(p.spec.cidr));
  return { pools, labels: raw.metadata.labels ?? {} };
}

export async function cniAdd(request: CniRequest, client: KubeApi = new DirectKubeClient(request.config.kubeconfig)): Promise<CniResult> {
  const { config } = request;
  const ipam = new Ipam(client, config.nodename);
  const handleId = handleIds.pod(request.containerId);
  const { pools, labels } = await withApi('reading the pools', () => nodePools(client, request));
  const usable = ipam.usablePools(pools, labels, 'Workload');
  const address = await withApi('assigning an address', async () => {
    const held = await ipam.addressesOf(handleId);
    if (held[0]) return held[0].address;
    const secondary = { namespace: request.podNamespace, node: config.nodename, pod: request.podName, timestamp: new Date().toISOString() };
    return (await ipam.assign(handleId, secondary, usable)).address;
  });
  const enabled = pools.filter((p) => !p.spec.disabled);
  const mtu =
    config.mtu ??
    podMtu(await hostMtu(config.hostInterface), {
      ipip: enabled.some((p) => p.spec.ipipMode !== 'Never'),
      vxlan: enabled.some((p) => p.spec.vxlanMode !== 'Never'),
    });
  const hostInterface = hostInterfaceOf(request);
  let plumbed;
  try {
    const pod = { hostInterface, netns: request.netns, ifName: request.ifName, address, mtu };
    plumbed = (await alreadyPlumbed(pod)) ?? (await plumb(pod));
  } catch (error) {
    // A pod that could not be plumbed must not keep its address.
    await ipam.release(handleId).catch(() => {});
    throw error;
  }
  await annotatePod(client, request, address).catch(() => {
    // The lab and plain runtimes may run pods without Pod objects: the address is still recorded in IPAM.
  });
  return {
    cniVersion: config.cniVersion,
    interfaces: [
      { name: hostInterface, mac: plumbed.hostMac },
      { name: request.ifName, mac: plumbed.podMac, sandbox: request.netns },
    ],
    ips: [{ address: `${address}/32`, gateway: podGateway, interface: 1 }],
    routes: [{ dst: '0.0.0.0/0' }],
    dns: {},
  };
}

async function annotatePod(client: KubeApi, request: CniRequest, address: string): Promise<void> {
  await client.mergePatch(
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: request.podName, namespace: request.podNamespace } },
    {
      metadata: {
        namespace: request.podNamespace,
        annotations: { [podAnnotations.podIP]: `${address}/32`, [podAnnotations.podIPs]: `${address}/32`, [podAnnotations.containerID]: request.containerId },
      },
    },
  );
}

export async function cniDel(request: CniRequest, client: KubeApi = new DirectKubeClient(request.config.kubeconfig)): Promise<void> {
  await unplumb(hostInterfaceOf(request));
  await withApi('releasing the address', () => new Ipam(client, request.config.nodename).release(handleIds.pod(request.containerId)));
}

export async function cniCheck(request: CniRequest, client: KubeApi = new DirectKubeClient(request.config.kubeconfig)): Promise<void> {
  const held = await withApi('reading the address', () => new Ipam(client, request.config.nodename).addressesOf(handleIds.pod(request.containerId)));
  if (!held[0]) throw new CniError(cniErrorCodes.checkFailed, `IPAM holds no address for container ${request.containerId}`);
  const prev = request.config.prevResult as Partial<CniResult> | undefined;
  const prevAddress = prev?.ips?.[0]?.address?.split('/')[0];
  if (prevAddress && prevAddress !== held[0].address) {
    throw new CniError(cniErrorCodes.checkFailed, `prevResult says ${prevAddress}, but IPAM holds ${held[0].address} for this container`);
  }
  const problems = await verify({ hostInterface: hostInterfaceOf(request), netns: request.netns, ifName: request.ifName, address: held[0].address, mtu: 0 });
  if (problems.length > 0) throw new CniError(cniErrorCodes.checkFailed, problems.join('; '));
}
