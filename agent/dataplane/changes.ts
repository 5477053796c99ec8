// A reconcile pass's changes, in the order that loses the fewest packets: the new path goes in
// (devices, neighbours, FDB entries, then routes replaced in place) before the old path comes out
// (stale routes, neighbours, FDB entries, then devices). Each phase is one batch process, or for
// routes one batch of netlink requests (kernel/route-writer.ts): routes are kept as data, not as
// `ip route` text, so that a pass of 100k routes builds no text at all; `lines` and `batches()`
// format them for the tests, the log and the `ip -batch` fallback.
import type { Tool } from './kernel/iproute.ts';
import { routeCommand, type RouteChange } from './route-change.ts';

export const phases = ['prepare', 'prepareFdb', 'switch', 'retire', 'retireFdb', 'teardown'] as const;
export type Phase = (typeof phases)[number];

export const phaseTool: Record<Phase, Tool> = {
  prepare: 'ip',
  prepareFdb: 'bridge',
  switch: 'ip',
  retire: 'ip',
  retireFdb: 'bridge',
  teardown: 'ip',
};


/** What a pass runs, in order: `ip`/`bridge` text, or routes for the netlink writer. */
export type Step = { tool: Tool; commands: string[] } | { routes: RouteChange[] };

export class ChangeSet {
  private readonly text: Record<Phase, string[]> = { prepare: [], prepareFdb: [], switch: [], retire: [], retireFdb: [], teardown: [] };
  /** Route changes by phase, after the phase's text commands. */
  private readonly routeChanges: Record<Phase, RouteChange[]> = { prepare: [], prepareFdb: [], switch: [], retire: [], retireFdb: [], teardown: [] };

  add(phase: Phase, ...commands: string[]): void {
    this.text[phase].push(...commands);
  }

  addRoute(phase: Phase, change: RouteChange): void {
    this.routeChanges[phase].push(change);
  }

  /** A phase's text commands (without its routes). */
  textOf(phase: Phase): readonly string[] {
    return this.text[phase];
  }

  /** Every phase's commands as `ip`/`bridge` text (routes formatted), in order. */
  get lines(): Record<Phase, string[]> {
    const out = {} as Record<Phase, string[]>;
    for (const phase of phases) out[phase] = [...this.text[phase], ...this.routeChanges[phase].map(routeCommand)];
    return out;
  }

  get size(): number {
    return phases.reduce((sum, phase) => sum + this.text[phase].length + this.routeChanges[phase].length, 0);
  }

  /** Consecutive phases of the same tool merged, so that a pass spawns as few processes as it can. */
  batches(): Array<{ tool: Tool; commands: string[] }> {
    const out: Array<{ tool: Tool; commands: string[] }> = [];
    const lines = this.lines;
    for (const phase of phases) {
      const commands = lines[phase];
      if (commands.length === 0) continue;
      const last = out.at(-1);
      if (last && last.tool === phaseTool[phase]) last.commands.push(...commands);
      else out.push({ tool: phaseTool[phase], commands: [...commands] });
    }
    return out;
  }

  /** The same order with the routes as data, for a pass that programs them over netlink. */
  steps(): Step[] {
    const out: Step[] = [];
    for (const phase of phases) {
      const commands = this.text[phase];
      if (commands.length > 0) {
        const last = out.at(-1);
        if (last && 'tool' in last && last.tool === phaseTool[phase]) last.commands.push(...commands);
        else out.push({ tool: phaseTool[phase], commands: [...commands] });
      }
      const routes = this.routeChanges[phase];
      if (routes.length === 0) continue;
      const last = out.at(-1);
      // Appended one by one: a spread of 100k arguments overflows the stack.
      if (last && 'routes' in last) for (const change of routes) last.routes.push(change);
      else out.push({ routes: routes.slice() });
    }
    return out;
  }
}
