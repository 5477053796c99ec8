// An interactive shell on a node: a PTY over the node's SSH connection, its output cut into
// UTF-8-safe chunks and held back by flow control so that a flood (`yes`, `cat` of a big file)
// slows the node down instead of burying the renderer.
import { randomUUID } from 'node:crypto';
import type { Client, ClientChannel } from 'ssh2';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { FlowWindow, defaultFlowWindow, type FlowWindowOptions } from '../../../shared/api/flow-control.ts';
import { Utf8Chunker } from '../../../shared/api/utf8-chunks.ts';

export interface TerminalSink {
  data(terminalId: string, data: string, bytes: number): void;
  exit(terminalId: string, reason: string, exitCode?: number): void;
}

export interface TerminalOptions {
  cols: number;
  rows: number;
  flow?: FlowWindowOptions;
  /** Largest chunk sent in one event. */
  maxChunk?: number;
}

export class TerminalSession {
  readonly id = randomUUID();
  private readonly chunker: Utf8Chunker;
  private readonly flow: FlowWindow;
  private pendingBytes: Buffer[] = [];
  private flushScheduled = false;
  private exited = false;

  private constructor(
    private readonly channel: ClientChannel,
    private readonly sink: TerminalSink,
    options: TerminalOptions,
  ) {
    this.chunker = new Utf8Chunker(options.maxChunk ?? 64 * 1024);
    this.flow = new FlowWindow(options.flow ?? defaultFlowWindow);
    channel.on('data', (bytes: Buffer) => this.receive(bytes));
    channel.stderr.on('data', (bytes: Buffer) => this.receive(bytes));
    let exitCode: number | undefined;
    channel.on('exit', (code: number | null) => {
      if (typeof code === 'number') exitCode = code;
    });
    // A stream error is followed by 'close', which reports the end; unheard, it would crash the backend.
    channel.on('error', () => undefined);
    channel.on('close', () => {
      this.flush();
      const rest = this.chunker.flush();
      if (rest.length > 0) this.emit(rest);
      this.finish(exitCode === undefined ? 'The connection to the node closed.' : `The shell exited with status ${exitCode}.`, exitCode);
    });
  }

  static open(client: Client, sink: TerminalSink, options: TerminalOptions): Promise<TerminalSession> {
    return new Promise((resolve, reject) => {
      client.shell({ term: 'xterm-256color', cols: options.cols, rows: options.rows }, (error, channel) => {
        if (error) reject(new ConsoleError('ssh-disconnected', `The node refused a shell: ${error.message}`));
        else resolve(new TerminalSession(channel, sink, options));
      });
    });
  }

  // Coalesce the many small reads of a busy channel into one event per turn of the event loop.
  // Bytes are counted against the window as they are read, not as they are sent, so that a burst
  // read within one turn cannot overshoot it.
  private receive(bytes: Buffer): void {
    this.pendingBytes.push(bytes);
    if (this.flow.sent(bytes.length)) this.channel.pause();
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.pendingBytes.length === 0) return;
    const bytes = Buffer.concat(this.pendingBytes);
    this.pendingBytes = [];
    for (const chunk of this.chunker.push(bytes)) this.emit(chunk);
  }

  private emit(chunk: Uint8Array): void {
    if (this.exited) return;
    this.sink.data(this.id, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8'), chunk.byteLength);
  }

  private finish(reason: string, exitCode?: number): void {
    if (this.exited) return;
    this.exited = true;
    this.sink.exit(this.id, reason, exitCode);
  }

  input(data: string): void {
    if (!this.exited) this.channel.write(data);
  }

  resize(cols: number, rows: number): void {
    if (!this.exited) this.channel.setWindow(rows, cols, 0, 0);
  }

  ack(bytes: number): void {
    if (this.flow.acked(bytes)) this.channel.resume();
  }

  /** Bytes sent to the renderer and not yet acknowledged: what flow control bounds. */
  get unacknowledged(): number {
    return this.flow.outstanding;
  }

  get paused(): boolean {
    return this.flow.isPaused;
  }

  close(): void {
    this.channel.close();
  }
}
