// The pod-to-pod matrix: each pod's agent pings and GETs every other pod from the pod's own
// namespace. Refreshed on demand and every 15 s while the view is open, so that a mode switch
// can be watched turning cells green or red (the seed's table, happening).
import { useCallback, useEffect, useState } from 'react';
import type { ConnectivityMatrix, MatrixCell } from '../../../shared/api/cluster-ops-contract.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import type { ConnectedCluster } from '../App.tsx';
import './cluster.css';

function cellText(cell: MatrixCell | undefined): string {
  if (!cell) return '—';
  const http = cell.http.ok ? `HTTP ${cell.http.status}` : `HTTP ✗ ${cell.http.error ?? ''}`;
  const ping = cell.ping.ok ? `ping ${cell.ping.ms?.toFixed(1)} ms` : 'ping ✗';
  return `${http} · ${ping}`;
}

export function ConnectivityPage({ cluster, active }: { cluster?: ConnectedCluster; active: boolean }) {
  const client = useClient();
  const [matrix, setMatrix] = useState<ConnectivityMatrix | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [running, setRunning] = useState(false);
  const context = cluster?.context;

  const refresh = useCallback(async () => {
    if (!context) return;
    setRunning(true);
    try {
      setMatrix(await client.request('connectivity.matrix', { context, port: 80 }));
      setError(undefined);
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    } finally {
      setRunning(false);
    }
  }, [client, context]);

  useEffect(() => {
    if (!active || !context) return;
    void refresh();
    const timer = setInterval(() => void refresh(), 15_000);
    return () => clearInterval(timer);
  }, [active, context, refresh]);

  return (
    <section aria-labelledby="section-heading">
      <h1 id="section-heading" tabIndex={-1}>
        Connectivity
      </h1>
      {!context && <p>Connect to a cluster first (Clusters).</p>}
      {context && (
        <div className="toolbar">
          <button type="button" onClick={() => void refresh()} disabled={running}>
            {running ? 'Probing…' : 'Probe again'}
          </button>
          {matrix && <span className="hint">Probed in {(matrix.ms / 1000).toFixed(1)} s by the agents (ping and HTTP GET :80 from each pod's namespace).</span>}
        </div>
      )}
      {error && <p role="alert" className="error">{error}</p>}
      {matrix?.errors.map((e) => (
        <p key={e.pod} className="error">
          {e.pod}: {e.message}
        </p>
      ))}
      {matrix && matrix.pods.length === 0 && <p>The cluster has no pods with addresses to probe.</p>}
      {matrix && matrix.pods.length > 0 && (
        <table className="matrix">
          <caption>From (rows) to (columns)</caption>
          <thead>
            <tr>
              <th scope="col">From \ To</th>
              {matrix.pods.map((p) => (
                <th scope="col" key={p.name}>
                  {p.name} <span className="tag">{p.ip} on {p.node}</span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {matrix.pods.map((from) => (
              <tr key={from.name}>
                <th scope="row">{from.name}</th>
                {matrix.pods.map((to) => {
                  if (to === from) return <td key={to.name}>—</td>;
                  const cell = matrix.cells.find((c) => c.from === from.name && c.to === to.name);
                  const ok = cell?.http.ok && cell.ping.ok;
                  return (
                    <td key={to.name} className={cell ? (ok ? 'reach-ok' : 'reach-fail') : undefined} data-from={from.name} data-to={to.name} data-ok={cell ? String(!!cell.http.ok) : ''}>
                      {cellText(cell)}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
