// Migration: move a node from Project Calico's calico-node to the Gingham agent, or back, with
// nothing drained (docs/mixed-clusters.md, "Moving a node"). Pick the node and the direction, see
// the plan (how calico-node runs there, its pods, the pod pairs the continuous ping watches, the
// steps), Run, and watch each step live (`migration.progress`); then the report: each step's time
// and detail, each pod's address and interface kept or not, the packets lost per pair.
import { useEffect, useState, type FormEvent } from 'react';
import type { MigrationPlan, MigrationReport, MigrationStep, MigrationTarget } from '../../../shared/api/migration-contract.ts';
import type { ConnectedCluster } from '../api/connected-cluster.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import { ColumnHeaders } from '../components/ColumnHeaders.tsx';
import './migration.css';

const seconds = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(2)} s`);
const sideName: Record<MigrationTarget, string> = { gingham: 'the Gingham agent', calico: 'calico-node' };
const stateText: Record<MigrationReport['state'], string> = { running: 'Running', migrated: 'Migrated', 'rolled-back': 'Rolled back', failed: 'Failed' };
const stepStateText: Record<MigrationStep['state'], string> = { pending: 'pending', running: 'running…', done: 'done', failed: 'failed', skipped: 'skipped', undone: 'undone (rollback)' };
const runsAsText: Record<MigrationPlan['calicoRunsAs'], string> = {
  daemonset: "a pod of Calico's DaemonSet (stopped by the node label gingham.dev/network-agent=gingham)",
  systemd: 'the systemd unit calico-node',
  'init-script': 'the init script /etc/init.d/calico-node',
};

function StepsTable({ steps, caption }: { steps: MigrationStep[]; caption: string }) {
  return (
    <table className="migration-steps">
      <caption>{caption}</caption>
      <ColumnHeaders columns={['Step', 'State', 'Took', 'Detail']} />
      <tbody>
        {steps.map((s, i) => (
          <tr key={s.id} data-step={s.id} data-state={s.state}>
            <th scope="row">
              {i + 1}. {s.title}
            </th>
            <td className={`step-${s.state}`}>{stepStateText[s.state]}</td>
            <td>{seconds(s.ms)}</td>
            <td>{s.detail ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function PlanView({ plan }: { plan: MigrationPlan }) {
  return (
    <div className="migration-plan" aria-label="Migration plan">
      <p>
        <strong>{plan.node}</strong>: {sideName[plan.from]} → {sideName[plan.to]}. calico-node runs {plan.to === 'gingham' ? 'as' : 'again as'} {runsAsText[plan.calicoRunsAs]}.
      </p>
      <p>
        <strong>Pools:</strong> {plan.modes.map((m) => `${m.pool} (IP-in-IP ${m.ipipMode}, VXLAN ${m.vxlanMode})`).join(', ')}
        {plan.bgp ? ': routes by BGP' : ': no BGP'}
      </p>
      <p>
        <strong>Pods kept on {plan.node}:</strong> {plan.pods.length === 0 ? 'none' : plan.pods.map((p) => `${p.name} (${p.ip})`).join(', ')}
      </p>
      <p>
        <strong>Continuous ping on:</strong> {plan.pairs.length === 0 ? 'no pair' : plan.pairs.map((p) => `${p.from} → ${p.to}`).join(', ')}
      </p>
      {plan.notes.map((n) => (
        <p key={n} className="hint">
          {n}
        </p>
      ))}
      <StepsTable steps={plan.steps} caption="Steps (each one undone, newest first, if a later one fails)" />
    </div>
  );
}

function ReportView({ report }: { report: MigrationReport }) {
  const ended = report.state !== 'running';
  const total = report.loss.reduce((sum, l) => sum + l.lost, 0);
  return (
    <div className="migration-report" aria-label="Migration report" data-state={report.state}>
      <p role="status" className={`migration-phase state-${report.state}`}>
        {stateText[report.state]}
        {ended ? ` in ${seconds(report.ms)}` : ` (${seconds(report.ms)})`}: {report.message}
      </p>
      <StepsTable steps={report.steps} caption={`Migration of ${report.plan.node} to ${sideName[report.plan.to]}`} />
      {Object.keys(report.routesHandedOver).length > 0 && (
        <p>
          Routes handed over in place: {Object.entries(report.routesHandedOver).map(([proto, n]) => `${n} to protocol ${proto}`).join(', ')}
        </p>
      )}
      {ended && report.pods.length > 0 && (
        <table className="migration-pods">
          <caption>Pods of {report.plan.node}: address and interface</caption>
          <ColumnHeaders columns={['Pod', 'Address', 'Interface', 'Kept']} />
          <tbody>
            {report.pods.map((p) => (
              <tr key={p.name} data-pod={p.name} data-kept={p.kept}>
                <th scope="row">{p.name}</th>
                <td>{p.ip}</td>
                <td>{p.iface ?? '—'}</td>
                <td className={p.kept ? 'ok' : 'lost'}>{p.kept ? 'kept' : 'changed'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {ended && report.loss.length > 0 && (
        <table className="migration-loss">
          <caption>Packets lost during the migration (a ping every 10 ms per pair): {total} in all</caption>
          <ColumnHeaders columns={['Pair', 'Lost', 'Sent', 'Longest gap']} />
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
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <details className="migration-log">
        <summary>Log ({report.log.length} lines)</summary>
        <pre>{report.log.join('\n')}</pre>
      </details>
    </div>
  );
}

export function MigrationPage({ cluster }: { cluster?: ConnectedCluster }) {
  const client = useClient();
  const context = cluster?.context;
  const nodes = cluster?.nodes.map((n) => n.name) ?? [];
  const [node, setNode] = useState('');
  const [to, setTo] = useState<MigrationTarget>('gingham');
  const [plan, setPlan] = useState<MigrationPlan | undefined>();
  const [report, setReport] = useState<MigrationReport | undefined>();
  const [runId, setRunId] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    if (!runId) return;
    return client.on('migration.progress', (r) => {
      if (r.id === runId) setReport(r);
    });
  }, [client, runId]);

  const chosen = node || nodes[0] || '';
  const changed = () => {
    setPlan(undefined);
    setReport(undefined);
    setError(undefined);
  };

  const makePlan = async (event: FormEvent) => {
    event.preventDefault();
    if (!context) return;
    setBusy(true);
    changed();
    try {
      setPlan(await client.request('migration.plan', { context, node: chosen, to }));
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const run = async () => {
    if (!plan || !context) return;
    const id = `migration-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    setRunId(id);
    setBusy(true);
    setError(undefined);
    setReport(undefined);
    try {
      setReport(await client.request('migration.run', { context, node: plan.node, to: plan.to, id }));
      setPlan(undefined);
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const running = report?.state === 'running' || (busy && runId !== undefined && !report);
  return (
    <section className="migration" aria-labelledby="section-heading">
      <h1 id="section-heading" tabIndex={-1}>
        Migration
      </h1>
      <p className="hint">
        Replace calico-node by the Gingham agent on one node, or go back. Nothing is drained: the pods keep their addresses and interfaces, the node&apos;s routes change owner in place (never missing), and a continuous ping between pods on every pair of nodes counts what is lost. A step that fails rolls the node back.
      </p>
      {!context && <p>Connect to a cluster first (Clusters).</p>}
      {context && (
        <form aria-label="Migrate a node" onSubmit={(e) => void makePlan(e)}>
          <div className="fields">
            <label>
              Node
              <select value={chosen} disabled={running} onChange={(e) => { setNode(e.target.value); changed(); }}>
                {nodes.map((n) => (
                  <option key={n}>{n}</option>
                ))}
              </select>
            </label>
            <fieldset disabled={running}>
              <legend>Move to</legend>
              {(['gingham', 'calico'] as const).map((side) => (
                <label key={side} className="check">
                  <input type="radio" name="migration-to" checked={to === side} onChange={() => { setTo(side); changed(); }} />
                  {side === 'gingham' ? 'the Gingham agent' : 'calico-node (back)'}
                </label>
              ))}
            </fieldset>
          </div>
          <div className="actions">
            <button type="submit" disabled={busy || running}>
              Plan
            </button>
            <button type="button" className="primary" disabled={!plan || busy || running} onClick={() => void run()} title={plan ? undefined : 'Plan first: what runs on the node and the steps'}>
              Run
            </button>
          </div>
        </form>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {plan && !report && <PlanView plan={plan} />}
      {running && !report && <p role="status">Starting: planning again and starting the continuous ping…</p>}
      {report && <ReportView report={report} />}
    </section>
  );
}
