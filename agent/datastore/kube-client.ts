// The agent's one door to the Kubernetes API: @kubernetes/client-node's generic object API for
// reads and writes, and its Watch for streams. Errors keep the server's status code, because the
// IPAM's races are decided by 409 (a create or a resourceVersion conflict) and 404.
import { readFileSync } from 'node:fs';
import { ApiException, CustomObjectsApi, KubeConfig, KubernetesObjectApi, PatchStrategy, Watch, type KubernetesObject } from '@kubernetes/client-node';
import { KubeError, describeRef as describe, pluralOf, type KubeApi, type ListResult, type ObjectRef } from './kube-api.ts';

/** Turns client-node's errors into a KubeError that carries the HTTP status (undefined: unreachable). */
function explain(error: unknown, what: string): KubeError {
  if (error instanceof ApiException) {
    const body = (typeof error.body === 'string' ? safeJson(error.body) : error.body) as { message?: string; reason?: string } | undefined;
    return new KubeError(`${what}: ${body?.message ?? error.message}`, error.code, body?.reason);
  }
  const message = (error as Error)?.message ?? String(error);
  return new KubeError(`${what}: the API server is unreachable (${message})`, undefined);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

/**
 * Retries what the server asks to be retried: 429 (too many requests) and 503 (for example
 * "storage is (re)initializing" just after a CRD is established), for up to about five seconds.
 */
async function retrying<T>(action: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await action();
    } catch (error) {
      const status = error instanceof ApiException ? error.code : undefined;
      if ((status !== 429 && status !== 503) || attempt >= 25) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}


/** Plain JSON: client-node turns core objects into classes with Date fields; the agent wants data. */
const plain = <T>(value: unknown): T => JSON.parse(JSON.stringify(value)) as T;

export class KubeClient implements KubeApi {
  readonly objects: KubernetesObjectApi;
  readonly watch: Watch;

  constructor(readonly config: KubeConfig) {
    this.objects = KubernetesObjectApi.makeApiClient(config);
    this.watch = new Watch(config);
  }

  static fromKubeconfigFile(file: string): KubeClient {
    const config = new KubeConfig();
    config.loadFromFile(file);
    return new KubeClient(config);
  }

  /** A client from a bearer-token file (re-read per request, so a renewed token is picked up). */
  static fromToken(options: { server: string; caFile: string; tokenFile: string }): KubeClient {
    const config = new KubeConfig();
    config.loadFromClusterAndUser(
      { name: 'cluster', server: options.server, caData: readFileSync(options.caFile).toString('base64'), skipTLSVerify: false },
      { name: 'gingham-agent', authProvider: { name: 'tokenFile', config: { tokenFile: options.tokenFile } } },
    );
    return new KubeClient(config);
  }

  async get<T>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return plain<T>(await retrying(() => this.objects.read(ref as KubernetesObject & ObjectRef)));
    } catch (error) {
      const failure = explain(error, `reading ${describe(ref)}`);
      if (failure.status === 404) return undefined;
      throw failure;
    }
  }

  async list<T>(apiVersion: string, kind: string): Promise<ListResult<T>> {
    try {
      const list = await retrying(() => this.objects.list(apiVersion, kind));
      // Items of built-in kinds come without apiVersion and kind: put them back, the model's parsers want them.
      const items = plain<Array<Record<string, unknown>>>(list.items).map((item) => ({ apiVersion, kind, ...item }));
      return { items: items as T[], resourceVersion: list.metadata?.resourceVersion ?? '' };
    } catch (error) {
      throw explain(error, `listing ${kind}`);
    }
  }

  /** Creates `object`; a 409 means someone else created it first. */
  async create<T>(object: T & ObjectRef): Promise<T> {
    try {
      return plain<T>(await retrying(() => this.objects.create(object as KubernetesObject)));
    } catch (error) {
      throw explain(error, `creating ${describe(object)}`);
    }
  }

  /** Replaces `object`; with metadata.resourceVersion set, a 409 means it changed since it was read. */
  async replace<T>(object: T & ObjectRef): Promise<T> {
    try {
      return plain<T>(await retrying(() => this.objects.replace(object as KubernetesObject)));
    } catch (error) {
      throw explain(error, `updating ${describe(object)}`);
    }
  }

  async mergePatch<T>(ref: ObjectRef, patch: Record<string, unknown>): Promise<T> {
    try {
      const body = { ...patch, apiVersion: ref.apiVersion, kind: ref.kind, metadata: { ...(patch.metadata as object), name: ref.metadata.name } };
      return plain<T>(await retrying(() => this.objects.patch(body as KubernetesObject, undefined, undefined, 'gingham-agent', undefined, PatchStrategy.MergePatch)));
    } catch (error) {
      throw explain(error, `patching ${describe(ref)}`);
    }
  }

  /**
   * Replaces the status of a cluster-scoped custom object whose CRD has a status subresource
   * (Calico's CalicoNodeStatus): a write to the object itself would leave its status untouched.
   */
  async replaceStatus<T>(object: T & ObjectRef & { metadata: { resourceVersion?: string } }): Promise<T> {
    const [group, version] = object.apiVersion.split('/') as [string, string];
    const plural = pluralOf[object.kind];
    if (!plural) throw new Error(`replaceStatus: ${object.kind} is not a kind the agent knows`);
    try {
      const api = this.config.makeApiClient(CustomObjectsApi);
      return plain<T>(await retrying(() => api.replaceClusterCustomObjectStatus({ group, version, plural, name: object.metadata.name, body: object })));
    } catch (error) {
      throw explain(error, `updating the status of ${describe(object)}`);
    }
  }

  /** Deletes `ref`; with a resourceVersion, only that version (a 409 if it changed). Absent is fine. */
  async delete(ref: ObjectRef & { metadata: { resourceVersion?: string; uid?: string } }): Promise<void> {
    try {
      const preconditions = ref.metadata.resourceVersion ? { resourceVersion: ref.metadata.resourceVersion } : undefined;
      await retrying(() => this.objects.delete(ref as KubernetesObject, undefined, undefined, undefined, undefined, undefined, preconditions ? { preconditions } : undefined));
    } catch (error) {
      const failure = explain(error, `deleting ${describe(ref)}`);
      if (failure.status !== 404) throw failure;
    }
  }
}
