// Keeps the kernel at the desired state: a pass whenever the kernel reports a change (ip monitor,
// bridge monitor, nft monitor), whenever the desired state changes, and once a second regardless, so that a
// deleted route, a flapping link or a removed device is repaired well within a second. The
// nftables table is read back when nft monitor reports a change and every 10 s (each read is an
// `nft` process); routes, links and entries every pass (a round trip to a running `ip`).
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import type { DataplaneState } from '../../shared/model/dataplane-state.ts';
import type { PassReport, Reconciler } from './reconciler.ts';

export interface LoopOptions {
  periodMs?: number;
  /** How often the periodic pass also reads the nftables table back (nft monitor reports changes sooner). */
  natPeriodMs?: number;
  /** Coalesces a burst of kernel events (our own batches make thousands) into one pass. */
  debounceMs?: number;
  onPass?: (report: PassReport) => void;
}

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
  private lastNatCheck = 0;
  /** A new desired state arrived during a pass: the next one starts at once, not after the debounce. */
  private urgent = false;

  constructor(
    private readonly reconciler: Reconciler,
    private state: DataplaneState,
    private readonly log: Logger,
    private readonly options: LoopOptions = {},
  ) {}

  start(): void {
    const monitors = [
      { tool: 'ip', args: ['monitor', 'link', 'route', 'neigh', 'address'], nat: false },
      { tool: 'bridge', args: ['monitor', 'fdb'], nat: false },
      { tool: 'nft', args: ['monitor'], nat: true },
    ];
    for (const { tool, args, nat } of monitors) {
      const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'ignore'] });
      child.stdout.on('data', () => this.trigger(undefined, nat));
      child.on('error', (error) => this.log.warn({ err: error }, `${tool} monitor failed; relying on the periodic pass`));
      this.monitors.push(child);
    }
    this.timer = setInterval(() => this.trigger(0, Date.now() - this.lastNatCheck >= (this.options.natPeriodMs ?? 10_000)), this.options.periodMs ?? 1000);
    this.trigger(0);
  }

  setState(state: DataplaneState): void {
    this.state = state;
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
      this.urgent = false;
      if (nat) this.lastNatCheck = Date.now();
      const report = await this.reconciler.pass(this.state, { nat });
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
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
    for (const child of this.monitors) child.kill();
    this.monitors = [];
    await this.running;
    this.reconciler.close();
  }
}
