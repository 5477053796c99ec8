// A client's captures: started on nodes it has connected, streamed to it, exported on request,
// and stopped when the client goes away (a closed window must not leave tcpdump running on a node).
import { writeFile } from 'node:fs/promises';
import type { EventEmitter, NotificationHandlers, RequestHandlers } from '../../../shared/api/console-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import type { NodeStore } from '../nodes/node-store.ts';
import type { SshManager } from '../ssh/ssh-manager.ts';
import { exportCaptures } from './capture-export.ts';
import { CaptureSession, type CaptureOptions } from './capture-session.ts';

export interface CaptureServiceOptions extends CaptureOptions {
  /** Electron's save dialog: the path to write an export to, or undefined when the user cancelled. Absent in web mode. */
  chooseExportPath?: (defaultName: string) => Promise<string | undefined>;
  /** Captures one client may hold at once. */
  maxCaptures?: number;
}

type CaptureRequests = Pick<RequestHandlers, 'capture.start' | 'capture.stop' | 'capture.discard' | 'capture.packet' | 'capture.export'>;

export class CaptureService {
  private readonly sessions = new Map<string, CaptureSession>();

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

  readonly handlers: CaptureRequests = {
    'capture.start': async ({ nodeId, interface: iface, filter }) => {
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
        this.options,
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
      const stamp = new Date(first.started).toISOString().replaceAll(':', '').replace(/\.\d+Z$/, 'Z');
      const fileName = sessions.length === 1 ? `gingham-${first.node}-${first.iface}-${stamp}.${format}` : `gingham-${sessions.length}-captures-${stamp}.${format}`;
      const data = Buffer.concat(file.parts);
      if (this.options.chooseExportPath) {
        const path = await this.options.chooseExportPath(fileName);
        if (!path) return { kind: 'cancelled' as const };
        await writeFile(path, data);
        return { kind: 'saved' as const, path, packets: file.packets, bytes: data.length };
      }
      return { kind: 'download' as const, fileName, base64: data.toString('base64'), packets: file.packets, bytes: data.length };
    },
  };

  readonly notifications: Pick<NotificationHandlers, 'capture.ack'> = {
    'capture.ack': ({ captureId, rows }) => this.sessions.get(captureId)?.ack(rows),
  };

  /** The client went away: stop its captures on the nodes and forget them. */
  close(): void {
    for (const session of this.sessions.values()) void session.stop('The console window closed.');
    this.sessions.clear();
  }
}
