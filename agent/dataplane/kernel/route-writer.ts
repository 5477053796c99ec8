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
const FORM_ONLINK = 1 << 16;
const FORM_SCOPE_LINK = 1 << 17;
const FORM_BLACKHOLE = 1 << 18;
const FORM_NO_GATEWAY = 1 << 19;

/** "a.b.c.d/len" as numbers (the planner's and the kernel read's notation: always with the length). */
function prefix(dst: string): [number, number] {
  const slash = dst.indexOf('/');
  return [parseIPv4(dst.slice(0, slash)), Number(dst.slice(slash + 1))];
}

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
  apply(changes: readonly RouteChange[]): Promise<BatchFailure[]> {
    if (changes.length === 0) return Promise.resolve([]);
    const next = this.queue.then(() => this.send(changes));
    this.queue = next.catch(() => undefined);
    return next;
  }

  close(): void {
    const proc = this.proc;
    this.proc = undefined;
    this.hops = new Map();
    if (proc) proc.stdin.end();
  }

  private async send(changes: readonly RouteChange[]): Promise<BatchFailure[]> {
    if (this.hops.size > MAX_NEXT_HOPS - 64) this.close();
    const proc = this.start();
    const failures: BatchFailure[] = [];
    const devices = new Map<string, number | undefined>();
    const ifindex = (dev: string) => {
      if (!devices.has(dev)) devices.set(dev, this.ifindex(dev));
      return devices.get(dev);
    };
    let words = new Uint32Array(Math.max(64, changes.length * 2 + 16));
    let n = 0;
    const push = (a: number, b: number) => {
      if (n + 2 > words.length) {
        const grown = new Uint32Array(words.length * 2);
        grown.set(words);
        words = grown;
      }
      words[n++] = a >>> 0;
      words[n++] = b >>> 0;
    };
    // The next hop of the route before: a pass's routes come in runs of one next hop (a node's
    // blocks, a peer's prefixes), and making a key per route cost more than the rest of its record.
    let last: DesiredRoute | undefined;
    let lastHop = 0;
    for (const change of changes) {
      if (change.op === 'del') {
        const [address, length] = prefix(change.dst);
        push(address, DELETE | (length << LENGTH_SHIFT));
        continue;
      }
      const route = change.route;
      if (last && route.type === last.type && route.dev === last.dev && route.gateway === last.gateway && route.mtu === last.mtu && route.onlink === last.onlink && route.scope === last.scope) {
        const [address, length] = prefix(route.dst);
        push(address, (length << LENGTH_SHIFT) | (change.op === 'replace' ? REPLACE : 0) | lastHop);
        continue;
      }
      let oif = 0;
      if (route.type !== 'blackhole' && route.dev !== undefined) {
        const index = ifindex(route.dev);
        if (index === undefined) {
          failures.push({ command: routeCommand(change), error: `Cannot find device "${route.dev}"` });
          continue;
        }
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
      last = route;
      lastHop = hop;
      const [address, length] = prefix(route.dst);
      push(address, (length << LENGTH_SHIFT) | (change.op === 'replace' ? REPLACE : 0) | hop);
    }
    const token = ++this.token;
    push(token, SYNC << LENGTH_SHIFT);
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
    setRef(proc, true);
    proc.stdin.write(Buffer.from(words.buffer, 0, n * 4));
    try {
      const refusals = await answered;
      for (const failure of refusals.length > 0 ? this.name(refusals, changes) : []) failures.push(failure);
    } catch (error) {
      for (const change of changes) failures.push({ command: routeCommand(change), error: (error as Error).message });
    } finally {
      if (this.proc) setRef(this.proc, false);
    }
    return failures;
  }

  /** The writer's refusals ("error TEXT: A|D a.b.c.d/LEN[ (why)]") as the changes they refused. */
  private name(refusals: string[], changes: readonly RouteChange[]): BatchFailure[] {
    const byKey = new Map<string, RouteChange>();
    for (const change of changes) byKey.set(`${change.op === 'del' ? 'D' : 'A'} ${change.op === 'del' ? change.dst : change.route.dst}`, change);
    return refusals.map((line) => {
      const m = /^error (.*): ([AD]) (\d+\.\d+\.\d+\.\d+\/\d+)(?: \((.*)\))?$/.exec(line);
      const change = m ? byKey.get(`${m[2]} ${m[3]}`) : undefined;
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
