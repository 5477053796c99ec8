// A switch's plan from what the cluster says (its pool, its nodes, its pods): from and to, the
// stages (shared/switch/stage-plan.ts), the pod pairs probed, what is checked after each stage.
// Pure: switch-cluster.ts reads the facts, and adds the server's dry run and wave 1's preview.
import type { PoolFields } from '../../../shared/api/cluster-ops-contract.ts';
import type { AppliedMode } from '../../../shared/model/node-encapsulation.ts';
import { encapsulationOf } from '../../../shared/model/node-encapsulation.ts';
import { fieldsForMode, modeOfFields } from '../../../shared/switch/modes.ts';
import { planStages, StagePlanError } from '../../../shared/switch/stage-plan.ts';
import type { PodPair, SwitchPlan } from '../../../shared/switch/switch-report.ts';

export interface SwitchFacts {
  context: string;
  pool: { name: string; fields: PoolFields };
  nodes: {
    name: string;
    /** It publishes gingham.dev/Encapsulations, so its agent honours an override. */
    publishes: boolean;
    /** A Gingham agent answers on it (its state can be checked against the plan). */
    agent: boolean;
    /** It already carries a gingham.dev/IPPoolModes override for this pool. */
    override?: string;
  }[];
  pods: { name: string; node: string; ip: string }[];
}

export interface SwitchRequest {
  mode: AppliedMode;
  canary?: string[];
}

/** More pairs than this would be a ping flood of their own (each pair pings 100 times a second). */
export const maxPairs = 30;

export const convergeTimeoutMs = 60_000;

const byName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

/**
 * One pod per node (its first by name), then the ordered pairs between them by distance in that
 * order (each to the next, then to the one after, ...), so that a cut still has every node as a
 * source and a destination.
 */
export function choosePairs(pods: SwitchFacts['pods']): { pairs: PodPair[]; note?: string } {
  const perNode = new Map<string, string>();
  for (const pod of [...pods].sort((a, b) => byName(a.name, b.name))) if (!perNode.has(pod.node)) perNode.set(pod.node, pod.name);
  const chosen = [...perNode.entries()].sort(([a], [b]) => byName(a, b)).map(([, pod]) => pod);
  const pairs: PodPair[] = [];
  for (let k = 1; k < chosen.length; k++) for (let i = 0; i < chosen.length; i++) pairs.push({ from: chosen[i]!, to: chosen[(i + k) % chosen.length]! });
  const notes: string[] = [];
  if (chosen.length < pods.length) notes.push(`one pod per node probed (${chosen.join(', ')}), ${pods.length - chosen.length} others not`);
  if (pairs.length > maxPairs) notes.push(`${maxPairs} of the ${pairs.length} pairs between them probed, every node as a source and a destination`);
  return { pairs: pairs.slice(0, maxPairs), ...(notes.length > 0 ? { note: notes.join('; ') } : {}) };
}

export type PlanShape = Omit<SwitchPlan, 'dryRun' | 'preview'>;

export function planShape(facts: SwitchFacts, request: SwitchRequest): PlanShape {
  const pool = facts.pool;
  const from = modeOfFields(pool.fields);
  if (from === request.mode) throw new StagePlanError(`IP pool ${pool.name} is in ${from} already: nothing to switch`);
  const leftovers = facts.nodes.filter((n) => n.override !== undefined);
  if (leftovers.length > 0) {
    throw new StagePlanError(
      `${leftovers.map((n) => `${n.name} (${n.override})`).join(', ')} already carry a gingham.dev/IPPoolModes override for ${pool.name}, left by a switch that did not end: remove it first (kubectl annotate node NAME gingham.dev/IPPoolModes-)`,
    );
  }
  const { stages, notes } = planStages({
    pool: pool.name,
    nodes: facts.nodes.map((n) => n.name),
    overrideCapable: facts.nodes.filter((n) => n.publishes).map((n) => n.name),
    podNodes: [...new Set(facts.pods.map((p) => p.node))],
    ...(request.canary ? { canary: request.canary } : {}),
    targetText: request.mode,
  });
  const { pairs, note } = choosePairs(facts.pods);
  const unchecked = facts.nodes.filter((n) => !n.agent).map((n) => n.name);
  const kind = encapsulationOf(request.mode);
  const staged = stages.length > 1;
  const checks = [
    staged
      ? `after each stage, each node it switched: its agent applies ${request.mode} (the override, then the pool) and publishes it, and its kernel routes match its own plan; each node not yet switched: it stays on ${from}, its routes match its plan${kind ? `, and it accepts ${kind} (a switched node sends ${kind} only to peers that accept it)` : ' (the switched nodes send unencapsulated)'}`
      : `each node: its agent applies ${request.mode} and its kernel routes match its own plan`,
    `after the ${staged ? 'last stage' : 'stage'}: every node publishes the steady state of ${request.mode} in gingham.dev/Encapsulations (it ${kind ? `accepts and sends ${kind} only` : 'accepts no encapsulation'})`,
    `every pod pair that answered before the switch still answers (a ping and an HTTP GET from the source pod's namespace): ${pairs.length} pairs`,
    `through the whole switch, a ping at 100 per second for each pair, from the source pod's namespace: the packets each pair lost`,
    `a stage that stops a pair answering, or a node not converged within ${convergeTimeoutMs / 1000} s, is rolled back on its own (overrides removed, the pool as it was) and the rollback is checked the same way`,
  ];
  return {
    context: facts.context,
    pool: pool.name,
    from: { mode: from, fields: pool.fields },
    to: { mode: request.mode, fields: fieldsForMode(pool.fields, request.mode) },
    stages,
    checks,
    pairs,
    unchecked,
    notes: [
      ...notes,
      ...(note ? [note] : []),
      ...(unchecked.length > 0 ? [`no Gingham agent answers on ${unchecked.join(', ')}: not checked node by node, only by the pod pairs`] : []),
      ...(pairs.length === 0 ? ['no two pods on different nodes to probe: only the nodes are checked'] : []),
    ],
  };
}
