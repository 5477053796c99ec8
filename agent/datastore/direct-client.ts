// A small HTTPS client for the Kubernetes API, for the CNI plugin: one process per pod that must
// answer quickly, where loading @kubernetes/client-node costs seconds. It reads a kubeconfig
// (server, CA, bearer token or client certificate) and speaks plain JSON over node:https; the
// agent's long-running parts use client-node (kube-client.ts).
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { KubeError, collectionPath, describeRef, pluralOf, type KubeApi, type ListResult, type ObjectRef } from './kube-api.ts';

interface Kubeconfig {
  'current-context'?: string;
  contexts?: Array<{ name: string; context: { cluster: string; user: string } }>;
  clusters?: Array<{ name: string; cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string } }>;
  users?: Array<{ name: string; user: { token?: string; tokenFile?: string; 'client-certificate-data'?: string; 'client-key-data'?: string; 'client-certificate'?: string; 'client-key'?: string } }>;
}

export class DirectKubeClient implements KubeApi {
  private readonly agent: Agent;
  private readonly server: URL;
  private readonly token: string | undefined;

  constructor(kubeconfigFile: string) {
    let config: Kubeconfig;
    try {
      config = parseYaml(readFileSync(kubeconfigFile, 'utf8')) as Kubeconfig;
    } catch (error) {
      throw new Error(`cannot read the kubeconfig ${kubeconfigFile}: ${(error as Error).message}`);
    }
    const context = config.contexts?.find((c) => c.name === config['current-context'])?.context ?? config.contexts?.[0]?.context;
    const cluster = config.clusters?.find((c) => c.name === context?.cluster)?.cluster;
    const user = config.users?.find((u) => u.name === context?.user)?.user ?? {};
    if (!cluster) throw new Error(`the kubeconfig ${kubeconfigFile} names no cluster for its current context`);
    const relative = (file: string) => readFileSync(path.resolve(path.dirname(kubeconfigFile), file));
    const decode = (data: string | undefined, file: string | undefined) => (data ? Buffer.from(data, 'base64') : file ? relative(file) : undefined);
    this.server = new URL(cluster.server);
    this.token = user.token ?? (user.tokenFile ? relative(user.tokenFile).toString().trim() : undefined);
    const ca = decode(cluster['certificate-authority-data'], cluster['certificate-authority']);
    const cert = decode(user['client-certificate-data'], user['client-certificate']);
    const key = decode(user['client-key-data'], user['client-key']);
    this.agent = new Agent({ keepAlive: false, ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) });
  }

  private path(ref: { apiVersion: string; kind: string; metadata?: { name?: string; namespace?: string } }, name = true): string {
    const plural = pluralOf[ref.kind];
    if (!plural) throw new Error(`the CNI client does not know the resource of kind ${ref.kind}`);
    const base = collectionPath(ref.apiVersion, plural, ref.metadata?.namespace);
    return name && ref.metadata?.name ? `${base}/${encodeURIComponent(ref.metadata.name)}` : base;
  }

  private call<T>(method: string, urlPath: string, what: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        new URL(urlPath, this.server),
        {
          method,
          agent: this.agent,
          timeout: 10_000,
          headers: {
            Accept: 'application/json',
            ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}),
            ...(payload !== undefined ? { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = { message: text };
            }
            if (status >= 200 && status < 300) resolve(json as T);
            else {
              const failure = json as { message?: string; reason?: string } | undefined;
              reject(new KubeError(`${what}: ${failure?.message ?? `HTTP ${status}`}`, status, failure?.reason));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
      req.on('error', (error) => reject(new KubeError(`${what}: the API server is unreachable (${error.message})`, undefined)));
      req.end(payload);
    });
  }

  /** Retries what the server asks to be retried (429, 503) for a few seconds. */
  private async retrying<T>(action: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await action();
      } catch (error) {
        const status = error instanceof KubeError ? error.status : undefined;
        if ((status !== 429 && status !== 503) || attempt >= 25) throw error;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async get<T>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.retrying(() => this.call<T>('GET', this.path(ref), `reading ${describeRef(ref)}`));
    } catch (error) {
      if (error instanceof KubeError && error.status === 404) return undefined;
      throw error;
    }
  }

  async list<T>(apiVersion: string, kind: string): Promise<ListResult<T>> {
    const list = await this.retrying(() =>
      this.call<{ items: Array<Record<string, unknown>>; metadata?: { resourceVersion?: string } }>('GET', this.path({ apiVersion, kind }, false), `listing ${kind}`),
    );
    return { items: list.items.map((item) => ({ apiVersion, kind, ...item }) as T), resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  create<T>(object: T & ObjectRef): Promise<T> {
    return this.retrying(() => this.call<T>('POST', this.path(object, false), `creating ${describeRef(object)}`, object));
  }

  replace<T>(object: T & ObjectRef): Promise<T> {
    return this.retrying(() => this.call<T>('PUT', this.path(object), `updating ${describeRef(object)}`, object));
  }

  mergePatch<T>(ref: ObjectRef, patch: Record<string, unknown>): Promise<T> {
    return this.retrying(() => this.call<T>('PATCH', this.path(ref), `patching ${describeRef(ref)}`, patch, 'application/merge-patch+json'));
  }

  async delete(ref: ObjectRef & { metadata: { resourceVersion?: string } }): Promise<void> {
    const body = ref.metadata.resourceVersion ? { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { resourceVersion: ref.metadata.resourceVersion } } : undefined;
    try {
      await this.retrying(() => this.call('DELETE', this.path(ref), `deleting ${describeRef(ref)}`, body));
    } catch (error) {
      if (!(error instanceof KubeError && error.status === 404)) throw error;
    }
  }
}
