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
/** Records per queue chunk (two 32-bit words each: 128 KB). */
const RECORDS = 16384;
/** Text handed to the writer per write: enough to keep its pipe full. */
const TEXT = 65536;
const SPACE = 0x20;
const NEWLINE = 0x0a;
/** Record word 2: bit 31 = delete, bits 25-30 = prefix length, bits 0-24 = next hop's index. */
const DELETE = 0x80000000;
const LENGTH_SHIFT = 25;
const NEXT_HOP_MASK = (1 << LENGTH_SHIFT) - 1;

export class KernelRoutes {
  /** prefix -> installed next hop (as int32). */
  private readonly installed = new PrefixTable(1 << 12);
  private proc: ChildProcessWithoutNullStreams | undefined;
  /**
   * Changes not yet handed to the writer, as 8-byte records (address; op, length and the next
   * hop's index in `nextHops`) in typed-array chunks. Routes can arrive several times faster than
   * the kernel takes them, so at a full table most of it waits here: as text lines (about 30
   * bytes each) that was 30 MB at a million routes. The text is made only as the pipe drains.
   */
  private readonly queue: Uint32Array[] = [];
  /** An emptied chunk kept for the next records (a trickle of changes allocates nothing). */
  private spare: Uint32Array | undefined;
  /** Next record to hand over, in queue[0]; records written, in the last chunk. */
  private head = 0;
  private tail = RECORDS;
  /** Distinct next hops of the queued records (few: one per peer or so); reset when the queue empties. */
  private nextHops: number[] = [];
  private nextHopIndex = new Map<number, number>();
  /**
   * Text buffers the writer's pipe has taken, for reuse: a new 64 KB buffer per write left
   * megabytes of dead buffers between collections while a full table drained.
   */
  private readonly freeText: Buffer[] = [];
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
    let index = this.nextHopIndex.get(nextHop | 0);
    if (index === undefined) {
      if (this.nextHops.length > NEXT_HOP_MASK) throw new Error('kernel route queue: too many distinct next hops');
      index = this.nextHops.push(nextHop | 0) - 1;
      this.nextHopIndex.set(nextHop | 0, index);
    }
    this.push(address, ((length << LENGTH_SHIFT) | index) >>> 0);
    this.installs++;
  }

  remove(address: number, length: number): void {
    if (!this.installed.delete(address, length)) return;
    this.push(address, (DELETE | (length << LENGTH_SHIFT)) >>> 0);
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

  private push(address: number, word: number): void {
    if (this.tail === RECORDS) {
      this.queue.push(this.spare ?? new Uint32Array(RECORDS * 2));
      this.spare = undefined;
      this.tail = 0;
    }
    const chunk = this.queue[this.queue.length - 1]!;
    chunk[this.tail * 2] = address >>> 0;
    chunk[this.tail * 2 + 1] = word;
    this.tail++;
  }

  private get pending(): boolean {
    return this.queue.length > 1 || (this.queue.length === 1 && this.head < this.tail);
  }

  /** Turns queued records into writer input, up to about TEXT bytes; undefined when none are left. */
  private text(): Buffer | undefined {
    if (!this.pending) return undefined;
    const out = this.freeText.pop() ?? Buffer.allocUnsafe(TEXT);
    let used = 0;
    const number = (n: number) => {
      if (n >= 100) out[used++] = 0x30 + Math.floor(n / 100);
      if (n >= 10) out[used++] = 0x30 + (Math.floor(n / 10) % 10);
      out[used++] = 0x30 + (n % 10);
    };
    const address = (a: number) => {
      number(a >>> 24);
      out[used++] = 0x2e;
      number((a >>> 16) & 255);
      out[used++] = 0x2e;
      number((a >>> 8) & 255);
      out[used++] = 0x2e;
      number(a & 255);
    };
    const dev = this.options.device ? ` dev ${this.options.device} onlink` : '';
    const suffix = this.suffix();
    // A fallback line is at most about 100 bytes plus the device name.
    const room = this.native ? 40 : 128 + dev.length + suffix.length;
    while (used + room <= TEXT && this.pending) {
      const chunk = this.queue[0]!;
      const a = chunk[this.head * 2]!, word = chunk[this.head * 2 + 1]!;
      this.head++;
      if (this.head === RECORDS || (this.queue.length === 1 && this.head === this.tail)) {
        this.spare = this.queue.shift();
        this.head = 0;
        if (this.queue.length === 0) this.tail = RECORDS;
      }
      const length = (word >>> LENGTH_SHIFT) & 63;
      const remove = (word & DELETE) !== 0;
      const nextHop = remove ? 0 : this.nextHops[word & NEXT_HOP_MASK]!;
      if (this.native) {
        // "A a.b.c.d LEN g.h.i.j\n" | "D a.b.c.d LEN\n"
        out[used++] = remove ? 0x44 : 0x41;
        out[used++] = SPACE;
        address(a);
        out[used++] = SPACE;
        number(length);
        if (!remove) {
          out[used++] = SPACE;
          address(nextHop);
        }
        out[used++] = NEWLINE;
      } else {
        const line = remove
          ? `route del ${formatIPv4(a)}/${length}${suffix}\n`
          : `route replace ${formatIPv4(a)}/${length} via ${formatIPv4(nextHop)}${dev}${suffix}\n`;
        used += out.write(line, used, 'latin1');
      }
    }
    if (!this.pending) {
      this.nextHops = [];
      this.nextHopIndex = new Map();
    }
    return out.subarray(0, used);
  }

  private reuse(text: Buffer): void {
    if (this.freeText.length < 4) this.freeText.push(Buffer.from(text.buffer, text.byteOffset, TEXT));
  }

  /** Hands what is pending to the writer, no faster than it takes it (pipe backpressure). */
  flush(): void {
    this.pump();
  }

  private pump(): void {
    if (this.waitingForDrain || !this.pending) return;
    const proc = this.start();
    for (let text = this.text(); text; text = this.text()) {
      if (!proc.stdin.write(text, (error) => { if (!error) this.reuse(text); })) {
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
    // Collected first (the table cannot change under forEach), in typed arrays: a million
    // [address, length] pairs cost about 80 MB of heap when a withdrawing stop removed them all.
    const addresses = new Uint32Array(this.installed.size), lengths = new Uint8Array(this.installed.size);
    let gone = 0;
    this.installed.forEach((address, length) => {
      if (!keep(address, length)) {
        addresses[gone] = address;
        lengths[gone++] = length;
      }
    });
    for (let i = 0; i < gone; i++) this.remove(addresses[i]!, lengths[i]!);
    this.flush();
    return gone;
  }

  /** Removes every route we installed (a stop that is not a graceful restart). */
  removeAll(): void {
    this.sweep(() => false);
  }

  /** Waits for the writer to finish what it was given, then ends it. */
  async close(): Promise<void> {
    this.flush();
    while (this.pending || this.waitingForDrain) await new Promise((r) => setTimeout(r, 20));
    const proc = this.proc;
    if (!proc) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.stdin.end();
    });
  }
}
