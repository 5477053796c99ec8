// A reconcile pass's changes, in the order that loses the fewest packets: the new path goes in
// (devices, neighbours, FDB entries, then routes replaced in place) before the old path comes out
// (stale routes, neighbours, FDB entries, then devices). Each phase is one batch process.
import type { Tool } from './kernel/iproute.ts';

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

export class ChangeSet {
  readonly lines: Record<Phase, string[]> = { prepare: [], prepareFdb: [], switch: [], retire: [], retireFdb: [], teardown: [] };

  add(phase: Phase, ...commands: string[]): void {
    this.lines[phase].push(...commands);
  }

  get size(): number {
    return phases.reduce((sum, phase) => sum + this.lines[phase].length, 0);
  }

  /** Consecutive phases of the same tool merged, so that a pass spawns as few processes as it can. */
  batches(): Array<{ tool: Tool; commands: string[] }> {
    const out: Array<{ tool: Tool; commands: string[] }> = [];
    for (const phase of phases) {
      const commands = this.lines[phase];
      if (commands.length === 0) continue;
      const last = out.at(-1);
      if (last && last.tool === phaseTool[phase]) last.commands.push(...commands);
      else out.push({ tool: phaseTool[phase], commands: [...commands] });
    }
    return out;
  }
}
