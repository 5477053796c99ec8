// Installs the speaker's best routes into a kernel routing table through one long-lived writer
// process fed line by line: native/route_writer.c, which pipelines rtnetlink requests (a million
// routes in seconds), or `ip -force -batch -` when the helper is not built (about ten times slower:
// it waits for each acknowledgement). Routes carry this speaker's protocol number, so it touches
// only its own and finds them again after a restart (graceful restart keeps them).
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { formatIPv4, parseIPv4 } from '../../shared/net/index.ts';
import { nativeFile } from './native-path.ts';
import { PrefixTable } from './rib/prefix-table.ts';

const run = promisify(execFile);

const WRITER = nativeFile('gingham-route-writer');

export interface KernelOptions {
  table: 'main' | number;
  protocol: number;
  device?: string;
}

const NONE = -1;
const CHUNK = 65536;
const SPACE = 0x20;
const NEWLINE = 0x0a;

export class KernelRoutes {
  /** prefix -> installed next hop (as int32). */
  private readonly installed = new PrefixTable(1 << 12);
  private proc: ChildProcessWithoutNullStreams | undefined;
  /**
   * Lines not yet handed to the writer, encoded straight into 64 KB buffers: a million routes
   * make no million strings for the collector (the native writer's lines are plain ASCII).
   */
  private chunk = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  private readonly chunks: Buffer[] = [];
  private waitingForDrain = false;
  private errors = 0;
  private lastError = '';
  installs = 0;
  removals = 0;

  constructor(private readonly options: KernelOptions, private readonly log: Logger) {}

  /** True when the native writer is used, false for the `ip -batch` fallback. */
  readonly native = existsSync(WRITER);

  private start(): ChildProcessWithoutNullStreams {
    if (this.proc) return this.proc;
    let proc: ChildProcessWithoutNullStreams;
    if (this.native) {
      const table = this.options.table === 'main' ? 254 : this.options.table;
      const ifindex = this.options.device ? readFileSync(`/sys/class/net/${this.options.device}/ifindex`, 'utf8').trim() : undefined;
      proc = spawn(WRITER, [String(table), String(this.options.protocol), ...(ifindex ? [ifindex] : [])], { stdio: ['pipe', 'pipe', 'pipe'] });
    } else {
      this.log.warn(`${WRITER} is not built (node scripts/ensure-deps.mjs builds it): using ip -batch, which is much slower`);
      proc = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    }
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (text: string) => {
      this.errors++;
      this.lastError = text.trim().split('\n')[0] ?? '';
      if (this.errors <= 5 || this.errors % 1000 === 0) this.log.warn({ errors: this.errors }, `kernel route programming: ${this.lastError}`);
    });
    proc.stdout.resume();
    proc.stdin.on('error', () => undefined);
    proc.on('exit', (code) => {
      if (this.proc === proc) {
        this.proc = undefined;
        this.waitingForDrain = false;
      }
      if (code !== 0 && code !== null) this.log.warn({ code }, 'ip -batch exited; it restarts with the next change');
    });
    this.proc = proc;
    return proc;
  }

  private suffix(): string {
    return ` proto ${this.options.protocol} table ${this.options.table}`;
  }

  /** Makes `prefix via nextHop` present (no-op when it already is). */
  set(address: number, length: number, nextHop: number): void {
    if (this.installed.get(address, length) === (nextHop | 0)) return;
    this.installed.set(address, length, nextHop | 0);
    if (this.native) {
      // "A a.b.c.d LEN g.h.i.j\n"
      this.room(40);
      const b = this.chunk;
      b[this.used++] = 0x41;
      b[this.used++] = SPACE;
      this.writeAddress(address);
      b[this.used++] = SPACE;
      this.writeNumber(length);
      b[this.used++] = SPACE;
      this.writeAddress(nextHop);
      b[this.used++] = NEWLINE;
    } else {
      const dev = this.options.device ? ` dev ${this.options.device} onlink` : '';
      this.append(`route replace ${formatIPv4(address)}/${length} via ${formatIPv4(nextHop)}${dev}${this.suffix()}\n`);
    }
    this.installs++;
  }

  remove(address: number, length: number): void {
    if (!this.installed.delete(address, length)) return;
    if (this.native) {
      this.room(24);
      const b = this.chunk;
      b[this.used++] = 0x44;
      b[this.used++] = SPACE;
      this.writeAddress(address);
      b[this.used++] = SPACE;
      this.writeNumber(length);
      b[this.used++] = NEWLINE;
    } else {
      this.append(`route del ${formatIPv4(address)}/${length}${this.suffix()}\n`);
    }
    this.removals++;
  }

  has(address: number, length: number): boolean {
    return this.installed.get(address, length) !== NONE;
  }

  get size(): number {
    return this.installed.size;
  }

  get status(): { installed: number; errors: number; lastError: string } {
    return { installed: this.installed.size, errors: this.errors, lastError: this.lastError };
  }

  /** Makes sure `bytes` more fit in the current chunk, starting a new one when not. */
  private room(bytes: number): void {
    if (this.used + bytes <= CHUNK) return;
    this.chunks.push(this.chunk.subarray(0, this.used));
    this.chunk = Buffer.allocUnsafe(CHUNK);
    this.used = 0;
  }

  private writeNumber(n: number): void {
    const b = this.chunk;
    if (n >= 100) b[this.used++] = 0x30 + Math.floor(n / 100);
    if (n >= 10) b[this.used++] = 0x30 + (Math.floor(n / 10) % 10);
    b[this.used++] = 0x30 + (n % 10);
  }

  private writeAddress(address: number): void {
    this.writeNumber(address >>> 24);
    this.chunk[this.used++] = 0x2e;
    this.writeNumber((address >>> 16) & 255);
    this.chunk[this.used++] = 0x2e;
    this.writeNumber((address >>> 8) & 255);
    this.chunk[this.used++] = 0x2e;
    this.writeNumber(address & 255);
  }

  /** A line for the `ip -batch` fallback. */
  private append(line: string): void {
    const bytes = Buffer.byteLength(line);
    this.room(bytes);
    this.used += this.chunk.write(line, this.used, 'latin1');
  }

  /** Hands what is pending to the writer, no faster than it takes it (pipe backpressure). */
  flush(): void {
    if (this.used > 0) {
      this.chunks.push(this.chunk.subarray(0, this.used));
      this.chunk = Buffer.allocUnsafe(CHUNK);
      this.used = 0;
    }
    this.pump();
  }

  private pump(): void {
    if (this.waitingForDrain || this.chunks.length === 0) return;
    const proc = this.start();
    while (this.chunks.length > 0) {
      if (!proc.stdin.write(this.chunks.shift()!)) {
        this.waitingForDrain = true;
        proc.stdin.once('drain', () => {
          this.waitingForDrain = false;
          this.pump();
        });
        return;
      }
    }
  }

  /**
   * Takes over routes a previous run of this speaker left in the table (our restart): they stay
   * until sweep() after the peers have sent their routes again.
   */
  async adoptExisting(): Promise<number> {
    const { stdout } = await run('ip', ['-json', 'route', 'show', 'proto', String(this.options.protocol), 'table', String(this.options.table)], { maxBuffer: 1 << 30 });
    const routes = JSON.parse(stdout || '[]') as Array<{ dst: string; gateway?: string }>;
    for (const r of routes) {
      const [addr, len] = r.dst === 'default' ? ['0.0.0.0', '0'] : r.dst.includes('/') ? r.dst.split('/') : [r.dst, '32'];
      this.installed.set(parseIPv4(addr!), Number(len), r.gateway ? parseIPv4(r.gateway) | 0 : 0);
    }
    return routes.length;
  }

  /** Removes installed routes that `keep` no longer wants (the end of our graceful restart). */
  sweep(keep: (address: number, length: number) => boolean): number {
    const gone: Array<[number, number]> = [];
    this.installed.forEach((address, length) => {
      if (!keep(address, length)) gone.push([address, length]);
    });
    for (const [address, length] of gone) this.remove(address, length);
    this.flush();
    return gone.length;
  }

  /** Removes every route we installed (a stop that is not a graceful restart). */
  removeAll(): void {
    this.sweep(() => false);
  }

  /** Waits for the writer to finish what it was given, then ends it. */
  async close(): Promise<void> {
    this.flush();
    while (this.chunks.length > 0 || this.waitingForDrain) await new Promise((r) => setTimeout(r, 20));
    const proc = this.proc;
    if (!proc) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.stdin.end();
    });
  }
}
