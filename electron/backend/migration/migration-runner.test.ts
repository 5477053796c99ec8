import { describe, expect, it } from 'vitest';
import type { MigrationPlan, MigrationStepId } from '../../../shared/api/migration-contract.ts';
import { runMigration, type MigrationSides } from './migration-runner.ts';

function plan(to: MigrationPlan['to']): MigrationPlan {
  const ids: MigrationStepId[] =
    to === 'gingham'
      ? ['check', 'probe-start', 'record', 'stop-calico', 'hand-over-routes', 'start-agent', 'cni', 'clean-up', 'verify', 'probe-stop']
      : ['check', 'probe-start', 'record', 'stop-agent', 'hand-over-routes', 'cni', 'start-calico', 'clean-up', 'verify', 'probe-stop'];
  return {
    context: 'lab',
    node: 'worker-2',
    from: to === 'gingham' ? 'calico' : 'gingham',
    to,
    calicoRunsAs: 'init-script',
    modes: [{ pool: 'default-ipv4-ippool', ipipMode: 'Never', vxlanMode: 'Always' }],
    bgp: false,
    pods: [{ name: 'pod-2', ip: '192.168.0.65' }],
    pairs: [{ from: 'pod-1', to: 'pod-2' }],
    steps: ids.map((id) => ({ id, title: id, state: 'pending' })),
    notes: [],
  };
}

/** Scripted sides: each call is recorded; `fail` names calls that throw. */
function sides(fail: Partial<Record<string, string>> = {}, iface = 'cali1234567890a') {
  const calls: string[] = [];
  let clock = 0;
  const call = (name: string, result: string) => async () => {
    calls.push(name);
    if (fail[name]) throw new Error(fail[name]);
    return result;
  };
  const s: MigrationSides = {
    startLossProbe: async () => ({ stop: async () => [{ from: 'pod-1', to: 'pod-2', sent: 500, received: 500, lost: 0, longestGapMs: 10 }] }),
    readPods: async () => [{ name: 'pod-2', ip: '192.168.0.65', iface }],
    stopCalico: call('stopCalico', 'stopped'),
    startCalico: call('startCalico', 'started'),
    handOverRoutes: async (to) => {
      calls.push(`handOver:${to}`);
      if (fail[`handOver:${to}`]) throw new Error(fail[`handOver:${to}`]);
      return { [to === 'gingham' ? '71' : '80']: 3 };
    },
    startAgent: call('startAgent', 'agent answers'),
    stopAgent: call('stopAgent', 'agent stopped'),
    useCni: async (side) => {
      calls.push(`cni:${side}`);
      if (fail[`cni:${side}`]) throw new Error(fail[`cni:${side}`]);
      return side;
    },
    cleanUp: async (left) => {
      calls.push(`cleanUp:${left}`);
      return 'clean';
    },
    check: async (side) => {
      calls.push(`check:${side}`);
      if (fail[`check:${side}`]) throw new Error(fail[`check:${side}`]);
      return 'ok';
    },
    now: () => (clock += 10),
  };
  return { s, calls };
}

describe('runMigration', () => {
  it('to the agent: calico-node stops before the hand-over, the agent starts after it, Calico\'s CNI configuration goes aside only once the agent answers', async () => {
    const { s, calls } = sides();
    const report = await runMigration(plan('gingham'), s, { id: 't' });
    expect(report.state).toBe('migrated');
    expect(calls).toEqual(['stopCalico', 'handOver:gingham', 'startAgent', 'cni:gingham', 'cleanUp:calico', 'check:gingham']);
    expect(report.pods).toEqual([{ name: 'pod-2', ip: '192.168.0.65', iface: 'cali1234567890a', kept: true }]);
    expect(report.routesHandedOver).toEqual({ '71': 3 });
    expect(report.steps.every((st) => st.state === 'done')).toBe(true);
    expect(report.loss).toHaveLength(1);
  });

  it('back to calico-node: the agent stops first, Calico\'s CNI configuration is back before calico-node starts', async () => {
    const { s, calls } = sides();
    const report = await runMigration(plan('calico'), s, { id: 't' });
    expect(report.state).toBe('migrated');
    expect(calls).toEqual(['stopAgent', 'handOver:calico', 'cni:calico', 'startCalico', 'cleanUp:gingham', 'check:calico']);
  });

  it('an agent that does not come up: every step done is undone, newest first, and the node runs calico-node again', async () => {
    const { s, calls } = sides({ startAgent: 'the new agent did not answer within 45 s' });
    const report = await runMigration(plan('gingham'), s, { id: 't' });
    expect(report.state).toBe('rolled-back');
    expect(report.message).toMatch(/did not answer.*runs calico-node again/);
    // The failed start is undone too (the installer may have left an agent half started).
    expect(calls).toEqual(['stopCalico', 'handOver:gingham', 'startAgent', 'stopAgent', 'cni:calico', 'handOver:calico', 'startCalico']);
    expect(report.steps.find((st) => st.id === 'start-agent')?.state).toBe('failed');
    expect(report.steps.find((st) => st.id === 'stop-calico')?.state).toBe('undone');
    expect(report.steps.find((st) => st.id === 'verify')?.state).toBe('skipped');
    expect(report.loss).toHaveLength(1);
  });

  it('a pod whose interface changed fails the verification and rolls back', async () => {
    const { s } = sides({}, 'cali1234567890a');
    let reads = 0;
    s.readPods = async () => [{ name: 'pod-2', ip: '192.168.0.65', iface: reads++ === 0 ? 'cali1234567890a' : 'califfffffffff0' }];
    const report = await runMigration(plan('gingham'), s, { id: 't' });
    expect(report.state).toBe('rolled-back');
    expect(report.steps.find((st) => st.id === 'verify')?.detail).toMatch(/pod-2 \(192\.168\.0\.65, was on cali1234567890a\)/);
  });

  it('SSH dropped halfway: the rollback cannot finish either, and the report says the node needs a look, not that it was rolled back', async () => {
    const { s } = sides({ 'cni:gingham': 'the SSH connection closed during switching the CNI configuration', 'cni:calico': 'the SSH connection closed', startCalico: 'the SSH connection closed' });
    const report = await runMigration(plan('gingham'), s, { id: 't' });
    expect(report.state).toBe('failed');
    expect(report.message).toMatch(/rollback did not finish.*routes were never removed/);
  });
});
