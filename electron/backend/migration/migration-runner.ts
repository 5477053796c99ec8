// The migration of one node, step by step, with the sides it acts on given (migration-node.ts
// has the real ones; the unit test scripted ones). Each step that changes the node has its undo;
// a step that fails undoes the steps done, newest first, so the node ends running what it ran
// before. Order, towards the agent: calico-node stopped (routes stay), routes handed over in
// place, the agent installed and started (its CNI configuration goes in once it answers),
// Calico's CNI configuration put aside, Felix's leftovers removed, then checked: the agent
// answers and every pod kept its address and interface. Back: the agent stopped with SIGTERM
// (routes stay; its speaker closes without Cease), routes handed over, Calico's CNI configuration
// back and Gingham's out, calico-node started and ready, the agent's leftovers removed, checked.
import type { MigrationPlan, MigrationReport, MigrationStep, MigrationStepId, NodePod } from '../../../shared/api/migration-contract.ts';
import type { LossProbe } from '../switch/switch-runner.ts';

export interface MigrationSides {
  startLossProbe(pairs: MigrationPlan['pairs']): Promise<LossProbe>;
  /** The node's pods as the kernel routes to them: address and host-side interface. */
  readPods(): Promise<NodePod[]>;
  stopCalico(): Promise<string>;
  /** Starts calico-node and waits until it is ready. */
  startCalico(): Promise<string>;
  handOverRoutes(to: MigrationPlan['to']): Promise<Record<string, number>>;
  /** Installs (or starts again) the agent and waits until it answers; progress lines go to `say`. */
  startAgent(say: (line: string) => void): Promise<string>;
  /** SIGTERM: the agent stops and leaves the routes. */
  stopAgent(): Promise<string>;
  /** Which CNI configuration the node's runtime reads: Calico's or Gingham's. */
  useCni(side: MigrationPlan['to']): Promise<string>;
  /** Removes what the side that left still has on the node (nftables tables, annotations, files). */
  cleanUp(left: MigrationPlan['from']): Promise<string>;
  /** Whether the side now running is working (the agent answers; Felix is ready). */
  check(side: MigrationPlan['to']): Promise<string>;
  now(): number;
}

export interface RunOptions {
  id: string;
  progress?: (report: MigrationReport) => void;
}

interface StepDef {
  id: MigrationStepId;
  run(): Promise<string>;
  undo?(): Promise<string>;
}

export async function runMigration(plan: MigrationPlan, sides: MigrationSides, options: RunOptions): Promise<MigrationReport> {
  const t0 = sides.now();
  const report: MigrationReport = {
    id: options.id,
    plan,
    state: 'running',
    message: 'starting',
    startedAt: new Date(t0).toISOString(),
    ms: 0,
    steps: plan.steps.map((s) => ({ ...s })),
    routesHandedOver: {},
    pods: [],
    loss: [],
    log: [],
  };
  const emit = () => {
    report.ms = sides.now() - t0;
    options.progress?.(structuredClone(report));
  };
  const say = (line: string) => {
    report.log.push(`${((sides.now() - t0) / 1000).toFixed(1)} s  ${line}`);
    emit();
  };
  const step = (id: MigrationStepId): MigrationStep => {
    const s = report.steps.find((x) => x.id === id);
    if (!s) throw new Error(`step ${id} is not in the plan`);
    return s;
  };
  const before = new Map(plan.pods.map((p) => [p.name, p]));
  const toGingham = plan.to === 'gingham';
  const handOver = async (to: MigrationPlan['to']) => {
    const moved = await sides.handOverRoutes(to);
    for (const [proto, n] of Object.entries(moved)) report.routesHandedOver[proto] = (report.routesHandedOver[proto] ?? 0) + n;
    return `${Object.entries(moved).map(([proto, n]) => `${n} to protocol ${proto}`).join(', ') || 'no routes'} (in place)`;
  };
  const verify = async () => {
    const detail = await sides.check(plan.to);
    const now = await sides.readPods();
    report.pods = plan.pods.map((p) => {
      const after = now.find((x) => x.ip === p.ip);
      return { name: p.name, ip: p.ip, ...(after?.iface ? { iface: after.iface } : {}), kept: after !== undefined && after.iface === p.iface };
    });
    const lost = report.pods.filter((p) => !p.kept);
    if (lost.length > 0) throw new Error(`${lost.map((p) => `${p.name} (${p.ip}, was on ${before.get(p.name)?.iface ?? '?'})`).join(', ')} no longer routed to the same interface`);
    return `${detail}; ${plan.pods.length} pod(s) kept their address and interface`;
  };

  const steps: StepDef[] = toGingham
    ? [
        { id: 'stop-calico', run: () => sides.stopCalico(), undo: () => sides.startCalico() },
        { id: 'hand-over-routes', run: () => handOver('gingham'), undo: () => handOver('calico') },
        { id: 'start-agent', run: () => sides.startAgent(say), undo: async () => `${await sides.stopAgent()}; ${await sides.useCni('calico')}` },
        { id: 'cni', run: () => sides.useCni('gingham'), undo: () => sides.useCni('calico') },
        { id: 'clean-up', run: () => sides.cleanUp('calico') },
        { id: 'verify', run: verify },
      ]
    : [
        { id: 'stop-agent', run: () => sides.stopAgent(), undo: () => sides.startAgent(say) },
        { id: 'hand-over-routes', run: () => handOver('calico'), undo: () => handOver('gingham') },
        { id: 'cni', run: () => sides.useCni('calico'), undo: () => sides.useCni('gingham') },
        { id: 'start-calico', run: () => sides.startCalico(), undo: () => sides.stopCalico() },
        { id: 'clean-up', run: () => sides.cleanUp('gingham') },
        { id: 'verify', run: verify },
      ];

  let probe: LossProbe | undefined;
  const done: StepDef[] = [];
  let failure: string | undefined;
  step('check').state = 'done';
  try {
    const s = step('probe-start');
    s.state = 'running';
    s.startedMs = sides.now() - t0;
    probe = await sides.startLossProbe(plan.pairs);
    s.state = 'done';
    s.ms = sides.now() - t0 - s.startedMs;
    s.detail = `a ping every 10 ms on ${plan.pairs.length} pod pair(s)`;
    say(`continuous ping started on ${plan.pairs.length} pair(s)`);
    const r = step('record');
    r.state = 'done';
    const recorded = await sides.readPods();
    const missing = plan.pods.filter((p) => !recorded.some((x) => x.ip === p.ip));
    r.detail = `${recorded.length} pod route(s) on the node${missing.length > 0 ? `; not routed here now: ${missing.map((p) => p.name).join(', ')}` : ''}`;
    for (const p of plan.pods) p.iface = recorded.find((x) => x.ip === p.ip)?.iface ?? p.iface;
    emit();
    for (const def of steps) {
      const st = step(def.id);
      st.state = 'running';
      st.startedMs = sides.now() - t0;
      report.message = st.title;
      say(`${st.title}…`);
      try {
        st.detail = await def.run();
        st.state = 'done';
        st.ms = sides.now() - t0 - st.startedMs;
        done.push(def);
        say(`${st.title}: ${st.detail}`);
      } catch (error) {
        st.state = 'failed';
        st.ms = sides.now() - t0 - st.startedMs;
        st.detail = (error as Error).message;
        failure = `${st.title} failed: ${st.detail}`;
        say(failure);
        // A failed step may have done half its work: its undo runs too.
        if (def.undo) done.push(def);
        break;
      }
    }
  } catch (error) {
    failure = `the continuous ping could not start: ${(error as Error).message}`;
    step('probe-start').state = 'failed';
    step('probe-start').detail = failure;
    say(failure);
  }

  let undoFailed: string[] = [];
  if (failure && done.length > 0) {
    say('rolling back, newest step first');
    undoFailed = [];
    for (const def of [...done].reverse()) {
      if (!def.undo) continue;
      const st = step(def.id);
      try {
        const detail = await def.undo();
        if (st.state === 'done') st.state = 'undone';
        say(`undone: ${st.title}: ${detail}`);
      } catch (error) {
        undoFailed.push(`${st.title}: ${(error as Error).message}`);
        say(`could not undo ${st.title}: ${(error as Error).message}`);
      }
    }
  }
  for (const s of report.steps) if (s.state === 'pending') s.state = 'skipped';

  if (probe) {
    const s = step('probe-stop');
    s.state = 'running';
    s.startedMs = sides.now() - t0;
    report.loss = (await probe.stop()).map(({ longestGapAt, ...l }) => ({
      ...l,
      ...(longestGapAt !== undefined && l.longestGapMs > 0 ? { longestGapAtMs: Math.max(0, longestGapAt - t0) } : {}),
    }));
    s.state = 'done';
    s.ms = sides.now() - t0 - s.startedMs;
    const lost = report.loss.reduce((sum, l) => sum + l.lost, 0);
    s.detail = `${lost} packet(s) lost in all; longest gap ${Math.max(0, ...report.loss.map((l) => l.longestGapMs))} ms`;
    say(`continuous ping: ${report.loss.map((l) => `${l.from} -> ${l.to} ${l.lost}/${l.sent}`).join(', ')}`);
  }

  const kind = (side: MigrationPlan['to']) => (side === 'gingham' ? 'the Gingham agent' : 'calico-node');
  if (!failure) {
    report.state = 'migrated';
    report.message = `${plan.node} runs ${kind(plan.to)} now; ${report.pods.length} pod(s) kept their address and interface.`;
  } else if (undoFailed.length === 0) {
    report.state = 'rolled-back';
    report.message = `${failure}. Rolled back: ${plan.node} runs ${kind(plan.from)} again, as before.`;
  } else {
    report.state = 'failed';
    report.message = `${failure}. The rollback did not finish (${undoFailed.join('; ')}): the kernel's routes were never removed, so pods keep working, but check ${plan.node} (its calico-node or agent, and /etc/cni/net.d) before trying again.`;
  }
  say(report.message);
  return report;
}
