// What the agent's parts need of the Kubernetes API, independent of the client behind it: the
// long-running agent uses @kubernetes/client-node (kube-client.ts); the CNI plugin, a process
// per pod that must answer in well under a second, a small direct HTTPS client
// (direct-client.ts), because loading client-node alone costs seconds of start-up.
import { calicoKinds } from '../../shared/model/calico-kinds.ts';
import { nodeAgentStatusKind } from '../../shared/model/node-agent-status.ts';

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export interface KubeApi {
  get<T>(ref: ObjectRef): Promise<T | undefined>;
  list<T>(apiVersion: string, kind: string): Promise<ListResult<T>>;
  create<T>(object: T & ObjectRef): Promise<T>;
  replace<T>(object: T & ObjectRef): Promise<T>;
  mergePatch<T>(ref: ObjectRef, patch: Record<string, unknown>): Promise<T>;
  delete(ref: ObjectRef & { metadata: { resourceVersion?: string } }): Promise<void>;
}

export class KubeError extends Error {
  constructor(
    message: string,
    /** The HTTP status; undefined when the server could not be reached. */
    readonly status: number | undefined,
    readonly reason?: string,
  ) {
    super(message);
  }
}

export const isConflict = (error: unknown) => error instanceof KubeError && error.status === 409;
export const isNotFound = (error: unknown) => error instanceof KubeError && error.status === 404;
export const isForbidden = (error: unknown) => error instanceof KubeError && error.status === 403;
export const isUnreachable = (error: unknown) => error instanceof KubeError && error.status === undefined;

/** Where a kind's collection lives on the server. */
export function collectionPath(apiVersion: string, plural: string, namespace?: string): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return namespace ? `${base}/namespaces/${namespace}/${plural}` : `${base}/${plural}`;
}

/** The plural resource names of the kinds the agent touches: Calico's from the registry, and the core ones it reads. */
export const pluralOf: Record<string, string> = {
  ...Object.fromEntries(calicoKinds.map((k) => [k.kind, k.plural])),
  [nodeAgentStatusKind.kind]: nodeAgentStatusKind.plural,
  Node: 'nodes',
  Pod: 'pods',
  Secret: 'secrets',
};

export const describeRef = (ref: ObjectRef) => `${ref.kind} ${JSON.stringify(ref.metadata.name)}`;
