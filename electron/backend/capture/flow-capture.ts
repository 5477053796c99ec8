// A flow capture: one flow between two pods captured at every point of its path on both nodes at
// once. The doctor's evidence (collected as for a trace) says which interfaces the packets cross;
// the plan (shared/capture/flow-hops.ts) gives each a BPF filter on the two pods' addresses; one
// CaptureSession per point runs tcpdump over that node's SSH connection, all started together and
// reported as started once every one listens. The packets stay in the sessions' stores; the
// correlation (shared/capture/packet-correlation.ts) runs over them when a report is asked for,
// and is kept until a point has captured more.
import { randomUUID } from 'node:crypto';
import type { Client } from 'ssh2';
import type { FlowPointState } from '../../../shared/api/capture-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { exportFlow, type FlowExportSource } from '../../../shared/capture/flow-export.ts';
import { planFlowCapture, type FlowPlan, type FlowSelection } from '../../../shared/capture/flow-hops.ts';
import { correlateFlow, type Correlation } from '../../../shared/capture/packet-correlation.ts';
import type { TraceEvidence, TraceRequest } from '../../../shared/doctor/evidence.ts';
import { traceFromEvidence } from '../../../shared/doctor/trace.ts';
import { CaptureSession, type CaptureOptions } from './capture-session.ts';

export interface FlowCaptureDeps {
  /** The doctor's evidence for the path (collect-evidence.ts, over the console's connections). */
  evidence(request: TraceRequest): Promise<TraceEvidence>;
  /** The SSH connection to a cluster node. */
  clientFor(node: string, addresses: string[]): Promise<Client>;
}

export interface FlowCaptureSink {
  progress(flowId: string, points: FlowPointState[], running: boolean): void;
}

/** How recent a packet may be and still be judged while the capture runs. */
const pendingSeconds = 2;

interface PointRun {
  session: CaptureSession;
  ended?: { reason: string; error: boolean; kernelDropped?: number };
}

export class FlowCapture {
  readonly id = randomUUID();
  readonly started = Date.now();
  private cached: { key: string; correlation: Correlation } | undefined;
  private progressTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly plan: FlowPlan,
    private readonly runs: PointRun[],
    readonly predicted: { ok: boolean; code: string; message: string },
    private readonly sink: FlowCaptureSink,
  ) {}

  /**
   * Plans the flow from fresh evidence and starts tcpdump at every point at once. If any point
   * cannot start, the others are stopped and the error says which and why.
   */
  static async start(deps: FlowCaptureDeps, request: TraceRequest & FlowSelection & { snapLen?: number }, sink: FlowCaptureSink, options: CaptureOptions = {}): Promise<FlowCapture> {
    const evidence = await deps.evidence({ source: request.source, destination: request.destination, ...(request.port && request.protocol !== 'icmp' ? { port: request.port } : {}) });
    let plan: FlowPlan;
    try {
      plan = planFlowCapture(evidence, { ...(request.protocol ? { protocol: request.protocol } : {}), ...(request.port !== undefined ? { port: request.port } : {}) });
    } catch (error) {
      throw new ConsoleError('invalid-request', `Cannot follow ${request.source} -> ${request.destination}: ${(error as Error).message}.`);
    }
    const verdict = traceFromEvidence(evidence).verdict;
    const addresses = (node: string) => {
      const n = evidence.cluster.nodes.find((x) => x.name === node);
      return [n?.internalIp, n?.ipv4Address?.split('/')[0]].filter((a): a is string => a !== undefined);
    };
    const flow: { current?: FlowCapture } = {};
    const runs: PointRun[] = [];
    const started = await Promise.allSettled(
      plan.points.map(async (point, i) => {
        const client = await deps.clientFor(point.node, addresses(point.node));
        const session = await CaptureSession.start(
          client,
          point.node,
          point.iface,
          point.filter,
          {
            packets: () => flow.current?.changed(),
            end: (_id, outcome) => {
              const run = runs[i];
              if (run) run.ended = { reason: outcome.reason, error: outcome.error, ...(outcome.kernelDropped === undefined ? {} : { kernelDropped: outcome.kernelDropped }) };
              flow.current?.changed(true);
            },
          },
          { ...options, rows: false, ...(request.snapLen ? { snapLen: request.snapLen } : {}) },
        );
        runs[i] = { session };
        return session;
      }),
    );
    const failed = started.flatMap((r, i) => (r.status === 'rejected' ? [`${plan.points[i]!.name}: ${(r.reason as Error).message}`] : []));
    if (failed.length > 0) {
      await Promise.all(started.flatMap((r) => (r.status === 'fulfilled' ? [r.value.stop('Another point of the flow could not start.')] : [])));
      throw new ConsoleError('invalid-request', `The flow capture could not start at ${failed.length} of ${plan.points.length} points: ${failed.join('; ')}`);
    }
    flow.current = new FlowCapture(plan, runs, { ok: verdict.ok, code: verdict.code, message: verdict.message }, sink);
    return flow.current;
  }

  get sessions(): CaptureSession[] {
    return this.runs.map((r) => r.session);
  }

  get running(): boolean {
    return this.runs.some((r) => !r.session.ended);
  }

  points(): FlowPointState[] {
    return this.runs.map(({ session, ended }) => ({
      captureId: session.id,
      command: session.command,
      captured: session.store.count,
      bytes: session.store.bytes,
      state: session.ended ? 'ended' : 'running',
      ...(ended ? { reason: ended.reason, error: ended.error, ...(ended.kernelDropped === undefined ? {} : { kernelDropped: ended.kernelDropped }) } : {}),
    }));
  }

  /** A point captured more or ended: progress to the client, at most 4 a second (at once for an end). */
  private changed(now = false): void {
    if (now) {
      if (this.progressTimer) clearTimeout(this.progressTimer);
      this.progressTimer = undefined;
      this.sink.progress(this.id, this.points(), this.running);
      return;
    }
    this.progressTimer ??= setTimeout(() => {
      this.progressTimer = undefined;
      this.sink.progress(this.id, this.points(), this.running);
    }, 250);
  }

  private sources(): FlowExportSource[] {
    return this.runs.map(({ session }) => {
      const store = session.store;
      const first = store.first;
      // A point whose store dropped its oldest packets (its bound in bytes) holds the flow from its
      // first kept packet on: judging earlier journeys would call them lost at that point.
      const from = store.dropped > 0 && store.kept > 0 ? Math.max(session.listeningAt, store.time(first) / 1e9) : session.listeningAt;
      return {
        count: store.kept,
        first,
        linkType: session.linkType,
        snapLen: session.snapLen,
        get: (index, out) => store.get(first + index, out),
        // While a point runs, its last ~2 s are not judged yet: tcpdump hands packets over in blocks, up to 1 s late.
        window: { from, to: session.stopRequestedAt ?? Date.now() / 1000 - pendingSeconds },
      };
    });
  }

  /** The journeys of everything captured so far (kept until a point captures more or ends). */
  correlation(): Correlation {
    const key = `${this.running ? Math.floor(Date.now() / 1000) : 'ended'} ${this.runs.map((r) => `${r.session.store.count}${r.session.stopRequestedAt ?? ''}`).join(',')}`;
    if (this.cached?.key === key) return this.cached.correlation;
    const correlation = correlateFlow(this.plan, this.sources());
    this.cached = { key, correlation };
    return correlation;
  }

  /** Stops every point at once; resolves when all have ended. */
  async stop(reason = 'Stopped.'): Promise<void> {
    await Promise.all(this.runs.map((r) => r.session.stop(reason)));
    if (this.progressTimer) clearTimeout(this.progressTimer);
    this.progressTimer = undefined;
  }

  export(now = new Date()): { parts: Uint8Array[]; packets: number } {
    if (this.runs.every((r) => r.session.store.kept === 0)) throw new ConsoleError('not-found', 'The flow capture has no packets yet: nothing to export.');
    return exportFlow(this.plan, this.sources(), this.correlation(), now);
  }
}
