// The scan's evidence: the cluster's Calico objects from the Kubernetes API, then on every node at
// once, over the console's SSH connection, the scan script's sections (scan-script.ts) and what
// the node's speaker reports (the agent's RPC, or BIRD's control socket on a stock Calico node):
// its sessions (read twice, before and after the script's probes, so a flapping session shows)
// and its RIB, and the agent's own status. A node that cannot be read is named, not fatal; an API
// server that does not answer is evidence too.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Client } from 'ssh2';
import { ClusterObjects, slimNode, snapshotFromObjects, type ScanEvidence, type ScanNodeEvidence } from '../../../shared/doctor/scan-evidence.ts';
import { probeTargets } from '../../../shared/doctor/scan.ts';
import { pluralOfCalicoKind, type CalicoKind } from '../../../shared/model/calico-kinds.ts';
import { formatIPv4 } from '../../../shared/net/index.ts';
import { callAgent } from '../agent-rpc/agent-rpc.ts';
import { runScript } from '../installer/remote.ts';
import { retryThrottled } from '../kube/retry-throttled.ts';
import { parseSections } from './node-evidence-script.ts';
import { readSpeakerRib, readSpeakerSessions } from './speaker-reading.ts';
import { scanScript } from './scan-script.ts';

const group = 'crd.projectcalico.org';
const version = 'v1';

export async function readClusterObjects(kubeConfig: KubeConfig): Promise<ClusterObjects> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const list = (kind: CalicoKind, optional = false) =>
    (retryThrottled(() => custom.listClusterCustomObject({ group, version, plural: pluralOfCalicoKind(kind) })) as Promise<{ items: unknown[] }>).then(
      (r) => r.items,
      (error: unknown) => {
        if (optional) return [];
        throw error;
      },
    );
  const [nodes, pools, blocks, bgpConfigurations, bgpPeers, felixConfigurations] = await Promise.all([retryThrottled(() => core.listNode()), list('IPPool'), list('IPAMBlock'), list('BGPConfiguration', true), list('BGPPeer', true), list('FelixConfiguration', true)]);
  return ClusterObjects.parse({ nodes: nodes.items.map((n) => slimNode(n as Parameters<typeof slimNode>[0])), pools, blocks, bgpConfigurations, bgpPeers, felixConfigurations });
}

async function readAgent(client: Client): Promise<ScanNodeEvidence['agent']> {
  try {
    const status = await callAgent(client, 'status', undefined, 5000);
    return { answered: true, connected: status.datastore.connected, ...(status.datastore.synced !== undefined ? { synced: status.datastore.synced } : {}) };
  } catch (error) {
    return { answered: false, note: (error as Error).message };
  }
}

/** Everything the scan reads on one node. */
export async function scanNodeEvidence(client: Client, node: string, probes: string[]): Promise<ScanNodeEvidence> {
  const [first, agent] = await Promise.all([readSpeakerSessions(client), readAgent(client)]);
  const result = await runScript(client, `scanning ${node}`, scanScript, probes, 30_000);
  if (result.code !== 0) throw new Error(`the doctor's scan script failed on ${node} (exit ${result.code}): ${result.stderr.trim()}`);
  const [again, routes] = await Promise.all([readSpeakerSessions(client), readSpeakerRib(client, first).catch(() => [])]);
  return {
    node,
    sections: parseSections(result.stdout),
    bgp: { source: first.source, sessions: first.sessions, routes, ...(first.note ? { note: first.note } : {}), ...(first.notRunning ? { notRunning: first.notRunning } : {}) },
    ...(again.source === first.source ? { sessionsAgain: again.sessions } : {}),
    ...(agent ? { agent } : {}),
  };
}

export interface ScanOptions {
  kubeConfig: KubeConfig;
  clientFor: (nodeName: string, addresses: string[]) => Promise<Client>;
  /** Only these nodes (all when absent). */
  nodes?: string[];
  /** How long to wait for a node's SSH connection. */
  connectMs?: number;
  now?: () => Date;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

export async function collectScanEvidence(options: ScanOptions): Promise<ScanEvidence> {
  const collectedAt = (options.now?.() ?? new Date()).toISOString();
  let objects: ClusterObjects;
  try {
    objects = await within(readClusterObjects(options.kubeConfig), 10_000, 'the API server');
  } catch (error) {
    return { collectedAt, apiError: (error as Error).message, nodes: [], unreachable: [], gaps: [] };
  }
  const { snapshot } = snapshotFromObjects(objects);
  const names = snapshot.nodes.map((n) => n.name).filter((n) => !options.nodes || options.nodes.includes(n));
  const unreachable: ScanEvidence['unreachable'] = [];
  const read = await Promise.all(
    names.map(async (name) => {
      const node = snapshot.nodes.find((n) => n.name === name)!;
      const addresses = [node.internalIP, node.ipv4Address ? formatIPv4(node.ipv4Address.address) : undefined].filter((a): a is string => a !== undefined);
      try {
        const client = await within(options.clientFor(name, addresses), options.connectMs ?? 8000, `${name}'s SSH`);
        const probes = probeTargets(snapshot, name).map((t) => `${t.kind} ${t.address} ${t.dev} ${t.peer}`);
        return await scanNodeEvidence(client, name, probes);
      } catch (error) {
        unreachable.push({ node: name, error: (error as Error).message });
        return undefined;
      }
    }),
  );
  return { collectedAt, objects, nodes: read.filter((n): n is ScanNodeEvidence => n !== undefined), unreachable, gaps: [] };
}
