import { describe, expect, it } from 'vitest';
import { planStages, StagePlanError } from './stage-plan.ts';

const lab = ['master', 'worker-1', 'worker-2', 'worker-3'];
const big = Array.from({ length: 12 }, (_, i) => `node-${i + 1}`);
const base = { pool: 'default-ipv4-ippool', targetText: 'VXLAN Always' };

describe('planStages', () => {
  it('switches a small cluster all at once, in one stage, by the pool', () => {
    const plan = planStages({ ...base, nodes: lab, overrideCapable: lab, podNodes: ['worker-1', 'worker-2', 'worker-3'] });
    expect(plan.stages).toEqual([{ name: 'all', nodes: lab, how: 'patch IPPool default-ipv4-ippool to VXLAN Always: every node at once' }]);
    expect(plan.notes).toEqual(['4 nodes (fewer than 5): all at once, in one stage']);
  });

  it('puts named canaries first and the rest after, by the override then the pool', () => {
    const plan = planStages({ ...base, nodes: lab, overrideCapable: lab, podNodes: [], canary: ['worker-3', 'worker-1', 'worker-3'] });
    expect(plan.stages.map((s) => [s.name, s.nodes])).toEqual([
      ['canary', ['worker-1', 'worker-3']],
      ['rest', ['master', 'worker-2']],
    ]);
    expect(plan.stages[0]!.how).toContain('gingham.dev/IPPoolModes');
    expect(plan.stages[1]!.how).toContain('patch IPPool default-ipv4-ippool');
  });

  it('chooses one canary per ten nodes among the nodes with pods in a larger cluster', () => {
    const plan = planStages({ ...base, nodes: big, overrideCapable: big, podNodes: ['node-7', 'node-3', 'node-11'] });
    expect(plan.stages[0]).toMatchObject({ name: 'canary', nodes: ['node-3', 'node-7'] });
    expect(plan.stages[1]!.nodes).toHaveLength(10);
  });

  it('falls back to all at once when a node cannot honour an override, and refuses a named canary then', () => {
    const capable = big.filter((n) => n !== 'node-5');
    expect(planStages({ ...base, nodes: big, overrideCapable: capable, podNodes: big }).stages.map((s) => s.name)).toEqual(['all']);
    expect(() => planStages({ ...base, nodes: big, overrideCapable: capable, podNodes: big, canary: ['node-1'] })).toThrow(/node-5 publish no gingham.dev\/Encapsulations/);
  });

  it('refuses a canary that is no node, or every node', () => {
    expect(() => planStages({ ...base, nodes: lab, overrideCapable: lab, podNodes: [], canary: ['worker-9'] })).toThrow(new StagePlanError('no node worker-9 in the cluster: its nodes are master, worker-1, worker-2, worker-3'));
    expect(() => planStages({ ...base, nodes: lab, overrideCapable: lab, podNodes: [], canary: lab })).toThrow(/every node/);
  });
});
