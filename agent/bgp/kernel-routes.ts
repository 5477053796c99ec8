// Installs the speaker's best routes into a kernel routing table through one long-lived writer
// process: native/route_writer.c, fed 8-byte binary records, which pipelines rtnetlink requests
// (a million routes in seconds), or `ip -force -batch -` when the helper is not built (about ten
// times slower: it waits for each acknowledgement). Routes carry this speaker's protocol number,
// so it touches only its own (never replacing a route of another protocol: a connected route, the
// dataplane's) and finds them again after a restart (graceful restart keeps them).
//
// This class keeps no table of what is installed: the RIB marks its installed prefixes
// (rib.ts), and sweep() asks the kernel itself which of our routes are there.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { formatIPv4, parseIPv4 } from '../../shared/net/index.ts';
import { nativeFile } from './native-path.ts';

const WRITER = nativeFile('gingham-route-writer');

export interface KernelOptions {
  table: 'main' | number;
  protocol: number;
  device?: string;
}

/** Records per queue chunk (two 32-bit words each: 128 KB). */
const RECORDS = 16384;
/** Bytes handed to the writer per write (the writer asks for a 1 MB pipe). */
const WRITE = 131072;
/**
 * Record word 2: bit 31 = delete, bits 25-30 = prefix length, bits 0-23 = next hop's index.
 * Length 63 defines a next hop: word 1 is its address, the index is the one later records use.
 * The writer reads the records as they are in memory (host byte order: it runs on this host).
 */
const DELETE = 0x80000000;
const LENGTH_SHIFT = 25;
// Bit 24 is the writer's replace flag, which the speaker never sets.
const NEXT_HOP_MASK = (1 << 24) - 1;
const DEFINE_NEXT_HOP = 63;

export class KernelRoutes {
  private proc: ChildProcessWithoutNullStreams | undefined;
  /**
   * Changes not yet handed to the writer, as 8-byte records in typed-array chunks. Routes can
   * arrive faster than the kernel takes them, so at a full table part of it waits here.
   */
  private readonly queue: Uint32Array[] = [];
  /** An emptied chunk kept for the next records (a trickle of changes allocates nothing). */
  private spare: Uint32Array | undefined;
  /** Next record to hand over, in queue[0]; records written, in the last chunk. */
  private head = 0;
  private tail = RECORDS;
  /**
   * Next hops the writer knows, by index (few: one per peer or so). Records refer to them by
   * index; a new one is defined in the stream before its first use. Forgotten when the queue
   * empties (a later definition of the same index replaces the writer's entry).
   */
  private nextHopIndex = new Map<number, number>();
  private redefine = false;
  /** Write buffers the writer's pipe has taken, for reuse (a new one per write left dead buffers between collections). */
  private readonly freeBuffers: Buffer[] = [];
  private waitingForDrain = false;
  private errors = 0;
  private lastError = '';
  /** Adds the kernel refused (by "address/length"), for the speaker to try again (takeRefused). */
  private readonly refused = new Map<string, [number, number]>();
  installs = 0;
  removals = 0;

  constructor(private readonly options: KernelOptions, private readonly log: Logger) {}

  /** True when the native writer is used, false for the `ip -batch` fallback. */
  readonly native = existsSync(WRITER);

  private get table(): number {
    return this.options.table === 'main' ? 254 : this.options.table;
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.proc) return this.proc;
    let proc: ChildProcessWithoutNullStreams;
    if (this.native) {
      const ifindex = this.options.device ? readFileSync(`/sys/class/net/${this.options.device}/ifindex`, 'utf8').trim() : undefined;
      proc = spawn(WRITER, [String(this.table), String(this.options.protocol), ...(ifindex ? [ifindex] : [])], { stdio: ['pipe', 'pipe', 'pipe'] });
    } else {
      this.log.warn(`${WRITER} is not built (node scripts/ensure-deps.mjs builds it): using ip -batch, which is much slower`);
      proc = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    }
    proc.stderr.setEncoding('utf8');
    // One refusal per line. The fallback's delete before each add fails when there is no route
    // of ours yet ("No such process", then ip's "Command failed -:N"): not a refusal.
    let skipNext = false;
    proc.stderr.on('data', (text: string) => {
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        if (skipNext && line.startsWith('Command failed')) { skipNext = false; continue; }
        skipNext = false;
        if (!this.native && line.includes('No such process')) { skipNext = true; continue; }
        if (!this.native && line.startsWith('Command failed')) continue;
        this.errors++;
        this.lastError = line.trim();
        const add = /^error .*: A (\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(line);
        if (add) this.refused.set(`${add[1]}/${add[2]}`, [parseIPv4(add[1]!), Number(add[2])]);
        if (this.errors <= 5 || this.errors % 1000 === 0) this.log.warn({ errors: this.errors }, `kernel route programming: ${this.lastError}`);
      }
    });
    proc.stdout.resume();
    proc.stdin.on('error', () => undefined);
    proc.on('exit', (code) => {
      if (this.proc === proc) {
        this.proc = undefined;
        this.waitingForDrain = false;
        // Queued records may refer to next hops the old writer was told about: tell the next one first.
        this.redefine = true;
      }
      if (code !== 0 && code !== null) this.log.warn({ code }, 'route writer exited; it restarts with the next change');
    });
    this.proc = proc;
    return proc;
  }

  /** Makes `prefix via nextHop` present (add or replace). */
  set(address: number, length: number, nextHop: number): void {
    let index = this.nextHopIndex.get(nextHop | 0);
    if (index === undefined) {
      index = this.nextHopIndex.size;
      if (index > NEXT_HOP_MASK) throw new Error('kernel route queue: too many distinct next hops');
      this.nextHopIndex.set(nextHop | 0, index);
      this.push(nextHop, ((DEFINE_NEXT_HOP << LENGTH_SHIFT) | index) >>> 0);
    }
    this.push(address, ((length << LENGTH_SHIFT) | index) >>> 0);
    this.installs++;
  }

  /** Removes the prefix's route of our protocol (a route that is not there is no error). */
  remove(address: number, length: number): void {
    this.push(address, (DELETE | (length << LENGTH_SHIFT)) >>> 0);
    this.removals++;
  }

  /** Refusals so far, the last one, and how many refused adds wait to be tried again. */
  get status(): { errors: number; lastError: string; refused: number } {
    return { errors: this.errors, lastError: this.lastError, refused: this.refused.size };
  }

  /** The prefixes whose add the kernel refused since the last call (to try again). */
  takeRefused(): Array<[number, number]> {
    const taken = [...this.refused.values()];
    this.refused.clear();
    return taken;
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

  /** Takes up to `max` queued records (as [chunk, first, count]), or undefined when none are left. */
  private take(max: number): [Uint32Array, number, number] | undefined {
    if (!this.pending) return undefined;
    const chunk = this.queue[0]!;
    const end = this.queue.length === 1 ? this.tail : RECORDS;
    const first = this.head;
    const count = Math.min(max, end - first);
    this.head += count;
    if (this.head === RECORDS || (this.queue.length === 1 && this.head === this.tail)) {
      // The chunk is used up. Its records are copied out before anything refills it.
      this.spare = this.queue.shift();
      this.head = 0;
      if (this.queue.length === 0) {
        this.tail = RECORDS;
        this.nextHopIndex = new Map();
      }
    }
    return [chunk, first, count];
  }

  /** The next piece of writer input (binary records, or `ip` commands for the fallback). */
  private input(): Buffer | undefined {
    if (!this.pending) return undefined;
    const out = this.freeBuffers.pop() ?? Buffer.allocUnsafe(WRITE);
    let used = 0;
    if (this.native) {
      while (used < WRITE) {
        const piece = this.take((WRITE - used) / 8);
        if (!piece) break;
        const [chunk, first, count] = piece;
        Buffer.from(chunk.buffer, chunk.byteOffset + first * 8, count * 8).copy(out, used);
        used += count * 8;
      }
      return out.subarray(0, used);
    }
    const dev = this.options.device ? ` dev ${this.options.device} onlink` : '';
    const suffix = ` proto ${this.options.protocol} table ${this.options.table}`;
    for (let piece = this.take(1); piece; piece = used + 512 + dev.length + 2 * suffix.length <= WRITE ? this.take(1) : undefined) {
      const [chunk, i] = piece;
      const a = chunk[i * 2]!, word = chunk[i * 2 + 1]!;
      const length = (word >>> LENGTH_SHIFT) & 63;
      if (length === DEFINE_NEXT_HOP) this.fallbackHops.set(word & NEXT_HOP_MASK, a);
      else if (word & DELETE) used += out.write(`route del ${formatIPv4(a)}/${length}${suffix}\n`, used, 'latin1');
      else {
        // As the native writer: never `replace` (it takes the place of any route with the key, a
        // connected one, the dataplane's): our own route goes first, then an add that fails on
        // a route of another protocol (-force goes on; ip reports it).
        const prefix = `${formatIPv4(a)}/${length}`;
        used += out.write(`route del ${prefix}${suffix}\nroute add ${prefix} via ${formatIPv4(this.fallbackHops.get(word & NEXT_HOP_MASK)!)}${dev}${suffix}\n`, used, 'latin1');
      }
    }
    return out.subarray(0, used);
  }

  /** The fallback turns records into text itself, so it keeps the next hop definitions it has read. */
  private readonly fallbackHops = new Map<number, number>();

  private reuse(buffer: Buffer): void {
    if (this.freeBuffers.length < 4) this.freeBuffers.push(Buffer.from(buffer.buffer, buffer.byteOffset, WRITE));
  }

  /** Hands what is pending to the writer, no faster than it takes it (pipe backpressure). */
  flush(): void {
    this.pump();
  }

  private pump(): void {
    if (this.waitingForDrain || !this.pending) return;
    const proc = this.start();
    if (this.redefine && this.native && this.nextHopIndex.size > 0) {
      this.redefine = false;
      const words = new Uint32Array(this.nextHopIndex.size * 2);
      let i = 0;
      for (const [hop, index] of this.nextHopIndex) {
        words[i++] = hop >>> 0;
        words[i++] = ((DEFINE_NEXT_HOP << LENGTH_SHIFT) | index) >>> 0;
      }
      proc.stdin.write(Buffer.from(words.buffer));
    }
    for (let buffer = this.input(); buffer; buffer = this.input()) {
      if (!proc.stdin.write(buffer, (error) => { if (!error) this.reuse(buffer); })) {
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
   * Reads the routes of our protocol in the kernel table, one callback each, without holding
   * the whole listing (a million routes are about 40 MB of text).
   */
  private async forEachKernelRoute(visit: (address: number, length: number) => void): Promise<number> {
    const proc = spawn('ip', ['-4', 'route', 'show', 'proto', String(this.options.protocol), 'table', String(this.options.table)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '', count = 0, stderr = '';
    const line = (text: string) => {
      // "10.1.2.0/24 via 10.0.0.1 dev eth0 ...", "default via ...", "10.1.2.3 via ..." (a /32)
      const space = text.indexOf(' ');
      const dst = space < 0 ? text : text.slice(0, space);
      if (!dst) return;
      count++;
      if (dst === 'default') return visit(0, 0);
      const slash = dst.indexOf('/');
      visit(parseIPv4(slash < 0 ? dst : dst.slice(0, slash)), slash < 0 ? 32 : Number(dst.slice(slash + 1)));
    };
    proc.stdout.setEncoding('latin1');
    proc.stdout.on('data', (text: string) => {
      const lines = (rest + text).split('\n');
      rest = lines.pop()!;
      for (const l of lines) line(l);
    });
    proc.stderr.on('data', (text: Buffer) => { stderr += text.toString(); });
    const code = await new Promise<number | null>((resolve, reject) => { proc.on('error', reject); proc.on('close', resolve); });
    if (code !== 0) throw new Error(`ip route show proto ${this.options.protocol} failed: ${stderr.trim()}`);
    line(rest);
    return count;
  }

  /** How many routes a previous run of this speaker left in the table (our restart: they stay until sweep). */
  async adoptExisting(): Promise<number> {
    return this.forEachKernelRoute(() => undefined);
  }

  /**
   * Removes the routes of our protocol in the kernel that `keep` no longer wants: the end of our
   * graceful restart (routes from the previous run that no peer sent again), and a withdrawing
   * stop. `keep` is asked when the listing has been read, so that a route added meanwhile is
   * judged by the RIB as it is then; a delete queued after an add of the same prefix follows it.
   */
  async sweep(keep: (address: number, length: number) => boolean): Promise<number> {
    // Collected first into typed arrays (a million [address, length] pairs were 80 MB of heap).
    let addresses = new Uint32Array(1024), lengths = new Uint8Array(1024), n = 0;
    await this.forEachKernelRoute((address, length) => {
      if (n === addresses.length) {
        const a = new Uint32Array(n * 2); a.set(addresses); addresses = a;
        const l = new Uint8Array(n * 2); l.set(lengths); lengths = l;
      }
      addresses[n] = address;
      lengths[n++] = length;
    });
    let gone = 0;
    for (let i = 0; i < n; i++) {
      if (!keep(addresses[i]!, lengths[i]!)) {
        this.remove(addresses[i]!, lengths[i]!);
        gone++;
      }
    }
    this.flush();
    return gone;
  }

  /**
   * Removes every route of our protocol in the table (a stop that is not a graceful restart).
   * Pending changes are dropped and the writer finishes what it has, so the listing is complete.
   */
  async removeAll(): Promise<number> {
    this.queue.length = 0;
    this.head = 0;
    this.tail = RECORDS;
    this.nextHopIndex = new Map();
    await this.close();
    return this.sweep(() => false);
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
