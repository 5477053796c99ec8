// One long-lived `ip -batch -` (or `bridge -batch -`) process that a reconcile loop feeds every
// pass, instead of a new process per read and per batch. Forking the agent (a few hundred MB of
// Node heap) for each `ip` took 50-250 ms a time on a loaded machine, and a mode switch needs
// three to five of them; a line to a running process takes a millisecond.
//
// Framing: after a request's lines comes a sentinel that always fails (`link show dev` of a name
// no one uses, or a MAC `bridge` cannot parse). With `-force` iproute2 prints every failure as
// `Command failed -:LINE`, counting lines since the process started; the sentinel's line number
// ends the request, and earlier numbers name the request's refused lines. JSON output is flushed
// per show command, before its failure or the sentinel's.
//
// iproute2 caches interface name -> index. A device that someone else deletes and creates again
// keeps its old index in that cache, so the caller restarts the process (`restart()`) when a read
// shows an interface with a new index; its own `link add`/`link del` iproute2 handles itself.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { BatchFailure, Tool } from './iproute.ts';

const sentinels: Record<Tool, string> = {
  ip: 'link show dev gingham-nodev0',
  // Refused while parsing (no kernel call), and unlike ip's parse errors it does not end the process.
  bridge: 'fdb add not-a-mac dev lo',
};

interface Pending {
  firstLine: number;
  sentinelLine: number;
  commands: readonly string[];
  /** stdout lines the request expects (its show commands that did not fail). */
  reads: number;
  outputs: string[];
  failures: BatchFailure[];
  sentinelSeen: boolean;
  resolve: (result: { outputs: string[]; failures: BatchFailure[] }) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class BatchProcess {
  private child: ChildProcessWithoutNullStreams | undefined;
  private lines = 0;
  /** The pieces of the stdout line not yet ended. */
  private stdoutPieces: string[] = [];
  private stderrRest = '';
  private errorText: string[] = [];
  private current: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Processes started so far (tests and the pass report read it). */
  starts = 0;

  constructor(
    readonly tool: Tool,
    private readonly flags: readonly string[] = tool === 'ip' ? ['-N', '-json', '-details'] : ['-json'],
    private readonly timeoutMs = 30_000,
  ) {}

  /** Runs write commands; resolves with the lines the kernel refused. */
  async run(commands: readonly string[]): Promise<BatchFailure[]> {
    if (commands.length === 0) return [];
    return (await this.request(commands, 0)).failures;
  }

  /** Runs show commands; resolves with each one's parsed JSON, or rejects when one failed. */
  async read(commands: readonly string[]): Promise<unknown[][]> {
    const { outputs, failures } = await this.request(commands, commands.length);
    if (failures.length > 0) throw new Error(`${this.tool} ${failures.map((f) => `${f.command}: ${f.error}`).join('; ')}`);
    try {
      return outputs.map((line) => JSON.parse(line) as unknown[]);
    } catch (error) {
      throw new Error(`${this.tool} -batch printed output that is not JSON: ${String(error)}`);
    }
  }

  /**
   * Ends the process; the next request starts a fresh one (with an empty interface cache).
   * `eager` starts it at once, while nothing waits for it, so the next request does not pay.
   */
  restart(options: { eager?: boolean } = {}): void {
    const child = this.child;
    this.child = undefined;
    if (child) {
      child.stdin.end();
      child.kill();
    }
    if (options.eager && !this.current) this.ensure();
  }

  close(): void {
    this.restart();
  }

  /** A process is running (started, not yet ended). */
  get running(): boolean {
    return this.child !== undefined;
  }

  private request(commands: readonly string[], reads: number): Promise<{ outputs: string[]; failures: BatchFailure[] }> {
    const next = this.queue.then(() => this.send(commands, reads));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private send(commands: readonly string[], reads: number): Promise<{ outputs: string[]; failures: BatchFailure[] }> {
    const child = this.ensure();
    return new Promise((resolve, reject) => {
      const firstLine = this.lines + 1;
      this.lines += commands.length + 1;
      const timer = setTimeout(() => {
        this.fail(new Error(`${this.tool} -batch did not answer within ${this.timeoutMs} ms`));
        this.restart();
      }, this.timeoutMs);
      this.current = { firstLine, sentinelLine: this.lines, commands, reads, outputs: [], failures: [], sentinelSeen: false, resolve, reject, timer };
      // Only while a request is out does the process keep Node's event loop alive.
      setRef(child, true);
      child.stdin.write(`${commands.join('\n')}\n${sentinels[this.tool]}\n`);
    });
  }

  private ensure(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawn(this.tool, [...this.flags, '-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.starts++;
    this.child = child;
    this.lines = 0;
    this.stdoutPieces = [];
    this.stderrRest = '';
    this.errorText = [];
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (this.child !== child) return;
      // A route dump is one JSON line of megabytes in 64 KiB chunks: only the new chunk is
      // searched for line ends, and a line's pieces are joined once at its end (re-splitting
      // the whole unfinished line on every chunk took seconds at 100k routes).
      let start = 0;
      for (let end = chunk.indexOf('\n'); end !== -1; end = chunk.indexOf('\n', start)) {
        this.stdoutPieces.push(chunk.slice(start, end));
        const line = this.stdoutPieces.join('');
        this.stdoutPieces = [];
        start = end + 1;
        if (line.trim() !== '') this.current?.outputs.push(line);
      }
      if (start < chunk.length) this.stdoutPieces.push(chunk.slice(start));
      this.maybeDone();
    });
    child.stderr.on('data', (chunk: string) => {
      if (this.child !== child) return;
      const parts = (this.stderrRest + chunk).split('\n');
      this.stderrRest = parts.pop() ?? '';
      for (const line of parts) this.onErrorLine(line);
    });
    child.stdin.on('error', () => undefined); // reported by 'exit'
    child.on('error', (error) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.fail(new Error(`cannot run ${this.tool}: ${error.message} (is iproute2 installed?)`));
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      // iproute2 ends the whole batch on a line it cannot parse: that line and the rest are refused.
      const pending = this.current;
      if (!pending) return;
      const reason = [...this.errorText, this.stderrRest].join(' ').trim() || `${this.tool} exited (${signal ?? `code ${code}`})`;
      const done = new Set(pending.failures.map((f) => f.command));
      for (const command of pending.commands) if (!done.has(command)) pending.failures.push({ command, error: `${reason} (the batch process ended at or before this line)` });
      this.finish(pending);
    });
    this.idle(child);
    return child;
  }

  private onErrorLine(line: string): void {
    const failed = /^Command failed -:(\d+)/.exec(line);
    if (!failed) {
      if (line.trim() !== '') this.errorText.push(line.trim());
      return;
    }
    const number = Number(failed[1]);
    const error = this.errorText.join(' ').trim() || 'refused';
    this.errorText = [];
    const pending = this.current;
    if (!pending) return;
    if (number === pending.sentinelLine) {
      pending.sentinelSeen = true;
      this.maybeDone();
      return;
    }
    const index = number - pending.firstLine;
    const command = pending.commands[index] ?? `line ${number}`;
    pending.failures.push({ command, error });
    if (pending.reads > 0) pending.reads--;
  }

  private maybeDone(): void {
    const pending = this.current;
    if (!pending || !pending.sentinelSeen) return;
    // The outputs were written before the sentinel's failure; wait until they are all read.
    if (pending.outputs.length < pending.reads) return;
    this.finish(pending);
  }

  private finish(pending: Pending): void {
    if (this.current !== pending) return;
    clearTimeout(pending.timer);
    this.current = undefined;
    if (this.child) this.idle(this.child);
    pending.resolve({ outputs: pending.outputs, failures: pending.failures });
  }

  private fail(error: Error): void {
    const pending = this.current;
    if (!pending) return;
    clearTimeout(pending.timer);
    this.current = undefined;
    pending.reject(error);
  }

  private idle(child: ChildProcessWithoutNullStreams): void {
    setRef(child, false);
  }
}

type Refable = { ref?: () => void; unref?: () => void };

function setRef(child: ChildProcessWithoutNullStreams, on: boolean): void {
  for (const handle of [child, child.stdin, child.stdout, child.stderr] as Refable[]) {
    if (on) handle.ref?.();
    else handle.unref?.();
  }
}
