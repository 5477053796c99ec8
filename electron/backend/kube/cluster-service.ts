// Contexts and connections: lists the contexts of the merged kubeconfig, and connecting to one
// reads the server version and the node list. Every call is bounded by a timeout, so the UI
// always gets an answer: a result or an error that says what to do.
import type { KubeConfig} from '@kubernetes/client-node';
import { CoreV1Api, VersionApi, type V1Node } from '@kubernetes/client-node';
import type { ClusterNode, RequestResult } from '../../../shared/api/console-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { clusterError } from './cluster-errors.ts';
import { kubeconfigPaths, loadKubeconfig } from './kubeconfig.ts';
import { loginShellPath, mergePaths } from './login-shell-path.ts';

export interface ClusterServiceOptions {
  /** The kubeconfig files; default: as kubectl (KUBECONFIG, else ~/.kube/config). */
  paths?: () => string[];
  /** Bound on each call to the API server, exec plugin included. */
  timeoutMs?: number;
  /** How to learn the login shell's PATH; tests replace it. */
  loginPath?: () => string | undefined;
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => ConsoleError): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  promise.catch(() => undefined); // a late failure after the timeout must not become an unhandled rejection
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function toClusterNode(node: V1Node): ClusterNode {
  const labels = node.metadata?.labels ?? {};
  const roles = Object.keys(labels)
    .filter((label) => label.startsWith('node-role.kubernetes.io/'))
    .map((label) => label.slice('node-role.kubernetes.io/'.length))
    .filter((role) => role !== '');
  return {
    name: node.metadata?.name ?? '(unnamed)',
    addresses: (node.status?.addresses ?? []).map((a) => ({ type: a.type, address: a.address })),
    ready: (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    roles,
    ...(node.status?.nodeInfo?.kubeletVersion ? { kubeletVersion: node.status.nodeInfo.kubeletVersion } : {}),
    // The well-known label, else its deprecated beta name that older clusters still carry.
    ...(labels['topology.kubernetes.io/zone'] || labels['failure-domain.beta.kubernetes.io/zone'] ? { zone: labels['topology.kubernetes.io/zone'] || labels['failure-domain.beta.kubernetes.io/zone'] } : {}),
  };
}

export class ClusterService {
  private pathFixed = false;

  constructor(private readonly options: ClusterServiceOptions = {}) {}

  private load() {
    return loadKubeconfig(this.options.paths?.() ?? kubeconfigPaths());
  }

  list(): RequestResult<'contexts.list'> {
    const { contexts, currentContext, sources } = this.load();
    return { contexts, sources, ...(currentContext ? { currentContext } : {}) };
  }

  /** The merged kubeconfig with `contextName` current: what the installer and the pool editor act with. */
  kubeConfig(contextName: string): KubeConfig {
    const { config, contexts } = this.load();
    if (!contexts.some((c) => c.name === contextName)) throw new ConsoleError('context-not-found', `There is no context "${contextName}": connect to a cluster first.`);
    config.setCurrentContext(contextName);
    this.fixPathForExecPlugins(config);
    return config;
  }

  /** Exec plugins are spawned with process.env: give them the login shell's PATH, once. */
  private fixPathForExecPlugins(config: KubeConfig): void {
    if (this.pathFixed || !config.getCurrentUser()?.exec) return;
    this.pathFixed = true;
    process.env.PATH = mergePaths((this.options.loginPath ?? loginShellPath)(), process.env.PATH);
  }

  async connect(contextName: string): Promise<RequestResult<'contexts.connect'>> {
    const { config, contexts, sources } = this.load();
    const context = contexts.find((c) => c.name === contextName);
    if (!context) {
      const files = sources.map((s) => s.path).join(', ');
      throw new ConsoleError('context-not-found', `There is no context "${contextName}" in ${files}. Reload the list; the file may have changed.`);
    }
    if (!context.server) {
      throw new ConsoleError('kubeconfig-unreadable', `Context "${contextName}" names cluster "${context.cluster}", which no kubeconfig file defines.`);
    }
    config.setCurrentContext(contextName);
    this.fixPathForExecPlugins(config);
    const server = context.server;
    const timeoutMs = this.options.timeoutMs ?? 5_000;
    const timedOut = () =>
      new ConsoleError(
        'cluster-timeout',
        `The API server of ${contextName} at ${server} did not answer within ${timeoutMs / 1000} s. Check that the cluster is up and reachable (VPN?), ` +
          'or that its credential plugin is not waiting for a login.',
      );
    try {
      const version = await withTimeout(config.makeApiClient(VersionApi).getCode(), timeoutMs, timedOut);
      const nodes = await withTimeout(config.makeApiClient(CoreV1Api).listNode(), timeoutMs, timedOut);
      return { context: contextName, server, serverVersion: version.gitVersion, nodes: nodes.items.map(toClusterNode) };
    } catch (error) {
      throw clusterError(error, contextName, server, config.getCurrentUser()?.exec?.command);
    }
  }
}
