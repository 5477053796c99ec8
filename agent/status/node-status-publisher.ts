// Keeps this node's GinghamNodeStatus in the API server: written when its content changes (at most
// once per `minIntervalMs`, the last change always written) and refreshed every heartbeat, so the
// console's one watch shows every node without an SSH round trip each. The content is computed
// locally and compared before any request: a quiet node costs the API server one small write a
// heartbeat. Failures never reach routing: they are logged once, with what to do, and retried.
import type { Logger } from 'pino';
import { heartbeatSeconds, nodeAgentStatusKind, statusContent, type NodeAgentStatus } from '../../shared/model/node-agent-status.ts';
import { isConflict, isForbidden, isNotFound, type KubeApi } from '../datastore/kube-api.ts';

export type StatusContent = Omit<NodeAgentStatus, 'changedAt' | 'heartbeatAt'>;

export interface PublisherOptions {
  minIntervalMs?: number;
  heartbeatMs?: number;
  /** How often the content is recomputed locally to catch changes without an event (BGP session states). */
  checkMs?: number;
  /** How long a second, different failure within one outage must last before it is said. */
  settleMs?: number;
  now?: () => number;
}

export interface PublisherStats {
  writes: number;
  bytes: number;
  failures: number;
}

interface StoredObject {
  metadata: { name: string; resourceVersion?: string };
}

export class NodeStatusPublisher {
  readonly stats: PublisherStats = { writes: 0, bytes: 0, failures: 0 };
  private written: { content: string; changedAt: string; at: number } | undefined;
  private resourceVersion: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private checker: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** The failure being met, since when, and whether it was said; undefined while writes succeed. */
  private problem: { message: string; since: number; said: boolean } | undefined;
  private failing = false;
  private readonly ref;

  constructor(
    private readonly client: KubeApi,
    nodeName: string,
    private readonly compute: () => StatusContent,
    private readonly log: Logger,
    private readonly options: PublisherOptions = {},
  ) {
    this.ref = { apiVersion: nodeAgentStatusKind.apiVersion, kind: nodeAgentStatusKind.kind, metadata: { name: nodeName } };
  }

  start(): void {
    this.trigger();
    this.checker = setInterval(() => this.trigger(), this.options.checkMs ?? 2000);
    this.checker.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.checker);
    await this.writing;
  }

  /** Something may have changed: writes now, or when the rate limit allows, if the content differs. */
  trigger(): void {
    if (this.stopped || this.timer) return;
    const now = this.now();
    const due = this.written ? this.written.at + (this.options.minIntervalMs ?? 1000) : now;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.writeIfNeeded();
    }, Math.max(0, due - now));
    this.timer.unref();
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private async writeIfNeeded(): Promise<void> {
    if (this.writing) {
      this.again = true;
      return;
    }
    this.writing = (async () => {
      const content = this.compute();
      const text = statusContent({ ...content, changedAt: '', heartbeatAt: '' });
      const now = this.now();
      const heartbeatDue = !this.written || now - this.written.at >= (this.options.heartbeatMs ?? heartbeatSeconds * 1000);
      if (this.written?.content === text && !heartbeatDue) return;
      const changedAt = this.written?.content === text ? this.written.changedAt : new Date(now).toISOString();
      const status: NodeAgentStatus = { ...content, changedAt, heartbeatAt: new Date(now).toISOString() };
      try {
        await this.put(status);
        this.written = { content: text, changedAt, at: now };
        this.problem = undefined;
        this.failing = false;
      } catch (error) {
        this.stats.failures++;
        this.complain(error);
      }
    })().finally(() => {
      this.writing = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.trigger();
      }
    });
    await this.writing;
  }

  /** Replaces the object at the version last written; creates it when missing; re-reads on a conflict. */
  private async put(status: NodeAgentStatus): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const object = { ...this.ref, metadata: { ...this.ref.metadata, ...(this.resourceVersion ? { resourceVersion: this.resourceVersion } : {}) }, status };
      try {
        const stored = this.resourceVersion ? await this.client.replace<StoredObject>(object) : await this.createOrReplace(object);
        this.resourceVersion = stored.metadata.resourceVersion;
        this.stats.writes++;
        this.stats.bytes += JSON.stringify(object).length;
        return;
      } catch (error) {
        if (!isConflict(error) && !isNotFound(error)) throw error;
        // Someone else wrote it (an admin's kubectl edit, an older agent) or it was deleted: read again.
        this.resourceVersion = undefined;
      }
    }
    throw new Error(`the ${nodeAgentStatusKind.kind} ${this.ref.metadata.name} kept changing under the agent`);
  }

  private async createOrReplace(object: StoredObject & { status: NodeAgentStatus }): Promise<StoredObject> {
    const current = await this.client.get<StoredObject>(this.ref);
    if (!current) return this.client.create<StoredObject>({ ...this.ref, ...object });
    return this.client.replace<StoredObject>({ ...this.ref, ...object, metadata: { ...object.metadata, resourceVersion: current.metadata.resourceVersion } });
  }

  private complain(error: unknown): void {
    const message = (error as Error).message;
    const now = this.now();
    if (this.problem?.message !== message) this.problem = { message, since: now, said: false };
    if (this.problem.said) return;
    // The first failure after a success is said at once. Another within the same outage is said
    // only if it lasts: a restarted API server refuses (403) while its authorizer warms up, and
    // telling the admin then to fix the agent's credential would send them the wrong way.
    if (this.failing && now - this.problem.since < (this.options.settleMs ?? 10_000)) return;
    this.problem.said = true;
    this.failing = true;
    const hint = isForbidden(error)
      ? `the agent's credential may not write its node's ${nodeAgentStatusKind.kind}: apply the agent's manifests again (\`gingham-agent manifests | kubectl apply -f -\`) and give the node a credential bound to it (\`gingham-agent manifests credential --node NAME\`, or reinstall from the console)`
      : 'retrying on the next change or heartbeat';
    this.log.warn({ part: 'status', err: message }, `cannot publish the node's status for the console: ${hint}`);
  }
}
