// A client's captures: started on nodes it has connected, streamed to it, exported on request,
// and stopped when the client goes away (a closed window must not leave tcpdump running on a node).
import { writeFile } from 'node:fs/promises';
import type { EventEmitter, NotificationHandlers, RequestHandlers } from '../../../shared/api/console-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import type { NodeStore } from '../nodes/node-store.ts';
import type { SshManager } from '../ssh/ssh-manager.ts';
import { compileDisplayFilter } from '../../../shared/packets/display-filter.ts';
import type { TraceEvidence, TraceRequest } from '../../../shared/doctor/evidence.ts';
import { clusterNodeClient } from '../ssh/cluster-node-client.ts';
import { exportCaptures } from './capture-export.ts';
import { CaptureSession, type CaptureOptions } from './capture-session.ts';
import { FlowCapture } from './flow-capture.ts';

export interface CaptureServiceOptions extends CaptureOptions {
  /** Electron's save dialog: the path to write an export to, or undefined when the user cancelled. Absent in web mode. */
  chooseExportPath?: (defaultName: string) => Promise<string | undefined>;
  /** Captures one client may hold at once. */
  maxCaptures?: number;
  /** The doctor's evidence for a path on a cluster (DoctorService.evidence): where a flow capture listens. */
  flowEvidence?: (context: string, request: TraceRequest) => Promise<TraceEvidence>;
  /** Flow captures one client may hold at once. */
  maxFlows?: number;
}

type CaptureRequests = Pick<
  RequestHandlers,
  'capture.start' | 'capture.stop' | 'capture.discard' | 'capture.packet' | 'capture.export' | 'capture.flowStart' | 'capture.flowStop' | 'capture.flowDiscard' | 'capture.flowReport' | 'capture.flowExport'
>;

const stamp = (ms: number) => new Date(ms).toISOString().replaceAll(':', '').replace(/\.\d+Z$/, 'Z');

export class CaptureService {
  private readonly sessions = new Map<string, CaptureSession>();
  private readonly flows = new Map<string, FlowCapture>();

  constructor(
    private readonly ssh: SshManager,
    private readonly nodes: NodeStore,
    private readonly emit: EventEmitter,
    private readonly options: CaptureServiceOptions = {},
  ) {}

  private session(captureId: string): CaptureSession {
    const session = this.sessions.get(captureId);
    if (!session) throw new ConsoleError('not-found', `Capture ${captureId} does not exist (it was discarded or the window was reloaded).`);
    return session;
  }

  private flow(flowId: string): FlowCapture {
    const flow = this.flows.get(flowId);
    if (!flow) throw new ConsoleError('not-found', `Flow capture ${flowId} does not exist (it was discarded or the window was reloaded).`);
    return flow;
  }

  /** Saves or hands back an export, as the platform does it. */
  private async deliver(fileName: string, data: Buffer, packets: number) {
    if (this.options.chooseExportPath) {
      const path = await this.options.chooseExportPath(fileName);
      if (!path) return { kind: 'cancelled' as const };
      await writeFile(path, data);
      return { kind: 'saved' as const, path, packets, bytes: data.length };
    }
    return { kind: 'download' as const, fileName, base64: data.toString('base64'), packets, bytes: data.length };
  }

  readonly handlers: CaptureRequests = {
    'capture.start': async ({ nodeId, interface: iface, filter, snapLen }) => {
      const max = this.options.maxCaptures ?? 16;
      if ([...this.sessions.values()].filter((s) => !s.ended).length >= max) {
        throw new ConsoleError('invalid-request', `${max} captures are running already; stop one first.`);
      }
      const node = this.nodes.get(nodeId);
      const session = await CaptureSession.start(
        this.ssh.client(nodeId),
        node.name,
        iface,
        filter,
        {
          packets: (captureId, batch) => this.emit('capture.packets', { captureId, ...batch }),
          end: (captureId, outcome) => this.emit('capture.end', { captureId, ...outcome }),
        },
        snapLen === undefined ? this.options : { ...this.options, snapLen },
      );
      this.sessions.set(session.id, session);
      return { captureId: session.id, node: node.name, interface: iface, filter, command: session.command };
    },
    'capture.stop': async ({ captureId }) => {
      const session = this.session(captureId);
      if (session.ended) return { stopped: false };
      await session.stop();
      return { stopped: true };
    },
    'capture.discard': async ({ captureId }) => {
      const session = this.sessions.get(captureId);
      if (!session) return { discarded: false };
      await session.stop();
      this.sessions.delete(captureId);
      return { discarded: true };
    },
    'capture.packet': async ({ captureId, n }) => {
      const session = this.session(captureId);
      if (n - 1 < session.store.first) throw new ConsoleError('not-found', `Packet ${n} was dropped: the capture keeps its newest packets within its bound, from ${session.store.first + 1}.`);
      if (n > session.store.count) throw new ConsoleError('not-found', `No packet ${n}: the capture has ${session.store.count}.`);
      const p = session.store.get(n - 1);
      return {
        n,
        linkType: session.linkType,
        origLen: p.origLen,
        tsSec: p.tsSec,
        tsNsec: p.tsNsec,
        base64: Buffer.from(p.bytes.buffer, p.bytes.byteOffset + p.offset, p.caplen).toString('base64'),
      };
    },
    'capture.export': async ({ captureIds, format }) => {
      const sessions = captureIds.map((id) => this.session(id));
      const file = exportCaptures(sessions, format);
      const first = sessions[0]!;
      const fileName = sessions.length === 1 ? `gingham-${first.node}-${first.iface}-${stamp(first.started)}.${format}` : `gingham-${sessions.length}-captures-${stamp(first.started)}.${format}`;
      return this.deliver(fileName, Buffer.concat(file.parts), file.packets);
    },
    'capture.flowStart': async ({ context, source, destination, protocol, port, snapLen }) => {
      const evidence = this.options.flowEvidence;
      if (!evidence) throw new ConsoleError('invalid-request', 'Flow captures need the cluster connection (the doctor reads the path first).');
      const max = this.options.maxFlows ?? 4;
      if ([...this.flows.values()].filter((f) => f.running).length >= max) throw new ConsoleError('invalid-request', `${max} flow captures are running already; stop one first.`);
      const flow = await FlowCapture.start(
        { evidence: (request) => evidence(context, request), clientFor: (node, addresses) => clusterNodeClient(this.ssh, this.nodes, node, addresses) },
        { source, destination, ...(protocol ? { protocol } : {}), ...(port ? { port } : {}), ...(snapLen ? { snapLen } : {}) },
        { progress: (flowId, points, running) => this.emit('capture.flowProgress', { flowId, points, running }) },
        this.options,
      );
      this.flows.set(flow.id, flow);
      // Each point is a capture too: capture.packet reads its packets for the detail pane.
      for (const session of flow.sessions) this.sessions.set(session.id, session);
      return { flowId: flow.id, plan: flow.plan, points: flow.points(), predicted: flow.predicted };
    },
    'capture.flowStop': async ({ flowId }) => {
      const flow = this.flow(flowId);
      if (!flow.running) return { stopped: false };
      await flow.stop();
      return { stopped: true };
    },
    'capture.flowDiscard': async ({ flowId }) => {
      const flow = this.flows.get(flowId);
      if (!flow) return { discarded: false };
      await flow.stop();
      for (const session of flow.sessions) this.sessions.delete(session.id);
      this.flows.delete(flowId);
      return { discarded: true };
    },
    'capture.flowReport': async ({ flowId, filter, status, direction, offset, limit }) => {
      const flow = this.flow(flowId);
      const correlation = flow.correlation();
      const compiled = compileDisplayFilter(filter ?? '');
      const wanted = (status ?? 'all') === 'all' ? undefined : status;
      const way = (direction ?? 'both') === 'both' ? undefined : direction;
      const passing = correlation.journeys.filter((j) => (!wanted || j.status === wanted) && (!way || j.direction === way) && (!compiled.ok || !filter?.trim() || compiled.test(j.record)));
      const start = offset ?? 0;
      return {
        flowId,
        running: flow.running,
        points: flow.points(),
        origin: correlation.origin,
        directions: correlation.directions,
        total: passing.length,
        journeys: passing.slice(start, start + (limit ?? 500)),
        unmatched: correlation.unmatched,
        ...(compiled.ok ? {} : { filterError: compiled.error }),
      };
    },
    'capture.flowExport': async ({ flowId }) => {
      const flow = this.flow(flowId);
      const file = flow.export();
      const p = flow.plan;
      return this.deliver(`gingham-flow-${p.source.pod.replaceAll('/', '_')}-${p.destination.pod.replaceAll('/', '_')}-${stamp(flow.started)}.pcapng`, Buffer.concat(file.parts), file.packets);
    },
  };

  readonly notifications: Pick<NotificationHandlers, 'capture.ack'> = {
    'capture.ack': ({ captureId, rows }) => this.sessions.get(captureId)?.ack(rows),
  };

  /** The client went away: stop its captures on the nodes and forget them. */
  close(): void {
    for (const session of this.sessions.values()) void session.stop('The console window closed.');
    this.sessions.clear();
    this.flows.clear();
  }
}
