// What a pool change would do, shown before it is made: each node's dataplane plan (routes,
// devices, BGP sessions added and removed; the agents' own planner) and the API server's answer
// to the server-side dry run. The IP pools form, the staged switch and the Routing objects page
// show them.
import type { NodePreview, PoolDryRun } from '../../../shared/api/cluster-ops-contract.ts';
import { ColumnHeaders } from '../components/ColumnHeaders.tsx';
import './cluster.css';

export function Preview({ nodes }: { nodes: NodePreview[] }) {
  return (
    <div className="preview" aria-label="Preview per node">
      {nodes.map((n) => (
        <article key={n.node} data-node={n.node}>
          <h3>{n.node}</h3>
          {!n.available && <p className="hint">No preview: {n.reason}</p>}
          {n.available && n.routes.added.length + n.routes.removed.length + n.devices.added.length + n.devices.removed.length + n.bgp.added.length + n.bgp.removed.length === 0 && <p>No change.</p>}
          {n.devices.added.map((d) => <p key={d} className="added">+ device {d}</p>)}
          {n.devices.removed.map((d) => <p key={d} className="removed">− device {d}</p>)}
          {n.bgp.added.length > 0 && <p className="added">+ BGP sessions: {n.bgp.added.join(', ')}</p>}
          {n.bgp.removed.length > 0 && <p className="removed">− BGP sessions: {n.bgp.removed.join(', ')}</p>}
          {(n.routes.added.length > 0 || n.routes.removed.length > 0) && (
            <ul>
              {n.routes.removed.map((r) => <li key={`-${r.dst}${r.via}`} className="removed">− {r.dst} {r.via}</li>)}
              {n.routes.added.map((r) => <li key={`+${r.dst}${r.via}`} className="added">+ {r.dst} {r.via} ({r.owner})</li>)}
            </ul>
          )}
        </article>
      ))}
    </div>
  );
}

/** The server-side dry run's answer: each spec field as stored, and as the API server would store it. */
export function ServerDryRun({ result }: { result: PoolDryRun }) {
  return (
    <section className="dry-run" aria-label="What the API server would store">
      <h3>What the API server would store (server-side dry run, nothing stored)</h3>
      {result.changes.length === 0 ? (
        <p>No change to the stored object.</p>
      ) : (
        <table>
          <ColumnHeaders columns={['Field', 'Stored', 'After Apply']} />
          <tbody>
            {result.changes.map((c) => (
              <tr key={c.field}>
                <td>spec.{c.field}</td>
                <td className="removed">{c.before ?? '(not set)'}</td>
                <td className="added">{c.after ?? '(removed)'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
