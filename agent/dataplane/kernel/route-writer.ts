// The reconciler's route changes over netlink, through the BGP speaker's native route writer
// (agent/bgp/native/route_writer.c): binary records in, many requests per sendmsg, one
// acknowledgement per batch. `ip -batch` waits for the kernel's answer to each line and parses
// text; at 100k routes that was most of a pass. The writer is one long-lived process; a pass's
// routes end with a sync record, and the writer's answer to it says that everything before was
// applied, the refusals (on the same stream) having come first.
//
// Each route's gateway, device and form (MTU, onlink, scope link, blackhole) make a next hop the
// writer is told once and then named by index: a pass has a handful of them (one per node and
// path), whatever the number of routes.
import { type ChildProcessByStdio, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { nativeFile } from '../../bgp/native-path.ts';
import { ginghamRouteProtocol, type DesiredRoute } from '../../../shared/dataplane-plan/index.ts';
import { parseIPv4 } from '../../../shared/net/index.ts';
import { routeCommand, type RouteChange } from '../route-change.ts';
import { RouteChangeList } from '../route-change-list.ts';
import { prefixKey, prefixOf } from '../bgp-route-table.ts';
import type { BatchFailure } from './iproute.ts';

type WriterProcess = ChildProcessByStdio<Writable, null, Readable>;

const WRITER = nativeFile('gingham-route-writer');
const MAIN_TABLE = 254;

// The record format (route_writer.c's header).
const DELETE = 0x80000000;
const REPLACE = 0x01000000;
const LENGTH_SHIFT = 25;
const DEFINE_NEXT_HOP = 63;
const NEXT_HOP_DEVICE = 62;
const NEXT_HOP_FORM = 61;
const SYNC = 60;
const MAX_NEXT_HOPS = 65536;
/** Records (two words each) written at a time (256 KiB), and chunks written ahead of the pipe (2 MiB, 256k routes). */
const CHUNK_WORDS = 65536;
const WINDOW = 8;
const FORM_ONLINK = 1 << 16;
const FORM_SCOPE_LINK = 1 << 17;
const FORM_BLACKHOLE = 1 << 18;
const FORM_NO_GATEWAY = 1 << 19;

export class RouteWriter {
  /** False when the writer is not built (node scripts/ensure-deps.mjs builds it): the caller uses `ip -batch`. */
  readonly available = existsSync(WRITER);
  private proc: WriterProcess | undefined;
  /** Next hops the running writer knows, by "gateway device form". */
  private hops = new Map<string, number>();
  private stderrRest = '';
  private refusals: string[] = [];
  private waiting: { token: number; resolve: (refusals: string[]) => void; reject: (error: Error) => void } | undefined;
  private token = 0;
  private queue: Promise<unknown> = Promise.resolve();
  /** Processes started so far (a test reads it). */
  starts = 0;

  /**
   * `namespace`: run the writer there and look its devices up there (a test's network namespace;
   * the agent runs in its node's own).
   */
  constructor(private readonly options: { namespace?: string; timeoutMs?: number } = {}) {}

  private ifindex(dev: string): number | undefined {
    try {
      if (!this.options.namespace) return Number(readFileSync(`/sys/class/net/${dev}/ifindex`, 'utf8').trim());
      const out = execFileSync('ip', ['-n', this.options.namespace, '-j', 'link', 'show', 'dev', dev], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      return (JSON.parse(out) as Array<{ ifindex: number }>)[0]?.ifindex;
    } catch {
      return undefined;
    }
  }

  /** Applies `changes` in order; resolves with the ones the kernel (or a missing device) refused. */
  apply(changes: readonly RouteChange[] | RouteChangeList): Promise<BatchFailure[]> {
    const list = changes instanceof RouteChangeList ? changes : RouteChangeList.from(changes);
    if (list.size === 0) return Promise.resolve([]);
    const next = this.queue.then(() => this.send(list));
    this.queue = next.catch(() => undefined);
    return next;
  }

  close(): void {
    const proc = this.proc;
    this.proc = undefined;
    this.hops = new Map();
    if (proc) proc.stdin.end();
  }

  private async send(changes: RouteChangeList): Promise<BatchFailure[]> {
    if (this.hops.size > MAX_NEXT_HOPS - 64) this.close();
    const proc = this.start();
    const failures: BatchFailure[] = [];
    const devices = new Map<string, number | undefined>();
    const ifindex = (dev: string) => {
      if (!devices.has(dev)) devices.set(dev, this.ifindex(dev));
      return devices.get(dev);
    };
    // The records go out a chunk at a time, each written when full, with at most WINDOW chunks
    // not yet taken by the pipe: one buffer of the whole pass (8 bytes a route) was 6.8 MiB of the
    // peak at 1M, held until the writer had read it all. Not 'drain' (the buffer empty) before the
    // next chunk: the writer would wait whenever the event loop is slow to come back (the kernel's
    // echoes of the same pass keep it busy), where a window keeps it fed (300k routes with the
    // loop kept busy were written no slower than as one buffer).
    let words = new Uint32Array(CHUNK_WORDS);
    let n = 0;
    const push = (a: number, b: number) => {
      words[n++] = a >>> 0;
      words[n++] = b >>> 0;
    };
    let gone = false;
    const writing: Array<Promise<void>> = [];
    const flush = async () => {
      if (gone) n = 0;
      if (n === 0) return;
      const chunk = Buffer.from(words.buffer, 0, n * 4);
      writing.push(new Promise<void>((resolve) => proc.stdin.write(chunk, () => resolve())));
      words = new Uint32Array(CHUNK_WORDS);
      n = 0;
      // A writer that exits meanwhile rejects `answered`: stop writing then.
      if (writing.length >= WINDOW) await Promise.race([writing.shift(), answered.then(() => undefined, () => { gone = true; })]);
    };
    const token = ++this.token;
    const answered = new Promise<string[]>((resolve, reject) => {
      const timeoutMs = this.options.timeoutMs ?? 60_000;
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`the route writer did not answer within ${timeoutMs} ms`));
        this.close();
        proc.kill();
      }, timeoutMs);
      this.waiting = {
        token,
        resolve: (refusals) => { clearTimeout(timer); resolve(refusals); },
        reject: (error) => { clearTimeout(timer); reject(error); },
      };
    });
    // Awaited below, after the writes: a writer that fails during them is not an unhandled rejection.
    answered.catch(() => undefined);
    setRef(proc, true);
    // The writer's next hop for each route the changes take theirs from (a BGP pass's changes
    // name one route per kind): a pass has a handful, whatever the number of routes.
    const hopOf = new Map<number, number | undefined>();
    for (let i = 0; i < changes.size; i++) {
      // Room for the most one change pushes (a next hop's three records and the route's).
      if (n + 8 > CHUNK_WORDS) await flush();
      const op = changes.op(i);
      const address = changes.address(i), length = changes.length(i);
      if (op === 'del') {
        push(address, DELETE | (length << LENGTH_SHIFT));
        continue;
      }
      const ref = changes.routeIndex(i);
      let hop = hopOf.get(ref);
      if (!hopOf.has(ref)) {
        hop = this.defineHop(changes.route(i)!, ifindex, push);
        hopOf.set(ref, hop);
      }
      if (hop === undefined) {
        failures.push({ command: routeCommand(changes.at(i)), error: `Cannot find device "${changes.route(i)!.dev}"` });
        continue;
      }
      push(address, (length << LENGTH_SHIFT) | (op === 'replace' ? REPLACE : 0) | hop);
    }
    push(token, SYNC << LENGTH_SHIFT);
    await flush();
    try {
      const refusals = await answered;
      for (const failure of refusals.length > 0 ? this.name(refusals, changes) : []) failures.push(failure);
    } catch (error) {
      for (let i = 0; i < changes.size; i++) failures.push({ command: routeCommand(changes.at(i)), error: (error as Error).message });
    } finally {
      if (this.proc) setRef(this.proc, false);
    }
    return failures;
  }

  /**
   * The writer's index of `route`'s next hop (gateway, device and form), defined in the stream
   * the first time the running writer meets it; undefined when its device does not exist.
   */
  private defineHop(route: DesiredRoute, ifindex: (dev: string) => number | undefined, push: (a: number, b: number) => void): number | undefined {
    let oif = 0;
    if (route.type !== 'blackhole' && route.dev !== undefined) {
      const index = ifindex(route.dev);
      if (index === undefined) return undefined;
      oif = index;
    }
    const gateway = route.type !== 'blackhole' && route.gateway !== undefined ? parseIPv4(route.gateway) : 0;
    const form = route.type === 'blackhole'
      ? FORM_BLACKHOLE
      : (route.mtu ?? 0) | (route.onlink ? FORM_ONLINK : 0) | (route.scope === 'link' ? FORM_SCOPE_LINK : 0) | (route.gateway === undefined ? FORM_NO_GATEWAY : 0);
    const key = `${gateway} ${oif} ${form}`;
    let hop = this.hops.get(key);
    if (hop === undefined) {
      hop = this.hops.size;
      this.hops.set(key, hop);
      push(gateway, (DEFINE_NEXT_HOP << LENGTH_SHIFT) | hop);
      push(oif, (NEXT_HOP_DEVICE << LENGTH_SHIFT) | hop);
      push(form, (NEXT_HOP_FORM << LENGTH_SHIFT) | hop);
    }
    return hop;
  }

  /**
   * The writer's refusals ("error TEXT: A|D a.b.c.d/LEN[ (why)]") as the changes they refused:
   * the few refusals by prefix, then one walk over the changes (no string per change).
   */
  private name(refusals: string[], changes: RouteChangeList): BatchFailure[] {
    const keyOf = (address: number, length: number, del: boolean) => prefixKey(address, length) * 2 + (del ? 1 : 0);
    const refused = refusals.map((line) => {
      const m = /^error (.*): ([AD]) (\d+\.\d+\.\d+\.\d+\/\d+)(?: \((.*)\))?$/.exec(line);
      return { line, m, change: undefined as RouteChange | undefined };
    });
    const byKey = new Map<number, typeof refused>();
    for (const r of refused) {
      if (!r.m) continue;
      const key = keyOf(...prefixOf(r.m[3]!), r.m[2] === 'D');
      byKey.set(key, [...(byKey.get(key) ?? []), r]);
    }
    // A prefix changed twice in one batch: the last change is named (as a map by prefix had it).
    for (let i = 0; i < changes.size; i++) {
      const found = byKey.get(keyOf(changes.address(i), changes.length(i), changes.op(i) === 'del'));
      if (found) for (const r of found) r.change = changes.at(i);
    }
    return refused.map(({ line, m, change }) => {
      if (!m || !change) return { command: 'route writer', error: line };
      return { command: routeCommand(change), error: m[4] ? `${m[1]} (${m[4]})` : m[1]! };
    });
  }

  private start(): WriterProcess {
    if (this.proc) return this.proc;
    const args = [String(MAIN_TABLE), String(ginghamRouteProtocol)];
    const ns = this.options.namespace;
    const proc = ns ? spawn('ip', ['netns', 'exec', ns, WRITER, ...args], { stdio: ['pipe', 'ignore', 'pipe'] }) : spawn(WRITER, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.starts++;
    this.proc = proc;
    this.hops = new Map();
    this.stderrRest = '';
    this.refusals = [];
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (text: string) => {
      if (this.proc !== proc) return;
      const lines = (this.stderrRest + text).split('\n');
      this.stderrRest = lines.pop() ?? '';
      for (const line of lines) {
        const sync = /^sync (\d+)$/.exec(line);
        if (!sync) {
          if (line.trim() !== '') this.refusals.push(line.trim());
          continue;
        }
        const waiting = this.waiting;
        if (waiting && Number(sync[1]) === waiting.token) {
          this.waiting = undefined;
          const refusals = this.refusals;
          this.refusals = [];
          waiting.resolve(refusals);
        }
      }
    });
    proc.stdin.on('error', () => undefined); // reported by 'exit'
    const gone = (why: string) => {
      if (this.proc === proc) {
        this.proc = undefined;
        this.hops = new Map();
      }
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.reject(new Error(`the route writer ${why}`));
    };
    proc.on('error', (error) => gone(`could not run: ${error.message}`));
    proc.on('exit', (code, signal) => gone(`exited (${signal ?? `code ${code}`})`));
    setRef(proc, false);
    return proc;
  }
}

type Refable = { ref?: () => void; unref?: () => void };

/** Only while a request is out does the writer keep Node's event loop alive. */
function setRef(proc: WriterProcess, on: boolean): void {
  for (const handle of [proc, proc.stdin, proc.stderr] as Refable[]) {
    if (on) handle.ref?.();
    else handle.unref?.();
  }
}
