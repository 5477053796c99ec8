// Kubeconfig loading as kubectl does it: KUBECONFIG lists files that are merged, the first file to
// define a name wins (for clusters, users and contexts alike) and the first file to set
// current-context sets it; without KUBECONFIG, ~/.kube/config. Missing files are skipped, as
// kubectl skips them; a file that exists but cannot be read or parsed is reported by name, and
// the other files still load.
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig, type Cluster, type Context, type User } from '@kubernetes/client-node';
import type { KubeContext, KubeconfigSource } from '../../../shared/api/console-contract.ts';

export interface LoadedKubeconfig {
  config: KubeConfig;
  contexts: KubeContext[];
  currentContext?: string;
  sources: KubeconfigSource[];
}

/** The files kubectl would read, in order. */
export function kubeconfigPaths(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string[] {
  const list = env.KUBECONFIG?.split(delimiter).filter((p) => p !== '') ?? [];
  return list.length > 0 ? [...new Set(list)] : [join(home, '.kube', 'config')];
}

function describeLoadError(error: unknown): string {
  const e = error as NodeJS.ErrnoException & { mark?: unknown };
  switch (e.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied: make the file readable by your user (chmod 600 is usual)';
    case 'EISDIR':
      return 'this is a directory, not a kubeconfig file';
  }
  if (e.name === 'YAMLException' || e.mark !== undefined) return `not valid YAML: ${e.message.split('\n')[0]}`;
  return e.message.split('\n')[0] ?? String(error);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * The first field of a loaded file that kubectl would refuse and the client library lets through
 * (it keeps names and references of any type): a name or reference that is not a string.
 */
function shapeProblem(file: KubeConfig): string | undefined {
  const fields: Array<[string, unknown, boolean]> = [['current-context', file.getCurrentContext() as unknown, false]];
  file.getClusters().forEach((c, i) => fields.push([`clusters[${i}].name`, c.name, true], [`clusters[${i}].cluster.server`, c.server, false]));
  file.getUsers().forEach((u, i) => fields.push([`users[${i}].name`, u.name, true]));
  file.getContexts().forEach((c, i) =>
    fields.push([`contexts[${i}].name`, c.name, true], [`contexts[${i}].context.cluster`, c.cluster, true], [`contexts[${i}].context.user`, c.user, true], [`contexts[${i}].context.namespace`, c.namespace, false]),
  );
  for (const [field, value, required] of fields) {
    if (value === undefined || value === null || value === '') {
      if (required) return `${field} is required (a name): add it, as kubectl needs it`;
      continue;
    }
    if (typeof value !== 'string') return `${field} must be a string (got ${kindOf(value)}): fix it in the file, as kubectl would refuse it`;
  }
  return undefined;
}

export function loadKubeconfig(paths: string[]): LoadedKubeconfig {
  const clusters = new Map<string, Cluster>();
  const users = new Map<string, User>();
  const contexts = new Map<string, Context & { source: string }>();
  let currentContext: string | undefined;
  const sources: KubeconfigSource[] = [];

  for (const path of paths) {
    const file = new KubeConfig();
    try {
      file.loadFromFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        sources.push({ path, state: 'missing' });
      } else {
        sources.push({ path, state: 'error', message: `${path}: ${describeLoadError(error)}` });
      }
      continue;
    }
    const problem = shapeProblem(file);
    if (problem) {
      sources.push({ path, state: 'error', message: `${path}: ${problem}` });
      continue;
    }
    const current = file.getCurrentContext();
    sources.push({ path, state: 'loaded' });
    for (const cluster of file.getClusters()) if (!clusters.has(cluster.name)) clusters.set(cluster.name, cluster);
    for (const user of file.getUsers()) if (!users.has(user.name)) users.set(user.name, user);
    for (const context of file.getContexts()) if (!contexts.has(context.name)) contexts.set(context.name, { ...context, source: path });
    if (currentContext === undefined && current) currentContext = current;
  }

  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [...clusters.values()],
    users: [...users.values()],
    contexts: [...contexts.values()].map(({ source: _source, ...context }) => context),
    currentContext: currentContext ?? '',
  });
  return {
    config,
    currentContext,
    sources,
    contexts: [...contexts.values()].map((context) => ({
      name: context.name,
      cluster: context.cluster,
      user: context.user,
      ...(context.namespace ? { namespace: context.namespace } : {}),
      ...(clusters.get(context.cluster)?.server ? { server: clusters.get(context.cluster)!.server } : {}),
      source: context.source,
    })),
  };
}
