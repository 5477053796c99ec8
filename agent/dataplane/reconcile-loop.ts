// Keeps the kernel at the desired state, driven by events as Felix is: a pass whenever the kernel
// reports a change that concerns Gingham (ip monitor, bridge monitor, nft monitor), whenever the
// desired state changes, and a full resync every 90 s regardless (Felix's route refresh interval),
// which also reads the nftables table back. A deleted route, a flapping link or a removed device is
// one event, so it is repaired within a second without a pass every second. What the monitors say
// about others' business (ARP on the host's interfaces and the pods' veths, FDB entries of other
// bridges) starts no pass. A pass the kernel refused part of is retried a second later; while a
// monitor is down, passes run every second until it is back.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import type { DataplaneState } from '../../shared/model/dataplane-state.ts';
import { vxlanDeviceName } from '../../shared/dataplane-plan/index.ts';
import { NftTransactions } from './kernel/nft.ts';
import type { PassReport, Reconciler } from './reconciler.ts';
import type { BgpRouteTable } from './bgp-route-table.ts';

export interface LoopOptions {
  /** The full resync's period (90 s). */
  periodMs?: number;
  /** The period while a monitor is down, and the retry after a refusal (1 s). */
  fallbackMs?: number;
  /** Coalesces a burst of kernel events (our own batches make thousands) into one pass. */
  debounceMs?: number;
  onPass?: (report: PassReport) => void;
}

interface Monitor {
  tool: string;
  args: string[];
  /** Its events may concern nftables (so the pass reads the table back). */
  nat: boolean;
  /** Whether an event line (or a continuation line of one) can change what a pass would do. */
  concernsUs: (line: string) => boolean;
}

/** IPv4 only (`ip -4 monitor`: Gingham routes no IPv6). Neighbours are Gingham's only on vxlan.calico; every other neighbour event is ARP traffic. */
export function ipEventConcernsUs(line: string): boolean {
  if (!line.startsWith('[')) return false;
  if (line.startsWith('[NEIGH]')) return line.includes(` dev ${vxlanDeviceName} `);
  return true;
}

/** FDB entries are Gingham's only on vxlan.calico (a bridge's learned MACs are not). */
export function fdbEventConcernsUs(line: string): boolean {
  return line.includes(` dev ${vxlanDeviceName} `);
}

const monitors: Monitor[] = [
  { tool: 'ip', args: ['-4', 'monitor', 'label', 'link', 'route', 'neigh', 'address'], nat: false, concernsUs: ipEventConcernsUs },
  { tool: 'bridge', args: ['monitor', 'fdb'], nat: false, concernsUs: fdbEventConcernsUs },
  // Read a transaction at a time (kernel/nft.ts): our own writes of the tables are no news.
  { tool: 'nft', args: ['monitor'], nat: true, concernsUs: () => false },
];

export class ReconcileLoop {
  private monitors: ChildProcess[] = [];
  private timer: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private dirty = false;
  /** The next pass checks everything, nftables included (not only what ip monitor reports). */
  private full = true;
  private stopped = false;
  private lastWarnings = '';
  private monitorsDown = 0;
  private retry: NodeJS.Timeout | undefined;
  private fallback: NodeJS.Timeout | undefined;
  /** The kernel reported something since the last pass began (or nothing has been read yet): the next pass reads it. */
  private kernelChanged = true;
  /** A new desired state arrived during a pass: the next one starts at once, not after the debounce. */
  private urgent = false;

  constructor(
    private readonly reconciler: Reconciler,
    private state: DataplaneState,
    private readonly log: Logger,
    private readonly options: LoopOptions = {},
    /** The state's BGP routes as numbers (the agent's; its state's own list is empty then). */
    private bgp?: BgpRouteTable,
  ) {}

  start(): void {
    for (const monitor of monitors) this.startMonitor(monitor);
    this.timer = setInterval(() => this.trigger(0, true), this.options.periodMs ?? 90_000);
    this.trigger(0);
  }

  private startMonitor(monitor: Monitor): void {
    if (this.stopped) return;
    const child = spawn(monitor.tool, monitor.args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let partial = '';
    let down = false;
    const transactions =
      monitor.tool === 'nft'
        ? new NftTransactions(() => {
            this.kernelChanged = true;
            this.trigger(undefined, monitor.nat);
          })
        : undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      if (transactions) {
        for (const line of lines) transactions.line(line);
        return;
      }
      // Our own route writes come back as events too: they are no news (route-echoes.ts). Every
      // line is looked at, so that each echo is taken off the list.
      let news = false;
      for (const line of lines) if (monitor.concernsUs(line) && !(monitor.tool === 'ip' && this.reconciler.isOwnEcho(line))) news = true;
      if (news) {
        this.kernelChanged = true;
        this.trigger(undefined, monitor.nat);
      }
    });
    const lost = (why: string) => {
      transactions?.close();
      if (down || this.stopped) return;
      down = true;
      this.monitors = this.monitors.filter((c) => c !== child);
      this.log.warn(`${monitor.tool} monitor ${why}; passes every second until it is back`);
      this.monitorDown(+1);
      setTimeout(() => {
        this.monitorDown(-1);
        this.trigger(0);
        this.startMonitor(monitor);
      }, this.options.fallbackMs ?? 1000);
    };
    child.on('error', (error) => lost(`failed (${error.message})`));
    child.on('exit', (code) => lost(`exited (${code ?? 'signal'})`));
    this.monitors.push(child);
  }

  /** While any monitor is down, a pass every second stands in for its events. */
  private monitorDown(delta: number): void {
    this.monitorsDown += delta;
    if (this.monitorsDown > 0 && !this.fallback) {
      this.fallback = setInterval(() => this.trigger(0, true), this.options.fallbackMs ?? 1000);
    } else if (this.monitorsDown === 0 && this.fallback) {
      clearInterval(this.fallback);
      this.fallback = undefined;
    }
  }

  setState(state: DataplaneState, bgp?: BgpRouteTable): void {
    this.state = state;
    this.bgp = bgp;
    // A changed NAT plan is written without reading the table back first (see Reconciler.pass).
    this.urgent = true;
    this.trigger(0, false);
  }

  /** Asks for a pass; passes never overlap, and events during a pass cause exactly one more. */
  trigger(delay = this.options.debounceMs ?? 20, full = true): void {
    if (this.stopped) return;
    if (full) this.full = true;
    if (this.running) {
      this.dirty = true;
      return;
    }
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.running = this.runPass().finally(() => {
        this.running = undefined;
        if (this.dirty) {
          this.dirty = false;
          this.trigger(this.urgent ? 0 : undefined, false);
        }
      });
    }, delay);
  }

  private async runPass(): Promise<void> {
    try {
      const nat = this.full;
      this.full = false;
      // A new desired state alone, with no news from the kernel: the pass may write only what changed.
      const quiet = !nat && !this.kernelChanged;
      this.kernelChanged = false;
      this.urgent = false;
      // A state set while the kernel is read is planned in this pass (and, as the pass was
      // running, causes one more): a burst of BGP routes needs no extra pass for its tail.
      const report = await this.reconciler.pass(this.state, { nat, quiet, latest: () => this.state, bgp: () => this.bgp });
      // The kernel refused part of it: try again shortly rather than at the next resync.
      if (report.failures.length > 0 && !this.retry) {
        this.retry = setTimeout(() => {
          this.retry = undefined;
          this.trigger(0, true);
        }, this.options.fallbackMs ?? 1000);
      }
      if (report.changes > 0) this.log.info({ changes: report.changes, ms: Math.round(report.ms), timings: report.timings, ...(report.changes <= 12 ? { commands: report.commands } : {}) }, 'dataplane reconciled');
      for (const failure of report.failures) this.log.warn({ command: failure.command }, `kernel refused: ${failure.error}`);
      const warnings = report.warnings.join('\n');
      if (warnings !== this.lastWarnings) for (const warning of report.warnings) this.log.warn(warning);
      this.lastWarnings = warnings;
      this.options.onPass?.(report);
    } catch (error) {
      this.log.error({ err: error }, 'reconcile pass failed; retrying on the next one');
    }
  }

  /** Waits for no pass to be running: the kernel is at the state of the last `setState`. */
  async settled(): Promise<void> {
    while (this.running || this.pending) await (this.running ?? new Promise((resolve) => setTimeout(resolve, 5)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.fallback) clearInterval(this.fallback);
    if (this.retry) clearTimeout(this.retry);
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
    for (const child of this.monitors) child.kill();
    this.monitors = [];
    await this.running;
    this.reconciler.close();
  }
}
