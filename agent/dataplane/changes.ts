// A reconcile pass's changes, in the order that loses the fewest packets: the new path goes in
// (devices, neighbours, FDB entries, then routes replaced in place) before the old path comes out
// (stale routes, neighbours, FDB entries, then devices). Each phase is one batch process, or for
// routes one batch of netlink requests (kernel/route-writer.ts): routes are kept as numbers
// (route-change-list.ts), not as `ip route` text or objects, so that a pass of 1M BGP routes
// builds neither; `lines` and `batches()` format them for the tests, the log and the `ip -batch`
// fallback.
import type { Tool } from './kernel/iproute.ts';
import { routeCommand, type RouteChange } from './route-change.ts';
import { RouteChangeList } from './route-change-list.ts';

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
export type Step = { tool: Tool; commands: string[] } | { routes: RouteChangeList };

export class ChangeSet {
  private readonly text: Record<Phase, string[]> = { prepare: [], prepareFdb: [], switch: [], retire: [], retireFdb: [], teardown: [] };
  /** Route changes by phase, after the phase's text commands. */
  private readonly routeChanges: Record<Phase, RouteChangeList> = {
    prepare: new RouteChangeList(),
    prepareFdb: new RouteChangeList(),
    switch: new RouteChangeList(),
    retire: new RouteChangeList(),
    retireFdb: new RouteChangeList(),
    teardown: new RouteChangeList(),
  };

  add(phase: Phase, ...commands: string[]): void {
    this.text[phase].push(...commands);
  }

  addRoute(phase: Phase, change: RouteChange): void {
    this.routeChanges[phase].push(change);
  }

  /** A phase's route changes, to add to as numbers (BGP routes). */
  routesOf(phase: Phase): RouteChangeList {
    return this.routeChanges[phase];
  }

  /** A phase's text commands (without its routes). */
  textOf(phase: Phase): readonly string[] {
    return this.text[phase];
  }

  /** Every phase's commands as `ip`/`bridge` text (routes formatted), in order. */
  get lines(): Record<Phase, string[]> {
    const out = {} as Record<Phase, string[]>;
    for (const phase of phases) out[phase] = [...this.text[phase], ...this.routeChanges[phase].toArray().map(routeCommand)];
    return out;
  }

  get size(): number {
    return phases.reduce((sum, phase) => sum + this.text[phase].length + this.routeChanges[phase].size, 0);
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
      if (routes.size === 0) continue;
      const last = out.at(-1);
      if (last && 'routes' in last) {
        // Two phases' routes in one batch: a new list, so that the phases' own stay as they are.
        const merged = new RouteChangeList();
        merged.pushAll(last.routes);
        merged.pushAll(routes);
        last.routes = merged;
      } else out.push({ routes });
    }
    return out;
  }
}
