// A staged mode switch of one IP pool, as the console and `npm run -s doctor -- switch` run it:
// the plan shown first, then per stage what was applied, each node's time to converge, each pod
// pair's answer before and after; a rollback and its verification when a stage made a pair worse;
// and the packets each pair lost through the whole switch, counted by a continuous probe. The
// report is what the page shows and what Export writes (JSON).
import { z } from 'zod';
import { NodePreview, PoolDryRun, PoolFields } from '../api/cluster-ops-contract.ts';
import { TraceResult } from '../doctor/trace-result.ts';
import { appliedModes } from '../model/node-encapsulation.ts';

export const SwitchMode = z.enum(appliedModes);
export type SwitchMode = z.infer<typeof SwitchMode>;

export const PodPair = z.object({ from: z.string(), to: z.string() });
export type PodPair = z.infer<typeof PodPair>;

export const StagePlan = z.object({
  /** `canary`, `rest`, or `all` (one stage). */
  name: z.enum(['canary', 'rest', 'all']),
  nodes: z.array(z.string()),
  /** What the stage changes in the cluster, in words. */
  how: z.string(),
});
export type StagePlan = z.infer<typeof StagePlan>;

export const SwitchPlan = z.object({
  context: z.string(),
  pool: z.string(),
  from: z.object({ mode: SwitchMode, fields: PoolFields }),
  to: z.object({ mode: SwitchMode, fields: PoolFields }),
  stages: z.array(StagePlan),
  /** What is checked after each stage, in words. */
  checks: z.array(z.string()),
  /** The pod pairs probed after each stage and through the switch. */
  pairs: z.array(PodPair),
  /** The pool change as the API server would store it (dryRun=All). */
  dryRun: PoolDryRun,
  /** Wave 1's dataplane plan per node (the agents' own planner). */
  preview: z.array(NodePreview),
  /** Nodes no Gingham agent answers on (a stock calico-node, say): not checked one by one; the pod pairs judge them. */
  unchecked: z.array(z.string()),
  notes: z.array(z.string()),
});
export type SwitchPlan = z.infer<typeof SwitchPlan>;

export const NodeResult = z.object({
  node: z.string(),
  converged: z.boolean(),
  /** From the stage's change to the first check that found the node converged. */
  ms: z.number().optional(),
  detail: z.string(),
});
export type NodeResult = z.infer<typeof NodeResult>;

export const PairCheck = z.object({
  from: z.string(),
  to: z.string(),
  /** The pair answered before the switch began. */
  before: z.boolean(),
  /** It answered after this stage (after retries). */
  after: z.boolean(),
  error: z.string().optional(),
});
export type PairCheck = z.infer<typeof PairCheck>;

export const StageResult = z.object({
  name: z.string(),
  nodes: z.array(z.string()),
  how: z.string(),
  /** ms from the start of the switch. */
  startedMs: z.number(),
  results: z.array(NodeResult),
  pairs: z.array(PairCheck),
  verdict: z.enum(['ok', 'worse', 'not-converged']),
  reason: z.string(),
});
export type StageResult = z.infer<typeof StageResult>;

export const PairLoss = z.object({
  from: z.string(),
  to: z.string(),
  sent: z.number(),
  received: z.number(),
  lost: z.number(),
  /** The longest time between two replies, ms. */
  longestGapMs: z.number(),
  /** When that gap began, ms from the start of the switch (which stage it fell in). */
  longestGapAtMs: z.number().optional(),
  error: z.string().optional(),
});
export type PairLoss = z.infer<typeof PairLoss>;

export const PairFailure = z.object({ from: z.string(), to: z.string(), why: z.string(), trace: TraceResult.optional() });

export const SwitchReport = z.object({
  id: z.string(),
  plan: SwitchPlan,
  state: z.enum(['running', 'switched', 'rolled-back', 'failed']),
  /** What is happening now (or how it ended), in words. */
  phase: z.string(),
  startedAt: z.string(),
  ms: z.number(),
  stages: z.array(StageResult),
  /** While running: the stage (or rollback) being checked, its nodes as the last check found them. */
  current: StageResult.optional(),
  failures: z.array(PairFailure),
  rollback: z.object({ reason: z.string(), verification: StageResult.optional(), verified: z.boolean() }).optional(),
  loss: z.array(PairLoss),
  log: z.array(z.string()),
});
export type SwitchReport = z.infer<typeof SwitchReport>;
