// The doctor's evidence for one trace: the cluster's objects from the Kubernetes API (nodes with
// Calico's annotations, IP pools, pods, BGPPeers), then on the source's and the destination's
// node, over the console's SSH connection, the node script's sections and the BGP paths for the
// other end (the agent's RIB over its RPC, or BIRD's `show route for ... all` on its socket, or
// nothing). Works on nodes without the Gingham agent: everything but the BGP paths is iproute2.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Client } from 'ssh2';
import { ConsoleError } from '../../../shared/api/errors.ts';
import type { BgpPathFacts, ClusterFacts, NodeEvidence, PodFacts, TraceEvidence, TraceRequest } from '../../../shared/doctor/evidence.ts';
import { resolveEndpoint } from '../../../shared/doctor/endpoints.ts';
import { pluralOfCalicoKind } from '../../../shared/model/calico-kinds.ts';
import { containsAddress, parseCidr, parseIPv4 } from '../../../shared/net/index.ts';
import { AgentUnreachable, callAgent } from '../agent-rpc/agent-rpc.ts';
import { runScript } from '../installer/remote.ts';
import { poolRow } from '../ippools/ippool-store.ts';
import { birdSockets } from '../peers/bird-socket.ts';
import { birdRoutesFor } from './bird-routes.ts';
import { nodeEvidenceScript, parseSections } from './node-evidence-script.ts';

const group = 'crd.projectcalico.org';
const version = 'v1';

export async function readClusterFacts(kubeConfig: KubeConfig): Promise<ClusterFacts> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const [nodes, pods, pools, peers] = await Promise.all([
    core.listNode(),
    core.listPodForAllNamespaces(),
    custom.listClusterCustomObject({ group, version, plural: pluralOfCalicoKind('IPPool') }) as Promise<{ items: Parameters<typeof poolRow>[0][] }>,
    (custom.listClusterCustomObject({ group, version, plural: pluralOfCalicoKind('BGPPeer') }) as Promise<{ items: { metadata: { name: string }; spec?: { peerIP?: string; node?: string } }[] }>).catch(() => ({ items: [] })),
  ]);
  const readPools: ClusterFacts['pools'] = [];
  const unreadPools: ClusterFacts['unreadPools'] = [];
  for (const item of pools.items) {
    try {
      const row = poolRow(item);
      readPools.push({ name: row.name, ...poolFacts(row.fields) });
    } catch (error) {
      unreadPools.push({ name: item.metadata.name, reason: (error as Error).message });
    }
  }
  return {
    nodes: nodes.items.map((node) => {
      const a = node.metadata?.annotations ?? {};
      const internalIp = node.status?.addresses?.find((x) => x.type === 'InternalIP')?.address;
      const pick = (key: string) => (a[key] ? { [key.endsWith('IPv4Address') ? 'ipv4Address' : key.endsWith('IPIPTunnelAddr') ? 'ipipTunnelAddress' : key.endsWith('VXLANTunnelAddr') ? 'vxlanTunnelAddress' : 'vxlanMac']: a[key] } : {});
      return {
        name: node.metadata?.name ?? '',
        ...(internalIp ? { internalIp } : {}),
        ...pick('projectcalico.org/IPv4Address'),
        ...pick('projectcalico.org/IPv4IPIPTunnelAddr'),
        ...pick('projectcalico.org/IPv4VXLANTunnelAddr'),
        ...pick('projectcalico.org/VXLANTunnelMACAddr'),
      };
    }),
    pools: readPools,
    unreadPools,
    pods: pods.items
      .filter((p) => p.status?.podIP && p.spec?.nodeName && !p.spec.hostNetwork && p.status.phase !== 'Succeeded' && p.status.phase !== 'Failed')
      .map((p) => ({ name: p.metadata!.name!, namespace: p.metadata!.namespace ?? 'default', node: p.spec!.nodeName!, ip: p.status!.podIP! })),
    bgpPeers: peers.items.filter((p) => p.spec?.peerIP).map((p) => ({ name: p.metadata.name, peerIP: p.spec!.peerIP!.replace(/:\d+$/, ''), ...(p.spec?.node ? { node: p.spec.node } : {}) })),
  };
}

function poolFacts(fields: ReturnType<typeof poolRow>['fields']) {
  return { cidr: fields.cidr, ipipMode: fields.ipipMode, vxlanMode: fields.vxlanMode, natOutgoing: fields.natOutgoing, disabled: fields.disabled };
}

/** The BGP paths a node holds for `address`: the agent's RIB, else BIRD's, else none (and why). */
async function bgpPaths(client: Client, address: string): Promise<NodeEvidence['bgp']> {
  const covers = (prefix: string) => {
    try {
      return containsAddress(parseCidr(prefix), parseIPv4(address));
    } catch {
      return false;
    }
  };
  let agentNote = '';
  try {
    const rib = await callAgent(client, 'bgp.routes', {}, 5000);
    const paths: BgpPathFacts[] = rib.routes
      .filter((r) => covers(r.prefix))
      .flatMap((r) => r.paths.map((p) => ({ prefix: r.prefix, from: p.from, nextHop: p.nextHop, best: p.best, asPath: p.asPath })));
    return { source: 'agent', paths };
  } catch (error) {
    if (!(error instanceof AgentUnreachable)) {
      // The agent answers, but has no BGP (VXLAN only): say so rather than asking BIRD.
      return { source: 'agent', paths: [], note: `the agent's RIB could not be read: ${(error as Error).message}` };
    }
    agentNote = error.message;
  }
  for (const socket of birdSockets) {
    try {
      return { source: 'bird', paths: await birdRoutesFor(client, socket, address), note: `read from BIRD at ${socket}` };
    } catch {
      // the next socket
    }
  }
  return { source: 'none', paths: [], note: `neither the Gingham agent (${agentNote}) nor BIRD (${birdSockets.join(', ')}) answers on this node` };
}

/** Runs the node script for (local, remote) on the node and reads its BGP paths for the remote. */
export async function nodeEvidence(client: Client, node: string, local: string, remote: string, peerNode: string | undefined, port: number | undefined): Promise<NodeEvidence> {
  const [result, bgp] = await Promise.all([
    runScript(client, `reading ${node}'s routes for the doctor`, nodeEvidenceScript, [local, remote, peerNode ?? '', port ? String(port) : ''], 20_000),
    bgpPaths(client, remote),
  ]);
  if (result.code !== 0) throw new ConsoleError('internal', `the doctor's script failed on ${node} (exit ${result.code}): ${result.stderr.trim()}`);
  return { node, local, remote, ...(peerNode ? { peerNode } : {}), sections: parseSections(result.stdout), bgp };
}

export interface CollectOptions {
  kubeConfig: KubeConfig;
  /** The SSH connection to a cluster node, by its name; throws saying what to do when there is none. */
  clientFor: (nodeName: string) => Promise<Client>;
  /** Told the cluster's objects as soon as they are read (before any node is). */
  onCluster?: (cluster: ClusterFacts) => void;
  now?: () => Date;
}

const nodeAddress = (cluster: ClusterFacts, name: string) => {
  const node = cluster.nodes.find((n) => n.name === name);
  return node?.ipv4Address?.split('/')[0] ?? node?.internalIp;
};

/** Everything a trace from `request.source` to `request.destination` needs; what cannot be read is a gap, not an error. */
export async function collectTraceEvidence(request: TraceRequest, options: CollectOptions): Promise<TraceEvidence> {
  const cluster = await readClusterFacts(options.kubeConfig);
  options.onCluster?.(cluster);
  const source = resolveEndpoint(cluster, request.source, 'source');
  const destination = resolveEndpoint(cluster, request.destination, 'destination');
  if (!source.pod) throw new ConsoleError('invalid-field', `The source ${request.source} is not a pod of the cluster: a trace starts at a pod (name, namespace/name or its address).`);
  const gaps: string[] = cluster.unreadPools.map((p) => `IPPool ${p.name} left out: ${p.reason}`);
  const read = async (pod: PodFacts, remote: string, peerNode: string | undefined): Promise<NodeEvidence | undefined> => {
    try {
      return await nodeEvidence(await options.clientFor(pod.node), pod.node, pod.ip, remote, peerNode, pod === destination.pod ? request.port : undefined);
    } catch (error) {
      gaps.push(`${pod.node}: ${(error as Error).message}`);
      return undefined;
    }
  };
  const [src, dst] = await Promise.all([
    read(source.pod, destination.ip, destination.pod ? nodeAddress(cluster, destination.pod.node) : destination.node ? nodeAddress(cluster, destination.node) : undefined),
    destination.pod ? read(destination.pod, source.ip, nodeAddress(cluster, source.pod.node)) : Promise.resolve(undefined),
  ]);
  return {
    request,
    collectedAt: (options.now?.() ?? new Date()).toISOString(),
    cluster,
    ...(src ? { source: src } : {}),
    ...(dst ? { destination: dst } : {}),
    gaps,
  };
}
