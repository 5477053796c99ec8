// The staged switch, stage by stage: probe the pairs before, start the continuous probe, then per
// stage apply it (the override on the canaries, or the pool), wait for every node to converge on
// what the stage asks of it (node-judgement.ts), probe the pairs and decide
// (shared/switch/rollback-decision.ts). A stage that made things worse is rolled back on its own
// (the pool as it was, the overrides removed), the failed pairs traced by the doctor while still
// broken, and the rollback checked the same way. The report is updated and handed to `progress`
// after each step. The cluster and the nodes are reached only through `SwitchSides`, so this
// logic is tested without either; switch-cluster.ts gives the real ones.
import type { TraceResult } from '../../../shared/doctor/trace-result.ts';
import { decideStage, rollbackVerified } from '../../../shared/switch/rollback-decision.ts';
import type { NodeResult, PairCheck, PairLoss, PodPair, StagePlan, StageResult, SwitchPlan, SwitchReport } from '../../../shared/switch/switch-report.ts';
import { judgeNode, type NodeExpectation, type NodeObservation } from './node-judgement.ts';
import { convergeTimeoutMs } from './switch-plan.ts';

/** One pair's answer: each of the two probes, and why one did not answer. */
export interface PairAnswer extends PodPair {
  ping: boolean;
  http: boolean;
  pingError?: string;
  httpError?: string;
}

export interface LossProbe {
  /** Stops the pings and counts what each pair lost; `longestGapAt` in the sides' clock (now()). */
  stop(): Promise<(Omit<PairLoss, 'longestGapAtMs'> & { longestGapAt?: number })[]>;
}

export type PoolModes = { ipipMode: SwitchPlan['from']['fields']['ipipMode']; vxlanMode: SwitchPlan['from']['fields']['vxlanMode'] };

export interface SwitchSides {
  observeNodes(nodes: string[]): Promise<NodeObservation[]>;
  probePairs(pairs: PodPair[]): Promise<PairAnswer[]>;
  startLossProbe(pairs: PodPair[]): Promise<LossProbe>;
  /** Writes the pool's modes on these nodes' override (gingham.dev/IPPoolModes); undefined removes them. */
  setOverride(pool: string, nodes: string[], modes: PoolModes | undefined): Promise<void>;
  /** Writes the pool's two mode fields, refusing when someone changed the pool since the switch began. */
  writePool(pool: string, modes: PoolModes): Promise<void>;
  /** The doctor's trace of a pair, where the doctor can run. */
  trace?(pair: PodPair): Promise<TraceResult>;
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface RunOptions {
  id: string;
  progress?: (report: SwitchReport) => void;
  convergeTimeoutMs?: number;
  pollMs?: number;
  /** Extra probes of a pair that stopped answering before it counts as broken. */
  pairRetries?: number;
  retryPauseMs?: number;
}

const modesOf = (fields: SwitchPlan['from']['fields']): PoolModes => ({ ipipMode: fields.ipipMode, vxlanMode: fields.vxlanMode });
const key = (p: PodPair) => `${p.from} -> ${p.to}`;

/** Which of a pair's probes answered before: those must still answer. */
function answered(a: PairAnswer): boolean {
  return a.ping || a.http;
}

const whyNot = (a: PairAnswer) => [...(a.ping ? [] : [`ping: ${a.pingError ?? 'no reply'}`]), ...(a.http ? [] : [`HTTP: ${a.httpError ?? 'no answer'}`])].join(', ');

function pairCheck(before: PairAnswer | undefined, after: PairAnswer): PairCheck {
  const was = before !== undefined && answered(before);
  if (!was) return { from: after.from, to: after.to, before: false, after: answered(after), ...(answered(after) ? {} : { error: whyNot(after) }) };
  // What answered before must still answer: a ping that still gets through with HTTP broken is worse too.
  const lost = { ...after, ping: after.ping || !before.ping, http: after.http || !before.http };
  return { from: after.from, to: after.to, before: true, after: lost.ping && lost.http, ...(lost.ping && lost.http ? {} : { error: whyNot(lost) }) };
}

export async function runSwitch(plan: SwitchPlan, sides: SwitchSides, options: RunOptions): Promise<SwitchReport> {
  const t0 = sides.now();
  const elapsed = () => sides.now() - t0;
  const report: SwitchReport = { id: options.id, plan, state: 'running', phase: 'probing the pod pairs before the switch', startedAt: new Date().toISOString(), ms: 0, stages: [], failures: [], loss: [], log: [] };
  const say = (line: string, phase?: string) => {
    report.log.push(`${(elapsed() / 1000).toFixed(1)} s  ${line}`);
    if (phase) report.phase = phase;
    report.ms = elapsed();
    options.progress?.(structuredClone(report));
  };
  const timeout = options.convergeTimeoutMs ?? convergeTimeoutMs;
  const pollMs = options.pollMs ?? 250;
  const retries = options.pairRetries ?? 3;
  const checked = plan.stages
    .flatMap((s) => s.nodes)
    .filter((n) => !plan.unchecked.includes(n))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const from = plan.from.mode;
  const target = plan.to.mode;

  /** Polls until every checked node is as `expect` says, or the timeout; each node's time is from `since` to the start of its last converged streak. */
  const converge = async (since: number, expect: (node: string) => NodeExpectation, stage: Pick<StageResult, 'name' | 'nodes' | 'how'>): Promise<NodeResult[]> => {
    const label = stage.name;
    const firstSeen = new Map<string, number>();
    let last: NodeResult[] = [];
    let said = '';
    let toldWaiting = sides.now();
    for (;;) {
      const seen = await sides.observeNodes(checked);
      const at = sides.now() - since;
      last = checked.map((node) => {
        const observation = seen.find((o) => o.node === node) ?? { node, unreadable: 'not read' };
        const verdict = judgeNode(observation, expect(node));
        if (!verdict.converged) firstSeen.delete(node);
        else if (!firstSeen.has(node)) firstSeen.set(node, at);
        return { node, converged: verdict.converged, ...(verdict.converged ? { ms: firstSeen.get(node)! } : {}), detail: verdict.detail };
      });
      const done = last.filter((r) => r.converged).map((r) => r.node);
      const words = `${label}: ${done.length}/${checked.length} nodes converged${done.length > 0 ? ` (${done.join(', ')})` : ''}`;
      if (words !== said) {
        said = words;
        report.current = { ...stage, startedMs: since - t0, results: last, pairs: [], verdict: 'ok', reason: 'converging' };
        say(words);
      }
      if (done.length === checked.length) return last;
      if (at >= timeout) {
        say(`${label}: not converged within ${timeout / 1000} s: ${last.filter((r) => !r.converged).map((r) => `${r.node} (${r.detail})`).join('; ')}`);
        return last;
      }
      if (sides.now() - toldWaiting >= 5000) {
        toldWaiting = sides.now();
        say(`${label}: waiting for ${last.filter((r) => !r.converged).map((r) => `${r.node} (${r.detail})`).join('; ')}`);
      }
      await sides.sleep(pollMs);
    }
  };

  /** Probes the pairs; one that stopped answering is probed again up to `retries` times. */
  const checkPairs = async (before: Map<string, PairAnswer>): Promise<PairCheck[]> => {
    if (plan.pairs.length === 0) return [];
    let answers = await sides.probePairs(plan.pairs);
    for (let attempt = 0; attempt < retries; attempt++) {
      const failing = answers.filter((a) => !pairCheck(before.get(key(a)), a).after && before.get(key(a)) && answered(before.get(key(a))!));
      if (failing.length === 0) break;
      await sides.sleep(options.retryPauseMs ?? 1000);
      const again = await sides.probePairs(failing.map(({ from, to }) => ({ from, to })));
      answers = answers.map((a) => again.find((b) => key(b) === key(a)) ?? a);
    }
    return answers.map((a) => pairCheck(before.get(key(a)), a));
  };

  const nodesUpTo = (index: number) => new Set(plan.stages.slice(0, index + 1).flatMap((s) => s.nodes));
  const canaries = plan.stages.find((s) => s.name === 'canary')?.nodes ?? [];
  let overridden: string[] = [];
  let poolWritten = false;
  let probe: LossProbe | undefined;

  const apply = async (stage: StagePlan) => {
    if (stage.name === 'canary') {
      await sides.setOverride(plan.pool, stage.nodes, modesOf(plan.to.fields));
      overridden = stage.nodes;
      say(`canary: ${stage.nodes.join(', ')} annotated gingham.dev/IPPoolModes = ${target} for ${plan.pool}`);
      return;
    }
    await sides.writePool(plan.pool, modesOf(plan.to.fields));
    poolWritten = true;
    say(`${stage.name}: IP pool ${plan.pool} patched to ${target}`);
  };

  /**
   * After the last stage has converged: the canaries' overrides go. Not with the pool's patch: an
   * agent that read its Node's change before the pool's would go back to the old mode for a
   * moment. Now the pool says what the override said, so removing it changes nothing; that is
   * checked like a stage, and a node that moved is the stage's result.
   */
  const removeOverrides = async (stage: StagePlan, results: NodeResult[], expect: (node: string) => NodeExpectation): Promise<NodeResult[]> => {
    const nodes = overridden;
    await sides.setOverride(plan.pool, nodes, undefined);
    overridden = [];
    say(`${stage.name}: the override removed from ${nodes.join(', ')} (every node applies the pool's ${target} now)`);
    const again = await converge(sides.now(), expect, stage);
    return results.map((r) => {
      const now = again.find((a) => a.node === r.node);
      return !now || now.converged ? r : { ...now, detail: `after the override was removed: ${now.detail}` };
    });
  };

  /** Undoes what was applied, pool first; returns when it began and what it did. */
  const rollBack = async (reason: string): Promise<{ at: number; did: string[] }> => {
    say(`rolling back to ${from}: ${reason}`, `rolling back to ${from}`);
    const at = sides.now();
    const did: string[] = [];
    if (poolWritten) {
      await sides.writePool(plan.pool, modesOf(plan.from.fields));
      poolWritten = false;
      did.push(`IP pool ${plan.pool} restored to ${from}`);
      say(`rollback: IP pool ${plan.pool} restored to ${from}`);
    }
    if (overridden.length > 0) {
      await sides.setOverride(plan.pool, overridden, undefined);
      did.push(`the override removed from ${overridden.join(', ')}`);
      say(`rollback: the override removed from ${overridden.join(', ')}`);
      overridden = [];
    }
    return { at, did };
  };

  const traceFailures = async (worse: PairCheck[]) => {
    const traced = await Promise.all(
      worse.map(async (p) => {
        const why = p.error ?? 'no longer answers';
        if (!sides.trace) return { from: p.from, to: p.to, why };
        try {
          const trace = await sides.trace({ from: p.from, to: p.to });
          return { from: p.from, to: p.to, why: `${why}; the doctor: ${trace.verdict.message}`, trace };
        } catch (error) {
          return { from: p.from, to: p.to, why: `${why}; the doctor could not trace it: ${(error as Error).message}` };
        }
      }),
    );
    report.failures.push(...traced);
  };

  let before = new Map<string, PairAnswer>();
  try {
    say(`probing ${plan.pairs.length} pod pairs before the switch`);
    const first = plan.pairs.length > 0 ? await sides.probePairs(plan.pairs) : [];
    // A pair that did not answer is asked once more: one lost probe must not exempt it from the check.
    const silent = first.filter((a) => !answered(a));
    const again = silent.length > 0 ? await sides.probePairs(silent.map(({ from: f, to }) => ({ from: f, to }))) : [];
    before = new Map(first.map((a) => [key(a), again.find((b) => key(b) === key(a)) ?? a]));
    const answering = [...before.values()].filter(answered);
    say(`before: ${answering.length} of ${plan.pairs.length} pairs answer${answering.length < plan.pairs.length ? ` (not: ${[...before.values()].filter((a) => !answered(a)).map(key).join(', ')})` : ''}`);
    if (plan.pairs.length > 0) {
      probe = await sides.startLossProbe(plan.pairs);
      say('the continuous ping is running (100 per second per pair)');
    }

    for (const [index, stage] of plan.stages.entries()) {
      const startedMs = elapsed();
      say(`${stage.name}: ${stage.how}`, `stage ${stage.name}: applying`);
      await apply(stage);
      const changed = sides.now();
      const switched = nodesUpTo(index);
      const final = index === plan.stages.length - 1;
      report.phase = `stage ${stage.name}: waiting for the nodes to converge`;
      const expect = (node: string): NodeExpectation => ({ pool: plan.pool, mode: switched.has(node) ? target : from, target, final });
      let results = await converge(changed, expect, stage);
      if (stage.name !== 'canary' && overridden.length > 0 && results.every((r) => r.converged)) results = await removeOverrides(stage, results, expect);
      say(`${stage.name}: probing the pairs`, `stage ${stage.name}: probing the pod pairs`);
      const pairs = await checkPairs(before);
      const decision = decideStage(results, pairs);
      const result: StageResult = { name: stage.name, nodes: stage.nodes, how: stage.how, startedMs, results, pairs, verdict: decision.verdict, reason: decision.reason };
      report.stages.push(result);
      delete report.current;
      say(`${stage.name}: ${decision.verdict === 'ok' ? 'ok' : decision.verdict}: ${decision.reason}`);
      if (decision.verdict === 'ok') continue;

      if (decision.worse.length > 0) {
        say(`tracing ${decision.worse.map(key).join(', ')} with the doctor before rolling back`, 'tracing the failed pairs');
        await traceFailures(decision.worse);
      }
      const undone = await rollBack(decision.reason);
      const verifying = { name: 'rollback', nodes: checked, how: `back to ${from}: ${undone.did.join('; ')}` };
      const results2 = await converge(undone.at, () => ({ pool: plan.pool, mode: from, target: from, final: true }), verifying);
      say('rollback: probing the pairs', 'rollback: probing the pod pairs');
      const pairs2 = await checkPairs(before);
      const check = decideStage(results2, pairs2);
      const verified = rollbackVerified(results2, pairs2);
      report.rollback = {
        reason: decision.reason,
        verification: { ...verifying, startedMs: undone.at - t0, results: results2, pairs: pairs2, verdict: check.verdict, reason: check.reason },
        verified,
      };
      report.state = 'rolled-back';
      delete report.current;
      say(`rolled back to ${from}: ${verified ? 'verified' : `NOT verified: ${check.reason}`}`, `rolled back to ${from}${verified ? '' : ' (not verified)'}`);
      break;
    }
    if (report.state === 'running') {
      report.state = 'switched';
      say(`switched to ${target}`, `switched to ${target}`);
    }
  } catch (error) {
    report.state = 'failed';
    const message = (error as Error).message;
    say(`failed: ${message}`, `failed: ${message}`);
    try {
      if (poolWritten || overridden.length > 0) {
        await rollBack(`the switch failed (${message})`);
        report.rollback = { reason: `the switch failed: ${message}`, verified: false };
        say('rolled back without a check: see the log', `failed: ${message}`);
      }
    } catch (again) {
      say(`the rollback failed too: ${(again as Error).message}: set IP pool ${plan.pool} to ${from} and remove gingham.dev/IPPoolModes from ${canaries.join(', ') || 'the nodes'} by hand`);
    }
  } finally {
    delete report.current;
    if (probe) {
      try {
        report.loss = (await probe.stop()).map(({ longestGapAt, ...l }) => {
          const was = before.get(key(l));
          const at = longestGapAt !== undefined && l.longestGapMs > 0 ? { longestGapAtMs: Math.max(0, longestGapAt - t0) } : {};
          return { ...l, ...at, ...(was && !answered(was) && !l.error ? { error: 'it did not answer before the switch either' } : {}) };
        });
        const lost = report.loss.reduce((sum, l) => sum + l.lost, 0);
        say(`the continuous ping: ${lost} packets lost in all (${report.loss.map((l) => `${l.from} -> ${l.to} ${l.lost}/${l.sent}${l.lost > 0 && l.longestGapAtMs !== undefined ? ` (longest gap ${l.longestGapMs} ms at ${(l.longestGapAtMs / 1000).toFixed(1)} s)` : ''}`).join(', ')})`);
      } catch (error) {
        say(`the continuous ping could not be read: ${(error as Error).message}`);
      }
    }
    report.ms = elapsed();
    options.progress?.(structuredClone(report));
  }
  return report;
}

