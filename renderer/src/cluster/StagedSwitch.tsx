// The staged mode switch of one IP pool (docs/mode-switch.md): pick the mode and the canary nodes,
// see the plan first (its stages, what is checked after each, the pod pairs, the server's dry run
// and wave 1's preview), Run, watch each stage and node converge and each pair's answer live
// (`switch.progress`), then the report: per node the time to converge, per pair the packets lost
// through the switch, the rollback and the failed pair's trace where there was one. Export JSON
// writes the report as `npm run -s doctor -- switch --json` prints it.
import { useEffect, useState, type FormEvent } from 'react';
import type { PoolRow } from '../../../shared/api/cluster-ops-contract.ts';
import { appliedModes, type AppliedMode } from '../../../shared/model/node-encapsulation.ts';
import { modeOfFields } from '../../../shared/switch/modes.ts';
import type { StageResult, SwitchPlan, SwitchReport } from '../../../shared/switch/switch-report.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import { ColumnHeaders } from '../components/ColumnHeaders.tsx';
import { downloadFile } from '../components/download-file.ts';
import { Preview, ServerDryRun } from './PoolChangeViews.tsx';
import './cluster.css';

const seconds = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(2)} s`);

const verdictText: Record<StageResult['verdict'], string> = { ok: 'ok', worse: 'a pair broke', 'not-converged': 'not converged in time' };
const stateText: Record<SwitchReport['state'], string> = { running: 'Running', switched: 'Switched', 'rolled-back': 'Rolled back', failed: 'Failed' };

function PlanView({ plan }: { plan: SwitchPlan }) {
  return (
    <div className="switch-plan" aria-label="Switch plan">
      <table>
        <caption>
          Stages: {plan.from.mode} → {plan.to.mode}
        </caption>
        <ColumnHeaders columns={['Stage', 'Nodes', 'What it changes']} />
        <tbody>
          {plan.stages.map((s, i) => (
            <tr key={s.name} data-stage={s.name}>
              <th scope="row">
                {i + 1}. {s.name}
              </th>
              <td>{s.nodes.join(', ')}</td>
              <td>{s.how}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Checked after each stage</h3>
      <ul className="checks">
        {plan.checks.map((c) => (
          <li key={c}>{c}</li>
        ))}
      </ul>
      <p>
        <strong>Pod pairs probed:</strong> {plan.pairs.length === 0 ? 'none' : plan.pairs.map((p) => `${p.from} → ${p.to}`).join(', ')}
      </p>
      {plan.notes.map((n) => (
        <p key={n} className="hint">
          {n}
        </p>
      ))}
      <details>
        <summary>The pool change (server-side dry run) and wave 1's plan per node</summary>
        <ServerDryRun result={plan.dryRun} />
        {plan.preview.length > 0 && <Preview nodes={plan.preview} />}
      </details>
    </div>
  );
}

/** The phase without its `stage NAME: ` prefix, for the stage's own caption. */
const phaseOf = (phase: string, stage: string) => phase.replace(new RegExp(`^(stage ${stage}|${stage}): `), '');

function StageView({ stage, live }: { stage: StageResult; /** The phase, while this stage is being checked. */ live?: string }) {
  return (
    <section className="switch-stage" aria-label={`Stage ${stage.name}`} data-stage={stage.name} data-verdict={live !== undefined ? 'running' : stage.verdict}>
      <table>
        <caption>
          Stage {stage.name} ({stage.nodes.join(', ')}): {live !== undefined ? phaseOf(live, stage.name) : verdictText[stage.verdict]}
        </caption>
        <ColumnHeaders columns={['Node', 'State', 'Converged in']} />
        <tbody>
          {stage.results.map((r) => (
            <tr key={r.node} data-node={r.node} data-converged={r.converged}>
              <th scope="row">{r.node}</th>
              <td className={r.converged ? 'ok' : 'pending'}>
                {r.converged ? 'converged' : live !== undefined ? 'converging' : 'not converged'}: {r.detail}
              </td>
              <td>{seconds(r.ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {live === undefined && <p className="stage-reason">{stage.reason}</p>}
      {stage.pairs.length > 0 && (
        <table className="switch-pairs">
          <caption>Stage {stage.name}: pod pairs</caption>
          <ColumnHeaders columns={['Pair', 'Before', 'After']} />
          <tbody>
            {stage.pairs.map((p) => (
              <tr key={`${p.from}-${p.to}`} data-pair={`${p.from}->${p.to}`} data-after={p.after}>
                <th scope="row">
                  {p.from} → {p.to}
                </th>
                <td>{p.before ? 'answered' : 'did not answer'}</td>
                <td className={p.after ? 'reach-ok' : p.before ? 'reach-fail' : undefined}>
                  {p.after ? 'answers' : 'does not answer'}
                  {p.error ? `: ${p.error}` : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Which stage (or the rollback) a moment of the switch fell in. */
function stageAt(report: SwitchReport, ms: number): string {
  const marks = [...report.stages, ...(report.rollback?.verification ? [report.rollback.verification] : [])].filter((s) => s.startedMs <= ms);
  return marks.at(-1)?.name ?? 'before the first stage';
}

function LossTable({ report }: { report: SwitchReport }) {
  const total = report.loss.reduce((sum, l) => sum + l.lost, 0);
  return (
    <table className="switch-loss">
      <caption>
        Packets lost through the switch (a ping at 100 per second per pair): {total} in all
      </caption>
      <ColumnHeaders columns={['Pair', 'Lost', 'Sent', 'Longest gap', 'When']} />
      <tbody>
        {report.loss.map((l) => (
          <tr key={`${l.from}-${l.to}`} data-pair={`${l.from}->${l.to}`} data-lost={l.lost}>
            <th scope="row">
              {l.from} → {l.to}
            </th>
            <td className={l.lost === 0 ? 'ok' : 'lost'}>{l.lost}</td>
            <td>{l.sent}</td>
            <td>
              {l.longestGapMs} ms{l.error ? ` (${l.error})` : ''}
            </td>
            <td>{l.longestGapAtMs === undefined ? '—' : `at ${seconds(l.longestGapAtMs)} (${stageAt(report, l.longestGapAtMs)})`}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function exportReport(report: SwitchReport): void {
  const bytes = new TextEncoder().encode(`${JSON.stringify(report, null, 2)}\n`);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  const modes = `${report.plan.from.mode}-to-${report.plan.to.mode}`.replace(/\s+/g, '-').toLowerCase();
  downloadFile(`switch-${report.plan.pool}-${modes}-${report.startedAt.replace(/[:.]/g, '-')}.json`, btoa(binary), 'application/json');
}

function ReportView({ report }: { report: SwitchReport }) {
  const ended = report.state !== 'running';
  return (
    <div className="switch-report" aria-label="Switch report" data-state={report.state}>
      {ended && (
        <details className="switch-ran-plan">
          <summary>The plan it ran: {report.plan.from.mode} → {report.plan.to.mode}, {report.plan.stages.map((s) => `${s.name} (${s.nodes.join(', ')})`).join(', then ')}</summary>
          <PlanView plan={report.plan} />
        </details>
      )}
      <p role="status" className={`switch-phase state-${report.state}`}>
        {stateText[report.state]}
        {ended ? ` in ${seconds(report.ms)}` : ` (${seconds(report.ms)})`}: {report.phase}
      </p>
      {report.stages.map((s) => (
        <StageView key={s.name} stage={s} />
      ))}
      {report.current && <StageView stage={report.current} live={report.phase} />}
      {report.rollback && (
        <div className="switch-rollback">
          <h3>Rollback: {report.rollback.verified ? 'verified' : 'not verified'}</h3>
          <p>{report.stages.at(-1)?.reason === report.rollback.reason ? `Rolled back because of stage ${report.stages.at(-1)!.name} (above), then checked the same way:` : report.rollback.reason}</p>
          {report.rollback.verification && <StageView stage={report.rollback.verification} />}
        </div>
      )}
      {report.failures.length > 0 && (
        <div className="switch-failures">
          <h3>Pairs that failed</h3>
          {report.failures.map((f) => (
            <article key={`${f.from}-${f.to}`} data-pair={`${f.from}->${f.to}`}>
              <h4>
                {f.from} → {f.to}
              </h4>
              <p>{f.why}</p>
              {f.trace && (
                <details>
                  <summary>The doctor's trace ({f.trace.verdict.code})</summary>
                  <ol className="trace-hops">
                    {f.trace.hops.map((h, i) => (
                      <li key={i} data-status={h.verdict.status}>
                        <strong>{h.title}</strong> [{h.verdict.code}]: {h.verdict.message}
                      </li>
                    ))}
                  </ol>
                </details>
              )}
            </article>
          ))}
        </div>
      )}
      {ended && report.loss.length > 0 && <LossTable report={report} />}
      {ended && (
        <button type="button" onClick={() => exportReport(report)}>
          Export JSON
        </button>
      )}
      <details className="switch-log">
        <summary>Log ({report.log.length} lines)</summary>
        <pre>{report.log.join('\n')}</pre>
      </details>
    </div>
  );
}

export function StagedSwitch({ context, pool, nodes, onEnded }: { context: string; pool: PoolRow; nodes: string[]; onEnded: () => void }) {
  const client = useClient();
  const current = modeOfFields(pool.fields);
  const [mode, setMode] = useState<AppliedMode>(appliedModes.find((m) => m !== current)!);
  const [canary, setCanary] = useState<string[]>([]);
  const [plan, setPlan] = useState<SwitchPlan | undefined>();
  const [report, setReport] = useState<SwitchReport | undefined>();
  const [runId, setRunId] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    setMode((m) => (m === current ? appliedModes.find((x) => x !== current)! : m));
  }, [current]);

  useEffect(() => {
    if (!runId) return;
    return client.on('switch.progress', (r) => {
      if (r.id === runId) setReport(r);
    });
  }, [client, runId]);

  const changed = () => {
    setPlan(undefined);
    setReport(undefined);
    setError(undefined);
  };

  const makePlan = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    changed();
    try {
      setPlan(await client.request('switch.plan', { context, pool: pool.name, mode, ...(canary.length > 0 ? { canary } : {}) }));
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const run = async () => {
    if (!plan) return;
    const id = `switch-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    setRunId(id);
    setBusy(true);
    setError(undefined);
    setReport(undefined);
    try {
      setReport(await client.request('switch.run', { context, pool: pool.name, mode, ...(canary.length > 0 ? { canary } : {}), id, expectFrom: plan.from.mode }));
      // The form is for the next switch; the report keeps the plan it ran.
      setPlan(undefined);
      setCanary([]);
      onEnded();
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const running = report?.state === 'running' || (busy && runId !== undefined && !report);
  const ended = report !== undefined && report.state !== 'running';
  return (
    <section className="staged-switch" aria-labelledby="staged-switch-heading">
      <h2 id="staged-switch-heading">Staged switch of {pool.name}</h2>
      <p className="hint">
        Now {current}. Canary nodes switch first by a per-node override (gingham.dev/IPPoolModes), then the pool for the rest; after each stage every node is checked against its plan and every pod pair probed, and a stage that breaks a pair is rolled back on its own. Calico's tools read a valid pool throughout.
      </p>
      <form aria-label="Staged switch" onSubmit={(e) => void makePlan(e)}>
        <div className="fields">
          <label>
            Switch to
            <select value={mode} disabled={running} onChange={(e) => { setMode(e.target.value as AppliedMode); changed(); }}>
              {appliedModes.filter((m) => m !== current).map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </label>
          <fieldset disabled={running}>
            <legend>Canary nodes</legend>
            {nodes.map((n) => (
              <label key={n} className="check">
                <input type="checkbox" checked={canary.includes(n)} onChange={(e) => { setCanary(e.target.checked ? [...canary, n] : canary.filter((c) => c !== n)); changed(); }} />
                {n}
              </label>
            ))}
          </fieldset>
        </div>
        <p className="hint">No canary: all at once below 5 nodes, else one canary per ten nodes, among those with pods.</p>
        <div className="actions">
          <button type="submit" disabled={busy || running}>
            Plan
          </button>
          <button type="button" className="primary" disabled={!plan || busy || running || ended} onClick={() => void run()} title={plan ? undefined : 'Plan first: the stages and what is checked'}>
            Run
          </button>
        </div>
      </form>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {plan && !ended && <PlanView plan={plan} />}
      {running && !report && <p role="status">Starting: planning again and probing the pod pairs before the switch…</p>}
      {report && <ReportView report={report} />}
    </section>
  );
}
