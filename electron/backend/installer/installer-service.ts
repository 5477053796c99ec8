// The installer behind the console API: the artifact the console carries, and install/uninstall
// on many nodes at once over the console's own SSH connections (host keys checked as for any
// connection), each node reporting its progress as `agent.installProgress` events.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { InstallProgress } from '../../../shared/api/agent-install.ts';
import type { EventEmitter, RequestHandlers } from '../../../shared/api/console-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import type { NodeStore } from '../nodes/node-store.ts';
import type { SshManager } from '../ssh/ssh-manager.ts';
import { applyAgentManifests, requestAgentToken } from './agent-credential.ts';
import { defaultArtifactDir, loadArtifact, verifyArtifact } from './artifact.ts';
import { installOnNode, uninstallFromNode, uploadSharing, type InstallTarget } from './install-node.ts';

type Handlers = Pick<RequestHandlers, 'agent.artifact' | 'agent.install' | 'agent.uninstall'>;

export interface InstallerServiceOptions {
  artifactDir?: string;
  /** Seconds a new agent has to answer before the node rolls back. */
  startWaitSeconds?: number;
  /** How many nodes install at once (each uploads 30 MB and unpacks 100 MB); 8 by default. */
  concurrency?: number;
  /** Told how long each step of each node's install took (milliseconds). */
  trace?: (nodeId: string, step: string, ms: number) => void;
}

const defaultConcurrency = 8;

/** `work` on every item, at most `limit` at a time, the results in the items' order. */
async function mapBounded<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export class InstallerService {
  constructor(
    private readonly ssh: SshManager,
    private readonly nodes: NodeStore,
    private readonly kubeConfigFor: (context: string) => KubeConfig,
    private readonly options: InstallerServiceOptions = {},
  ) {}

  private connectFor(nodeId: string) {
    return async () => {
      const result = await this.ssh.connect(nodeId);
      if (result.state !== 'connected') {
        throw new ConsoleError('ssh-disconnected', `Accept ${this.nodes.get(nodeId).name}'s host key first (Nodes, Connect): the console installs only on hosts it has verified.`);
      }
      return this.ssh.client(nodeId);
    };
  }

  handlers(emit: EventEmitter): Handlers {
    const report = (progress: InstallProgress) => emit('agent.installProgress', progress);
    return {
      'agent.artifact': async () => {
        const artifact = loadArtifact(this.options.artifactDir ?? defaultArtifactDir());
        return { version: artifact.manifest.version, sha256: artifact.manifest.sha256, bytes: artifact.bytes, arch: artifact.manifest.arch, dir: artifact.dir };
      },
      'agent.install': async ({ context, nodes }) => {
        const t0 = Date.now();
        const artifact = loadArtifact(this.options.artifactDir ?? defaultArtifactDir());
        const admin = this.kubeConfigFor(context);
        // The artifact is hashed as it goes up (each codec once), while the nodes are read; a node
        // uploads only once it matched. zstd is the likely one: begun at once.
        const checks = new Map<string, Promise<void>>();
        const checkArtifact = (codec: 'zstd' | 'gzip' | 'raw') => {
          let check = checks.get(codec);
          if (!check) {
            check = verifyArtifact(artifact, codec);
            check.then(() => this.options.trace?.('*', `artifact checked (${codec})`, Date.now() - t0), () => undefined);
            checks.set(codec, check);
          }
          return check;
        };
        if (artifact.manifest.files.some((f) => f.zstd)) void checkArtifact('zstd');
        const clusterNodes = (await admin.makeApiClient(CoreV1Api).listNode()).items;
        this.options.trace?.('*', 'nodes listed', Date.now() - t0);
        const limit = this.options.concurrency ?? defaultConcurrency;
        // Nodes that share a filesystem (their caches have one id) share one upload.
        const shareUpload = uploadSharing();
        for (const { nodeId } of nodes.slice(limit)) report({ nodeId, operation: 'install', phase: 'queued', message: `Waiting: ${limit} nodes install at a time` });
        // One set of manifests and tokens per request: nodes ask in parallel, the cluster objects are applied once.
        let manifests: Promise<unknown> | undefined;
        const cluster = {
          applyManifests: (yaml: string) => (manifests ??= applyAgentManifests(admin, yaml)),
          agentKubeconfig: (nodeName: string) => requestAgentToken(admin, undefined, nodeName),
        };
        const results = await mapBounded(nodes, limit, async ({ nodeId, nodeName }) => {
            const sshNode = this.nodes.get(nodeId);
            const name = nodeName ?? sshNode.name;
            const node = clusterNodes.find((n) => n.metadata?.name === name);
            if (!node) {
              const progress: InstallProgress = { nodeId, operation: 'install', phase: 'failed', outcome: 'failed', retryable: false, message: `The cluster has no node named ${name}: the agent runs as a cluster node. Pick the right cluster node for ${sshNode.name}.` };
              report(progress);
              return progress;
            }
            const address = node.metadata?.annotations?.['projectcalico.org/IPv4Address'];
            const target: InstallTarget = { nodeId, label: sshNode.name, connect: this.connectFor(nodeId), config: { nodeName: name, ...(address ? { address } : {}) } };
            const trace = this.options.trace;
            return installOnNode(target, artifact, cluster, report, {
              checkArtifact,
              shareUpload,
              ...(this.options.startWaitSeconds ? { startWaitSeconds: this.options.startWaitSeconds } : {}),
              ...(trace ? { trace: (step: string, ms: number) => trace(nodeId, step, ms) } : {}),
            });
        });
        return { results };
      },
      'agent.uninstall': async ({ nodes }) => ({
        results: await Promise.all(nodes.map(({ nodeId }) => uninstallFromNode({ nodeId, label: this.nodes.get(nodeId).name, connect: this.connectFor(nodeId) }, report))),
      }),
    };
  }
}
