// The pod-to-pod matrix and the probing behind it, for the Connectivity view and for the IP pools
// view (probed again once every node has converged after Apply, so that the seed's table for the
// new mode appears where the change was made).
import { useCallback, useEffect, useState } from 'react';
import type { ConnectivityMatrix as Matrix, MatrixCell } from '../../../shared/api/cluster-ops-contract.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import './cluster.css';

function cellText(cell: MatrixCell | undefined): string {
  if (!cell) return '—';
  const http = cell.http.ok ? `HTTP ${cell.http.status}` : `HTTP ✗ ${cell.http.error ?? ''}`;
  const ping = cell.ping.ok ? `ping ${cell.ping.ms?.toFixed(1)} ms` : 'ping ✗';
  return `${http} · ${ping}`;
}

/** A pod as the doctor takes it: its name, with its namespace unless that is default. */
const podName = (pod: Matrix['pods'][number]) => (pod.namespace === 'default' ? pod.name : `${pod.namespace}/${pod.name}`);

/** Probes on mount (while `enabled`), every `everyMs` if given, and on `probe()`. */
export function useConnectivity(context: string | undefined, options: { everyMs?: number; enabled?: boolean } = {}) {
  const client = useClient();
  const [matrix, setMatrix] = useState<Matrix | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [running, setRunning] = useState(false);
  const enabled = options.enabled ?? true;

  const probe = useCallback(async () => {
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
    if (!enabled || !context) return;
    void probe();
    if (!options.everyMs) return;
    // This poll stays (Connectivity's 15 s): reachability is measured by probing from the pods, not
    // published by anyone, so no watch can tell when a cell turns red or green.
    const timer = setInterval(() => void probe(), options.everyMs);
    return () => clearInterval(timer);
  }, [enabled, context, probe, options.everyMs]);

  return { matrix, error, running, probe };
}

export function ConnectivityMatrix({ matrix, caption = 'From (rows) to (columns)' }: { matrix: Matrix; caption?: string }) {
  return (
    <>
      {matrix.errors.map((e) => (
        <p key={e.pod} className="error">
          {e.pod}: {e.message}
        </p>
      ))}
      {matrix.pods.length === 0 && <p>The cluster has no pods with addresses to probe.</p>}
      {matrix.pods.length > 0 && (
        <table className="matrix">
          <caption>{caption}</caption>
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
                      {cell && !ok && (
                        <>
                          {' '}
                          <a href={`#/doctor?from=${encodeURIComponent(podName(from))}&to=${encodeURIComponent(podName(to))}`} aria-label={`Trace ${from.name} to ${to.name}`}>
                            Trace
                          </a>
                        </>
                      )}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
