// The stages of a mode switch. A pool's mode is cluster-wide in Calico, so a stage narrower than
// the cluster is a per-node override the agents honour (gingham.dev/IPPoolModes on the canary
// nodes' Node objects, shared/model/node-encapsulation.ts): canary nodes first, then the pool
// itself for the rest. A small cluster, or one where some node cannot honour the override (no
// gingham.dev/Encapsulations published: a stock calico-node or an older agent), switches all at
// once: one stage, the pool patched.
import type { StagePlan } from './switch-report.ts';

export interface StageInput {
  pool: string;
  /** Every node of the cluster. */
  nodes: string[];
  /** Nodes that publish gingham.dev/Encapsulations, so honour an override. */
  overrideCapable: string[];
  /** Nodes that run pods the switch will probe: an automatic canary is taken among them. */
  podNodes: string[];
  /** The canary nodes the admin named. */
  canary?: string[];
  /** From this many nodes on, a canary is chosen when none is named. */
  autoCanaryFrom?: number;
  targetText: string;
}

export class StagePlanError extends Error {}

const byName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

export function planStages(input: StageInput): { stages: StagePlan[]; notes: string[] } {
  const nodes = [...input.nodes].sort(byName);
  const capable = new Set(input.overrideCapable);
  const incapable = nodes.filter((n) => !capable.has(n));
  const all: StagePlan = { name: 'all', nodes, how: `patch IPPool ${input.pool} to ${input.targetText}: every node at once` };
  const staged = (canary: string[]): StagePlan[] => {
    const rest = nodes.filter((n) => !canary.includes(n));
    return [
      { name: 'canary', nodes: canary, how: `annotate ${canary.join(', ')} with gingham.dev/IPPoolModes (${input.targetText} for these nodes only); the pool is unchanged` },
      { name: 'rest', nodes: rest, how: `patch IPPool ${input.pool} to ${input.targetText} for ${rest.join(', ')}; once every node applies it, remove the canaries' annotations` },
    ];
  };

  if (input.canary && input.canary.length > 0) {
    const unknown = input.canary.filter((n) => !nodes.includes(n));
    if (unknown.length > 0) throw new StagePlanError(`no node ${unknown.join(', ')} in the cluster: its nodes are ${nodes.join(', ')}`);
    const canary = [...new Set(input.canary)].sort(byName);
    if (canary.length === nodes.length) throw new StagePlanError('the canary stage would be every node: leave the canary out to switch all at once');
    if (incapable.length > 0) {
      throw new StagePlanError(
        `${incapable.join(', ')} publish no gingham.dev/Encapsulations (a stock calico-node or an agent older than the staged switch), so a per-node override would not be honoured: switch all at once (no canary), or upgrade the agents first`,
      );
    }
    return { stages: staged(canary), notes: [] };
  }

  const from = input.autoCanaryFrom ?? 5;
  if (nodes.length < from) return { stages: [all], notes: [`${nodes.length} nodes (fewer than ${from}): all at once, in one stage`] };
  if (incapable.length > 0) return { stages: [all], notes: [`all at once: ${incapable.join(', ')} cannot honour a per-node override (no gingham.dev/Encapsulations)`] };
  // One canary per ten nodes, among the nodes with pods (so that the canary stage is probed).
  const count = Math.ceil(nodes.length / 10);
  const withPods = nodes.filter((n) => input.podNodes.includes(n));
  const canary = [...withPods, ...nodes.filter((n) => !withPods.includes(n))].slice(0, count).sort(byName);
  return { stages: staged(canary), notes: [`canary chosen: ${canary.join(', ')} (one per ten nodes, among those with pods)`] };
}
