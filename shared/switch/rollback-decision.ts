// After each stage: go on, or roll back. A stage is worse when a pod pair that answered before
// the switch no longer answers after it (pairs that never answered do not count: the switch did
// not break them), or when a node did not converge on the stage's plan in time.
import type { NodeResult, PairCheck, StageResult } from './switch-report.ts';

export interface StageDecision {
  verdict: StageResult['verdict'];
  reason: string;
  /** The pairs that got worse. */
  worse: PairCheck[];
}

const pairText = (p: PairCheck) => `${p.from} -> ${p.to}${p.error ? ` (${p.error})` : ''}`;

export function decideStage(results: NodeResult[], pairs: PairCheck[]): StageDecision {
  const stuck = results.filter((r) => !r.converged);
  const worse = pairs.filter((p) => p.before && !p.after);
  if (worse.length > 0) return { verdict: 'worse', reason: `${worse.length === 1 ? 'a pair' : `${worse.length} pairs`} that answered before no longer ${worse.length === 1 ? 'answers' : 'answer'}: ${worse.map(pairText).join('; ')}`, worse };
  if (stuck.length > 0) return { verdict: 'not-converged', reason: `${stuck.map((r) => `${r.node} (${r.detail})`).join('; ')} did not converge on the plan in time`, worse };
  const better = pairs.filter((p) => !p.before && p.after).length;
  return { verdict: 'ok', reason: `every node converged; ${pairs.filter((p) => p.before).length} pairs that answered before still answer${better > 0 ? `, ${better} more now answer` : ''}`, worse };
}

/** The rollback is verified when every node is back on the old plan and every pair that answered before answers again. */
export function rollbackVerified(results: NodeResult[], pairs: PairCheck[]): boolean {
  return decideStage(results, pairs).verdict === 'ok';
}
