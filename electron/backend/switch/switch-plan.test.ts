import { describe, expect, it } from 'vitest';
import { StagePlanError } from '../../../shared/switch/stage-plan.ts';
import { choosePairs, maxPairs, planShape, type SwitchFacts } from './switch-plan.ts';

const facts: SwitchFacts = {
  context: 'lab',
  pool: { name: 'default-ipv4-ippool', fields: { cidr: '192.168.0.0/16', blockSize: 26, ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true, disabled: false } },
  nodes: ['master', 'worker-1', 'worker-2', 'worker-3'].map((name) => ({ name, publishes: true, agent: true })),
  pods: [
    { name: 'pod-1', node: 'worker-1', ip: '192.168.1.1' },
    { name: 'pod-2', node: 'worker-2', ip: '192.168.2.1' },
    { name: 'pod-3', node: 'worker-3', ip: '192.168.3.1' },
  ],
};

describe('the switch plan', () => {
  it('goes from the pool as it is to the mode asked, in the stages planStages gives, probing every ordered pod pair', () => {
    const plan = planShape(facts, { mode: 'VXLAN Always', canary: ['worker-3'] });
    expect(plan.from.mode).toBe('IPIP Always');
    expect(plan.to.fields).toMatchObject({ ipipMode: 'Never', vxlanMode: 'Always', natOutgoing: true });
    expect(plan.stages.map((s) => `${s.name}:${s.nodes.join(',')}`)).toEqual(['canary:worker-3', 'rest:master,worker-1,worker-2']);
    expect(plan.pairs).toHaveLength(6);
    expect(plan.checks[0]).toContain('each node not yet switched: it stays on IPIP Always, its routes match its plan, and it accepts VXLAN');
    expect(plan.checks[2]).toContain('6 pairs');
    expect(plan.unchecked).toEqual([]);
  });

  it('refuses a switch to the mode the pool has, and a leftover override', () => {
    expect(() => planShape(facts, { mode: 'IPIP Always' })).toThrow(new StagePlanError('IP pool default-ipv4-ippool is in IPIP Always already: nothing to switch'));
    const left = { ...facts, nodes: facts.nodes.map((n) => (n.name === 'worker-2' ? { ...n, override: '{"ipipMode":"Never","vxlanMode":"Always"}' } : n)) };
    expect(() => planShape(left, { mode: 'Never' })).toThrow(/^worker-2 \(\{"ipipMode":"Never","vxlanMode":"Always"\}\) already carry a gingham.dev\/IPPoolModes override/);
  });

  it('names the nodes no agent answers on, which only the pairs judge', () => {
    const mixed = { ...facts, nodes: facts.nodes.map((n) => (n.name === 'worker-3' ? { ...n, agent: false, publishes: false } : n)) };
    const plan = planShape(mixed, { mode: 'VXLAN Always' });
    expect(plan.unchecked).toEqual(['worker-3']);
    expect(plan.notes).toContain('no Gingham agent answers on worker-3: not checked node by node, only by the pod pairs');
  });

  it('probes one pod per node, and at most a bounded number of pairs, each node a source and a destination', () => {
    const pods = Array.from({ length: 12 }, (_, i) => [
      { name: `a-${i}`, node: `n-${i}`, ip: `10.0.${i}.1` },
      { name: `b-${i}`, node: `n-${i}`, ip: `10.0.${i}.2` },
    ]).flat();
    const { pairs, note } = choosePairs(pods);
    expect(pairs).toHaveLength(maxPairs);
    expect(new Set(pairs.map((p) => p.from)).size).toBe(12);
    expect(new Set(pairs.map((p) => p.to)).size).toBe(12);
    expect(pairs.every((p) => p.from.startsWith('a-') && p.to.startsWith('a-'))).toBe(true);
    expect(note).toBe('one pod per node probed (a-0, a-1, a-2, a-3, a-4, a-5, a-6, a-7, a-8, a-9, a-10, a-11), 12 others not; 30 of the 132 pairs between them probed, every node as a source and a destination');
  });
});
