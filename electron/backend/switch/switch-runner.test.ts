// The runner's logic against a simulated cluster (the Kubernetes and SSH sides injected): the
// order of its writes, what it waits for, when it rolls back and what it reports. The real
// cluster is switch-lab.int.test.ts's.
import { describe, expect, it } from 'vitest';
import type { PoolFields } from '../../../shared/api/cluster-ops-contract.ts';
import { appliedMode, encapsulationOf, type AppliedMode } from '../../../shared/model/node-encapsulation.ts';
import type { PodPair, SwitchPlan, SwitchReport } from '../../../shared/switch/switch-report.ts';
import type { NodeObservation } from './node-judgement.ts';
import { planShape, type SwitchFacts } from './switch-plan.ts';
import { runSwitch, type PairAnswer, type PoolModes, type SwitchSides } from './switch-runner.ts';

const always: PoolFields = { cidr: '192.168.0.0/16', blockSize: 26, ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true, disabled: false };
const nodes = ['master', 'worker-1', 'worker-2', 'worker-3'];
const pods = [
  { name: 'pod-1', node: 'worker-1', ip: '192.168.1.1' },
  { name: 'pod-2', node: 'worker-2', ip: '192.168.2.1' },
  { name: 'pod-3', node: 'worker-3', ip: '192.168.3.1' },
];
const facts: SwitchFacts = { context: 'lab', pool: { name: 'default-ipv4-ippool', fields: always }, nodes: nodes.map((name) => ({ name, publishes: true, agent: true })), pods };

function planFor(mode: AppliedMode, canary?: string[]): SwitchPlan {
  return { ...planShape(facts, { mode, ...(canary ? { canary } : {}) }), dryRun: { created: false, changes: [] }, preview: [] };
}

/**
 * A cluster where each node takes `lagMs` to apply what was written (the pool, or its override),
 * and a pair answers unless the mode it runs in cannot carry it: Never breaks every pair with
 * pod-3 (across the gateway, the fabric's checks on), as on the lab.
 */
function simulated(options: { lagMs?: number; stuck?: string; conflictOnPool?: number } = {}) {
  let clock = 0;
  let pool: PoolModes = { ipipMode: 'Always', vxlanMode: 'Never' };
  const overrides = new Map<string, PoolModes>();
  const changedAt = new Map<string, number>(nodes.map((n) => [n, -1e9]));
  const previous = new Map<string, AppliedMode>(nodes.map((n) => [n, 'IPIP Always']));
  const writes: string[] = [];
  let poolWrites = 0;
  const wanted = (node: string): AppliedMode => {
    const m = overrides.get(node) ?? pool;
    return appliedMode(m.ipipMode, m.vxlanMode);
  };
  const applied = (node: string): AppliedMode => (node === options.stuck || clock - changedAt.get(node)! < (options.lagMs ?? 400) ? previous.get(node)! : wanted(node));
  const touch = (list: string[], change: () => void) => {
    for (const n of list) previous.set(n, applied(n));
    change();
    for (const n of list) changedAt.set(n, clock);
  };
  const anyMode = (mode: AppliedMode) => nodes.some((n) => applied(n) === mode);
  const sides: SwitchSides = {
    async observeNodes(names) {
      clock += 50;
      const kinds = new Set(nodes.flatMap((n) => encapsulationOf(applied(n)) ?? []));
      return names.map((node): NodeObservation => {
        const mode = applied(node);
        const own = encapsulationOf(mode);
        // Make before break: every node accepts what any node sends until all have moved.
        const accepts = [...kinds].sort();
        return { node, mode, routes: { converged: true, detail: '9 routes as planned' }, published: { accepts, sends: own ? [own] : [], modes: { 'default-ipv4-ippool': mode } } };
      });
    },
    async probePairs(pairs: PodPair[]): Promise<PairAnswer[]> {
      clock += 2000;
      const broken = anyMode('Never');
      return pairs.map((p) => (broken && (p.from === 'pod-3' || p.to === 'pod-3') ? { ...p, ping: false, http: false, pingError: 'no reply', httpError: 'timed out after 2 s' } : { ...p, ping: true, http: true }));
    },
    async startLossProbe(pairs) {
      writes.push('probe started');
      return {
        stop: async () => {
          writes.push('probe stopped');
          return pairs.map((p) => ({ ...p, sent: 1000, received: 1000, lost: 0, longestGapMs: 12 }));
        },
      };
    },
    async setOverride(_pool, list, modes) {
      writes.push(`${modes ? 'annotate' : 'unannotate'} ${list.join(',')}${modes ? ` ${appliedMode(modes.ipipMode, modes.vxlanMode)}` : ''}`);
      touch(list, () => {
        for (const n of list) {
          if (modes) overrides.set(n, modes);
          else overrides.delete(n);
        }
      });
    },
    async writePool(_pool, modes) {
      poolWrites++;
      if (options.conflictOnPool === poolWrites) throw new Error('Someone changed IP pool default-ipv4-ippool since you opened it');
      writes.push(`pool ${appliedMode(modes.ipipMode, modes.vxlanMode)}`);
      touch(nodes.filter((n) => !overrides.has(n)), () => (pool = modes));
    },
    async trace(pair) {
      return {
        source: { text: pair.from, ip: '192.168.1.1' },
        destination: { text: pair.to, ip: '192.168.3.1' },
        verdict: { ok: false, code: 'gateway-drops', message: 'the gateway drops pod addresses (source/destination checks)' },
        hops: [],
        gaps: [],
        collectedAt: '2026-12-07T00:00:00Z',
      } as never;
    },
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
    },
  };
  return { sides, writes, modes: () => nodes.map((n) => `${n}:${wanted(n)}`), overrides };
}

const run = (plan: SwitchPlan, sides: SwitchSides, progress?: (r: SwitchReport) => void) => runSwitch(plan, sides, { id: 't', convergeTimeoutMs: 5000, pollMs: 100, retryPauseMs: 100, ...(progress ? { progress } : {}) });

describe('the staged switch runner', () => {
  it('switches a canary by its override, then the rest by the pool, removing the override, and reports each node and pair', async () => {
    const cluster = simulated();
    const seen: string[] = [];
    const report = await run(planFor('VXLAN Always', ['worker-3']), cluster.sides, (r) => seen.push(r.phase));
    expect(report.state).toBe('switched');
    expect(cluster.writes).toEqual(['probe started', 'annotate worker-3 VXLAN Always', 'pool VXLAN Always', 'unannotate worker-3', 'probe stopped']);
    expect(cluster.modes().every((m) => m.endsWith('VXLAN Always'))).toBe(true);
    expect(report.stages.map((s) => [s.name, s.verdict])).toEqual([
      ['canary', 'ok'],
      ['rest', 'ok'],
    ]);
    const canary = report.stages[0]!;
    // Every node is checked after the canary stage: worker-3 on VXLAN, the others still on IP-in-IP.
    expect(canary.results.map((r) => [r.node, r.converged])).toEqual(nodes.map((n) => [n, true]));
    expect(canary.results.find((r) => r.node === 'worker-3')!.detail).toMatch(/^VXLAN Always/);
    expect(canary.results.find((r) => r.node === 'worker-1')!.detail).toMatch(/^IPIP Always/);
    // The lag is 400 ms; the first check that finds it applied says so (within a poll).
    expect(canary.results.find((r) => r.node === 'worker-3')!.ms).toBeGreaterThanOrEqual(400);
    expect(canary.results.find((r) => r.node === 'worker-3')!.ms).toBeLessThan(700);
    expect(canary.pairs).toHaveLength(6);
    expect(canary.pairs.every((p) => p.before && p.after)).toBe(true);
    expect(report.loss.map((l) => `${l.from}->${l.to}:${l.lost}`)).toEqual(['pod-1->pod-2:0', 'pod-2->pod-3:0', 'pod-3->pod-1:0', 'pod-1->pod-3:0', 'pod-2->pod-1:0', 'pod-3->pod-2:0']);
    expect(report.rollback).toBeUndefined();
    expect(seen.at(-1)).toBe('switched to VXLAN Always');
    expect(report.log.some((l) => l.includes('canary: 4/4 nodes converged'))).toBe(true);
    // The override goes only once every node applies the pool (an agent reading its Node before the pool would flap).
    const converged = report.log.findIndex((l) => l.includes('rest: 4/4 nodes converged'));
    const removed = report.log.findIndex((l) => l.includes('rest: the override removed from worker-3'));
    expect(converged).toBeGreaterThan(0);
    expect(removed).toBeGreaterThan(converged);
  });

  it('rolls a stage that broke pairs back on its own: traces them first, restores the pool, and verifies', async () => {
    const cluster = simulated();
    const report = await run(planFor('Never'), cluster.sides);
    expect(report.state).toBe('rolled-back');
    expect(cluster.writes).toEqual(['probe started', 'pool Never', 'pool IPIP Always', 'probe stopped']);
    expect(cluster.modes().every((m) => m.endsWith('IPIP Always'))).toBe(true);
    const stage = report.stages[0]!;
    expect(stage).toMatchObject({ name: 'all', verdict: 'worse' });
    expect(stage.reason).toBe(
      '4 pairs that answered before no longer answer: pod-2 -> pod-3 (ping: no reply, HTTP: timed out after 2 s); pod-3 -> pod-1 (ping: no reply, HTTP: timed out after 2 s); pod-1 -> pod-3 (ping: no reply, HTTP: timed out after 2 s); pod-3 -> pod-2 (ping: no reply, HTTP: timed out after 2 s)',
    );
    expect(report.failures.map((f) => `${f.from}->${f.to}`)).toEqual(['pod-2->pod-3', 'pod-3->pod-1', 'pod-1->pod-3', 'pod-3->pod-2']);
    expect(report.failures[0]!.why).toContain('the doctor: the gateway drops pod addresses');
    expect(report.failures[0]!.trace?.verdict.code).toBe('gateway-drops');
    expect(report.rollback).toMatchObject({ verified: true, verification: { name: 'rollback', verdict: 'ok', how: 'back to IPIP Always: IP pool default-ipv4-ippool restored to IPIP Always' } });
    expect(report.rollback!.verification!.results.every((r) => r.converged && r.detail.startsWith('IPIP Always'))).toBe(true);
  });

  it('rolls a canary back by removing its override, never touching the pool', async () => {
    const cluster = simulated();
    const report = await run(planFor('Never', ['worker-3']), cluster.sides);
    expect(report.state).toBe('rolled-back');
    expect(cluster.writes).toEqual(['probe started', 'annotate worker-3 Never', 'unannotate worker-3', 'probe stopped']);
    expect(cluster.overrides.size).toBe(0);
    expect(report.stages.map((s) => s.name)).toEqual(['canary']);
    expect(report.rollback?.verification?.how).toBe('back to IPIP Always: the override removed from worker-3');
  });

  it('rolls back when a node does not converge in time, naming it', async () => {
    const cluster = simulated({ stuck: 'worker-2' });
    const report = await run(planFor('VXLAN Always'), cluster.sides);
    expect(report.stages[0]).toMatchObject({ verdict: 'not-converged' });
    // The others keep accepting IP-in-IP while worker-2 still sends it: each is named with why.
    expect(report.stages[0]!.reason).toContain('worker-2 (the agent applies IPIP Always, not VXLAN Always yet)');
    expect(report.stages[0]!.reason).toContain('worker-1 (it still accepts IPIP, VXLAN and sends VXLAN (the steady state of VXLAN Always not reached))');
    expect(report.failures).toEqual([]);
    expect(report.state).toBe('rolled-back');
    expect(cluster.writes).toEqual(['probe started', 'pool VXLAN Always', 'pool IPIP Always', 'probe stopped']);
  });

  it('ends as failed, with what it undid, when a write is refused halfway', async () => {
    const cluster = simulated({ conflictOnPool: 1 });
    const report = await run(planFor('VXLAN Always', ['worker-3']), cluster.sides);
    expect(report.state).toBe('failed');
    expect(report.phase).toMatch(/^failed: Someone changed IP pool/);
    expect(cluster.writes).toEqual(['probe started', 'annotate worker-3 VXLAN Always', 'unannotate worker-3', 'probe stopped']);
    expect(report.rollback).toMatchObject({ verified: false });
    expect(report.loss).toHaveLength(6);
  });

  it('does not count a pair that never answered, and says which', async () => {
    const cluster = simulated();
    const probe = cluster.sides.probePairs.bind(cluster.sides);
    cluster.sides.probePairs = async (pairs) => (await probe(pairs)).map((a) => (a.from === 'pod-1' && a.to === 'pod-2' ? { ...a, ping: false, http: false, httpError: 'refused' } : a));
    const report = await run(planFor('VXLAN Always'), cluster.sides);
    expect(report.state).toBe('switched');
    expect(report.log.find((l) => l.includes('before:'))).toMatch(/5 of 6 pairs answer \(not: pod-1 -> pod-2\)/);
    expect(report.stages[0]!.pairs.find((p) => p.from === 'pod-1' && p.to === 'pod-2')).toMatchObject({ before: false, after: false });
  });

  it('asks a pair that stopped answering again before calling it broken', async () => {
    const cluster = simulated();
    const probe = cluster.sides.probePairs.bind(cluster.sides);
    let calls = 0;
    cluster.sides.probePairs = async (pairs) => {
      calls++;
      // The first probe after the stage loses one ping; the retry answers.
      return (await probe(pairs)).map((a) => (calls === 2 && a.from === 'pod-1' && a.to === 'pod-3' ? { ...a, ping: false } : a));
    };
    const report = await run(planFor('VXLAN Always'), cluster.sides);
    expect(report.state).toBe('switched');
    expect(calls).toBe(3);
  });
});
