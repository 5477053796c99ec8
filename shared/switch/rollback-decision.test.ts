import { describe, expect, it } from 'vitest';
import { decideStage, rollbackVerified } from './rollback-decision.ts';

const converged = [
  { node: 'worker-1', converged: true, ms: 420, detail: '9 routes as planned' },
  { node: 'worker-2', converged: true, ms: 510, detail: '9 routes as planned' },
];

describe('decideStage', () => {
  it('goes on when every pair that answered still answers, whatever never answered', () => {
    const d = decideStage(converged, [
      { from: 'pod-1', to: 'pod-2', before: true, after: true },
      { from: 'pod-1', to: 'pod-3', before: false, after: false },
    ]);
    expect(d).toEqual({ verdict: 'ok', reason: 'every node converged; 1 pairs that answered before still answer', worse: [] });
  });

  it('rolls back when a pair that answered stops answering, naming it', () => {
    const d = decideStage(converged, [
      { from: 'pod-1', to: 'pod-2', before: true, after: false, error: '100% packet loss' },
      { from: 'pod-2', to: 'pod-1', before: true, after: true },
    ]);
    expect(d.verdict).toBe('worse');
    expect(d.reason).toBe('a pair that answered before no longer answers: pod-1 -> pod-2 (100% packet loss)');
    expect(d.worse.map((p) => p.from)).toEqual(['pod-1']);
  });

  it('a pair that starts answering is no reason to stop; a node that never converged is', () => {
    expect(decideStage(converged, [{ from: 'pod-1', to: 'pod-3', before: false, after: true }]).reason).toContain('1 more now answer');
    const stuck = decideStage([{ node: 'worker-3', converged: false, detail: 'the agent has not seen the change yet' }], []);
    expect(stuck).toMatchObject({ verdict: 'not-converged', reason: 'worker-3 (the agent has not seen the change yet) did not converge on the plan in time' });
    expect(rollbackVerified([{ node: 'worker-3', converged: false, detail: 'x' }], [])).toBe(false);
    expect(rollbackVerified(converged, [{ from: 'pod-1', to: 'pod-2', before: true, after: true }])).toBe(true);
  });
});
