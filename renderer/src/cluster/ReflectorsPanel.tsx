// Route reflectors, on the BGP peers page: the advice (the mesh's sessions against Calico's
// thresholds, each node's role, the proposed reflectors), and the migration from the mesh to
// reflectors on the chosen nodes, or back, each step live from `reflectors.progress`. The nodes'
// roles go up to the page, which shows them beside each session (docs/bgp.md, "Route reflectors").
import { memo, useCallback, useEffect, useState } from 'react';
import type { BgpRole, ReflectorAdvice, ReflectorMigrationReport, ReflectorTarget } from '../../../shared/api/reflectors-contract.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import './cluster.css';

const levelWords: Record<ReflectorAdvice['level'], string> = {
  'mesh-fine': 'The mesh is fine',
  consider: 'Consider route reflectors',
  advised: 'Route reflectors advised',
};
const topologyWords: Record<ReflectorAdvice['topology'], string> = {
  mesh: 'node-to-node mesh',
  reflectors: 'route reflectors, mesh off',
  'mesh-and-reflectors': 'reflectors with the mesh still on',
  none: 'no mesh, no reflectors',
};

const seconds = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

function Report({ report }: { report: ReflectorMigrationReport }) {
  return (
    <div className="reflector-report" aria-label="Reflector migration">
      <p role="status" className={report.state === 'failed' ? 'error' : undefined}>
        {report.state === 'running' ? 'Running: ' : report.state === 'done' ? 'Done: ' : 'Stopped: '}
        {report.message} ({seconds(report.ms)})
      </p>
      <ol className="steps">
        {report.steps.map((s) => (
          <li key={s.id} data-step={s.id} data-state={s.state}>
            <span className={`badge step-${s.state}`}>{s.state}</span> {s.title} <span className="hint">{seconds(s.ms)}</span>
            {s.detail && <div className="hint">{s.detail}</div>}
          </li>
        ))}
      </ol>
    </div>
  );
}

// Drawn again only when its own props change: the page above it redraws with every status update
// (several a second at 500 nodes), and each redraw of this table of every node set each row's
// checkbox again (React writes a controlled input's attributes), 15,000 attribute writes a second
// restyled and repainted under the sessions table while it scrolled.
export const ReflectorsPanel = memo(function ReflectorsPanel({ context, onRoles }: { context: string; onRoles: (roles: Map<string, BgpRole>) => void }) {
  const client = useClient();
  const [advice, setAdvice] = useState<ReflectorAdvice | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [chosen, setChosen] = useState<string[] | undefined>();
  const [report, setReport] = useState<ReflectorMigrationReport | undefined>();
  const [runId, setRunId] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const read = useCallback(async () => {
    try {
      const next = await client.request('reflectors.advice', { context });
      setAdvice(next);
      setError(undefined);
      onRoles(new Map(next.nodes.map((n) => [n.name, n.role])));
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    }
  }, [client, context, onRoles]);

  useEffect(() => {
    setAdvice(undefined);
    setChosen(undefined);
    setReport(undefined);
    void read();
  }, [read]);

  useEffect(() => {
    if (!runId) return;
    return client.on('reflectors.progress', (r) => {
      if (r.id === runId) setReport(r);
    });
  }, [client, runId]);

  const reflectors = chosen ?? advice?.candidates.map((c) => c.node) ?? [];
  const migrate = async (to: ReflectorTarget) => {
    const id = `reflectors-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    setRunId(id);
    setBusy(true);
    setReport(undefined);
    setError(undefined);
    try {
      setReport(await client.request('reflectors.migrate', { context, to, id, ...(to === 'reflectors' ? { nodes: reflectors } : {}) }));
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    } finally {
      setBusy(false);
      void read();
    }
  };

  if (!advice) return error ? <p role="alert" className="error">{error}</p> : <p className="hint">Reading the cluster's BGP configuration…</p>;
  const toggle = (node: string) => setChosen(reflectors.includes(node) ? reflectors.filter((n) => n !== node) : [...reflectors, node]);
  const onMesh = advice.topology === 'mesh';
  return (
    <section className="reflectors" aria-labelledby="reflectors-heading">
      <h2 id="reflectors-heading">Route reflectors</h2>
      <p>
        <strong data-level={advice.level}>{levelWords[advice.level]}</strong> — now: {topologyWords[advice.topology]}.
      </p>
      <ul className="hint" aria-label="Why">
        {advice.reasons.map((r) => (
          <li key={r}>{r}</li>
        ))}
        {advice.sessions && <li>The agents publish {advice.sessions.established} of {advice.sessions.total} sessions Established.</li>}
      </ul>
      {advice.problems.length > 0 && (
        <ul role="alert" className="error" aria-label="Problems">
          {advice.problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      <table className="reflector-nodes">
        <caption>Nodes and their BGP roles</caption>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Role</th>
            <th scope="col">Subnet</th>
            <th scope="col">Zone</th>
            {onMesh && <th scope="col">Make reflector</th>}
          </tr>
        </thead>
        <tbody>
          {advice.nodes.map((n) => {
            const candidate = advice.candidates.find((c) => c.node === n.name);
            return (
              <tr key={n.name} data-node={n.name} data-role={n.role}>
                <th scope="row">{n.name}</th>
                <td>
                  <span className={`badge role-${n.role}`}>{n.role}</span>
                  {n.clusterId && <span className="hint"> cluster ID {n.clusterId}</span>}
                </td>
                <td>{n.subnet ?? '—'}</td>
                <td>{n.zone ?? '—'}</td>
                {onMesh && (
                  <td>
                    <label>
                      <input type="checkbox" checked={reflectors.includes(n.name)} onChange={() => toggle(n.name)} disabled={busy || n.role === 'none'} /> {candidate ? `proposed: ${candidate.why}` : ''}
                    </label>
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      <div className="toolbar">
        {onMesh ? (
          <button type="button" onClick={() => void migrate('reflectors')} disabled={busy || reflectors.length === 0}>
            {busy ? 'Migrating…' : `Move to reflectors ${reflectors.join(', ')}`}
          </button>
        ) : (
          <>
            {advice.topology === 'mesh-and-reflectors' && (
              <button type="button" onClick={() => void migrate('reflectors')} disabled={busy}>
                Finish the move to reflectors
              </button>
            )}
            <button type="button" onClick={() => void migrate('mesh')} disabled={busy || advice.topology === 'none'}>
              {busy ? 'Migrating…' : 'Back to the node-to-node mesh'}
            </button>
          </>
        )}
        <span className="hint">No route is withdrawn on the way: the reflectors are established with every client and their routes received before the mesh goes.</span>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      {report && <Report report={report} />}
    </section>
  );
});
