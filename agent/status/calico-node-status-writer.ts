// Fills in the CalicoNodeStatus objects an admin made for this node, as calico-node does: each one
// watched (one list+watch of the kind, filtered to this node), its status written every
// spec.updatePeriodSeconds with the classes it asks for (Agent, BGP, Routes), none when the
// period is 0. calicoctl and kubectl read them back as they read calico-node's.
import type { Logger } from 'pino';
import { calicoKind } from '../../shared/model/calico-kinds.ts';
import { calicoNodeStatus, calicoNodeStatusSpecSchema, type CalicoNodeStatusSpec, type NodeStatusFacts } from '../../shared/model/calico-node-status.ts';
import { isConflict, isNotFound } from '../datastore/kube-api.ts';
import type { KubeClient } from '../datastore/kube-client.ts';
import { Reflector } from '../datastore/reflector.ts';

interface RawNodeStatus {
  metadata: { name: string; resourceVersion?: string };
  spec?: unknown;
  status?: unknown;
}

const kind = calicoKind('CalicoNodeStatus');

export class CalicoNodeStatusWriter {
  private readonly reflector: Reflector<RawNodeStatus>;
  /** Object name -> its timer and the spec it runs with. */
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; spec: string }>();
  private readonly warned = new Set<string>();
  private stopped = false;

  constructor(
    private readonly client: KubeClient,
    private readonly nodeName: string,
    private readonly facts: (spec: CalicoNodeStatusSpec) => Promise<NodeStatusFacts>,
    private readonly log: Logger,
  ) {
    this.reflector = new Reflector<RawNodeStatus>(client, kind, () => this.reschedule(), { log: (m) => this.log.debug({ part: 'status' }, m) });
  }

  start(): void {
    this.reflector.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearInterval(timer);
    this.timers.clear();
    await this.reflector.stop();
  }

  /** Objects for this node get a timer at their period; others, deleted ones and period 0 get none. */
  private reschedule(): void {
    if (this.stopped) return;
    const wanted = new Map<string, CalicoNodeStatusSpec>();
    for (const object of this.reflector.items()) {
      const parsed = calicoNodeStatusSpecSchema.safeParse(object.spec);
      if (!parsed.success) {
        this.warnOnce(object.metadata.name, `CalicoNodeStatus ${object.metadata.name} has an invalid spec (${parsed.error.issues[0]?.message}): it is left as it is`);
        continue;
      }
      if (parsed.data.node !== this.nodeName || parsed.data.updatePeriodSeconds === 0) continue;
      wanted.set(object.metadata.name, parsed.data);
    }
    for (const [name, entry] of this.timers) {
      const spec = wanted.get(name);
      if (spec && JSON.stringify(spec) === entry.spec) continue;
      clearInterval(entry.timer);
      this.timers.delete(name);
    }
    for (const [name, spec] of wanted) {
      if (this.timers.has(name)) continue;
      const write = () => void this.write(name, spec);
      const timer = setInterval(write, spec.updatePeriodSeconds * 1000);
      timer.unref();
      this.timers.set(name, { timer, spec: JSON.stringify(spec) });
      write();
    }
  }

  private async write(name: string, spec: CalicoNodeStatusSpec): Promise<void> {
    const ref = { apiVersion: kind.apiVersion, kind: kind.kind, metadata: { name } };
    try {
      const status = calicoNodeStatus(spec.classes, await this.facts(spec));
      let current = this.reflector.get(name);
      for (let attempt = 0; attempt < 2 && current; attempt++) {
        try {
          await this.client.replaceStatus({ ...ref, metadata: current.metadata, spec: current.spec, status });
          return;
        } catch (error) {
          if (isNotFound(error)) return;
          if (!isConflict(error)) throw error;
          // The watch has not caught up with a write (ours, or the admin's edit): read it from the server.
          current = await this.client.get<RawNodeStatus>(ref);
        }
      }
    } catch (error) {
      this.warnOnce(`${name}:${(error as Error).message}`, `cannot update CalicoNodeStatus ${name}: ${(error as Error).message}`);
    }
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log.warn({ part: 'status' }, message);
  }
}
