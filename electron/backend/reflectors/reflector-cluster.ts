// The reflector migration's and advice's real sides: the Kubernetes API (Nodes with their labels
// and Calico annotations, IPAM blocks, BGPConfiguration, BGPPeer, the agents' GinghamNodeStatus)
// and every node's speaker over the console's SSH connections (its sessions and RIB): the agent,
// or calico-node's BIRD on a node Calico still runs, so that a mixed cluster migrates too.
import { ApiException, CoreV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject, type V1Node } from '@kubernetes/client-node';
import type { Client } from 'ssh2';
import { reflectorLabel, reflectorPeerName } from '../../../shared/api/reflectors-contract.ts';
import { effectiveBgpSettings, parseBGPConfiguration, type BGPConfiguration } from '../../../shared/model/bgp-configuration.ts';
import { parseBGPPeer, type BGPPeer } from '../../../shared/model/bgp-peer.ts';
import { calicoAnnotations, parseCalicoNode } from '../../../shared/model/calico-node.ts';
import type { ClusterNode } from '../../../shared/model/cluster-snapshot.ts';
import { nodeAgentStatusKind, nodeAgentStatusObjectSchema } from '../../../shared/model/node-agent-status.ts';
import { formatIPv4 } from '../../../shared/net/index.ts';
import { readSpeakerRib, readSpeakerSessions } from '../doctor/speaker-reading.ts';
import { RoutingConfigStore } from '../routing-config/routing-config-store.ts';
import type { ClusterBgp, NodeBgp } from './bgp-readiness.ts';
import type { ReflectorSides } from './migration.ts';

const group = 'crd.projectcalico.org';
const version = 'v1';
const fieldManager = 'gingham-console';

export interface ReflectorClusterDeps {
  kubeConfig: KubeConfig;
  /** The SSH connection to a cluster node (by name, or one of its addresses). */
  clientFor(node: string, addresses: string[]): Promise<Client>;
}

/** The BGPPeer Calico documents for reflectors: every node peers with every node labelled route-reflector=true. */
export const reflectorPeerSpec = { nodeSelector: 'all()', peerSelector: `${reflectorLabel} == 'true'` };

function clusterNode(node: V1Node): ClusterNode {
  return { ...parseCalicoNode(node), labels: node.metadata?.labels ?? {} };
}

export class ReflectorCluster {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly objects: KubernetesObjectApi;

  constructor(private readonly deps: ReflectorClusterDeps) {
    this.core = deps.kubeConfig.makeApiClient(CoreV1Api);
    this.custom = deps.kubeConfig.makeApiClient(CustomObjectsApi);
    this.objects = KubernetesObjectApi.makeApiClient(deps.kubeConfig);
  }

  async clusterNodes(): Promise<ClusterNode[]> {
    return (await this.core.listNode()).items.map(clusterNode);
  }

  async bgpConfigurations(): Promise<BGPConfiguration[]> {
    const items = ((await this.custom.listClusterCustomObject({ group, version, plural: 'bgpconfigurations' })) as { items: unknown[] }).items;
    return items.map(parseBGPConfiguration);
  }

  async bgpPeers(): Promise<BGPPeer[]> {
    const items = ((await this.custom.listClusterCustomObject({ group, version, plural: 'bgppeers' })) as { items: unknown[] }).items;
    return items.map(parseBGPPeer);
  }

  async meshEnabled(): Promise<boolean> {
    return effectiveBgpSettings(await this.bgpConfigurations()).nodeToNodeMeshEnabled;
  }

  /** Established of all sessions the agents publish; undefined where no agent publishes. */
  async publishedSessions(): Promise<{ established: number; total: number } | undefined> {
    try {
      const list = (await this.custom.listClusterCustomObject({ group: 'gingham.io', version: 'v1alpha1', plural: nodeAgentStatusKind.plural })) as { items: unknown[] };
      const statuses = list.items.flatMap((item) => {
        const parsed = nodeAgentStatusObjectSchema.safeParse(item);
        return parsed.success ? [parsed.data.status.bgp] : [];
      });
      if (statuses.length === 0) return undefined;
      return { established: statuses.reduce((n, s) => n + s.established, 0), total: statuses.reduce((n, s) => n + s.total, 0) };
    } catch {
      return undefined; // no agent has installed the kind: nothing published
    }
  }

  private async blocks(): Promise<Map<string, string>> {
    const items = ((await this.custom.listClusterCustomObject({ group, version, plural: 'ipamblocks' })) as { items: Array<{ spec?: { cidr?: string; affinity?: string } }> }).items;
    const blocks = new Map<string, string>();
    for (const item of items) {
      const owner = item.spec?.affinity?.startsWith('host:') ? item.spec.affinity.slice(5) : undefined;
      if (owner && item.spec?.cidr) blocks.set(item.spec.cidr, owner);
    }
    return blocks;
  }

  /** One node's sessions and paths from its speaker, the agent or BIRD; a peer's `from` is address[:port]. */
  private async nodeBgp(name: string, address: string): Promise<NodeBgp> {
    const client = await this.deps.clientFor(name, [address]);
    const speaker = await readSpeakerSessions(client);
    if (speaker.source === 'none') throw new Error(speaker.note ?? 'no BGP speaker answers');
    if (speaker.notRunning) throw new Error(`its speaker is not running: ${speaker.notRunning}`);
    const sessions = new Map(speaker.sessions.map((p) => [p.address, p.state === 'up']));
    const paths = new Map<string, Set<string>>();
    for (const path of await readSpeakerRib(client, speaker)) {
      const from = paths.get(path.prefix) ?? new Set<string>();
      from.add(path.from.split(':')[0]!);
      paths.set(path.prefix, from);
    }
    return { sessions, paths };
  }

  sides(): ReflectorSides {
    const addressesOf = (nodes: ClusterNode[]) => new Map(nodes.flatMap((n) => (n.ipv4Address ? [[n.name, formatIPv4(n.ipv4Address.address)] as const] : [])));
    return {
      nodes: async () => {
        const [nodes, meshEnabled] = await Promise.all([this.clusterNodes(), this.meshEnabled()]);
        return { addresses: addressesOf(nodes), reflectors: nodes.filter((n) => n.routeReflectorClusterId).map((n) => n.name), meshEnabled };
      },
      readBgp: async () => {
        const [nodes, blocks] = await Promise.all([this.clusterNodes(), this.blocks()]);
        const addresses = addressesOf(nodes);
        const bgp = new Map<string, NodeBgp | string>();
        await Promise.all([...addresses].map(async ([name, address]) => {
          try {
            bgp.set(name, await this.nodeBgp(name, address));
          } catch (error) {
            bgp.set(name, (error as Error).message);
          }
        }));
        return { addresses, blocks, bgp } satisfies ClusterBgp;
      },
      createPeering: async () => {
        const store = new RoutingConfigStore(this.deps.kubeConfig, 'BGPPeer');
        const existing = (await store.list()).find((p) => p.name === reflectorPeerName);
        if (existing) return `BGPPeer ${reflectorPeerName} is there already`;
        await store.apply(reflectorPeerName, reflectorPeerSpec);
        return `BGPPeer ${reflectorPeerName}: nodeSelector ${reflectorPeerSpec.nodeSelector}, peerSelector ${reflectorPeerSpec.peerSelector}`;
      },
      deletePeering: async () => {
        try {
          await this.custom.deleteClusterCustomObject({ group, version, plural: 'bgppeers', name: reflectorPeerName });
          return `BGPPeer ${reflectorPeerName} deleted`;
        } catch (error) {
          if (error instanceof ApiException && error.code === 404) return `BGPPeer ${reflectorPeerName} was not there`;
          throw error;
        }
      },
      setReflector: async (name, clusterId) => {
        // One merge patch: the label the BGPPeer selects by and the cluster ID change together, so
        // no agent sees a reflector without its peering or a labelled node that does not reflect.
        const patch = {
          apiVersion: 'v1', kind: 'Node',
          metadata: { name, labels: { [reflectorLabel]: clusterId ? 'true' : null }, annotations: { [calicoAnnotations.routeReflectorClusterId]: clusterId ?? null } },
        };
        await this.objects.patch(patch as unknown as KubernetesObject, undefined, undefined, fieldManager, undefined, PatchStrategy.MergePatch);
      },
      setMesh: async (enabled) => {
        const store = new RoutingConfigStore(this.deps.kubeConfig, 'BGPConfiguration');
        const current = (await store.list()).find((c) => c.name === 'default');
        await store.apply('default', { ...(current?.spec ?? {}), nodeToNodeMeshEnabled: enabled }, current?.resourceVersion);
        return `BGPConfiguration default: nodeToNodeMeshEnabled ${enabled}`;
      },
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    };
  }
}
