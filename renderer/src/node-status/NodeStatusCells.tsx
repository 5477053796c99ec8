// The cells of one node's published status, in the order both tables show them: agent (health and
// version), BGP sessions, the mode it programs, its last pass, its problems.
import type { NodeStatusEntry } from '../../../shared/api/node-status-contract.ts';
import { useNodeStatus } from './node-status-state.tsx';
import { agentWords, healthKey, modeWords, passDetail, passWords, problemsOf, sessionWords } from './status-words.ts';
import './node-status.css';

export const statusColumns = ['Agent', 'BGP', 'Mode', 'Last pass', 'Problems'] as const;

export function NodeStatusCells({ entry }: { entry: NodeStatusEntry }) {
  const status = entry.status;
  if (!status) {
    return (
      <>
        <td className="status-invalid" data-health="invalid" data-source="watch" colSpan={statusColumns.length}>
          {agentWords(entry)}
        </td>
      </>
    );
  }
  const problems = problemsOf(status);
  return (
    <>
      <td className={`status-health health-${healthKey(entry)}`} data-health={healthKey(entry)} data-source="watch">
        {agentWords(entry)}
        <span className="tag version"> {status.agentVersion}</span>
        {!status.datastore.connected && <span className="error"> (API server unreachable)</span>}
      </td>
      <td className="nowrap" data-established={status.bgp.established} data-total={status.bgp.total}>
        {sessionWords(status)}
      </td>
      <td title={status.pools.map((p) => `${p.name} ${p.cidr}`).join(', ')}>
        {modeWords(status)}
      </td>
      <td className={status.dataplane.inSync ? undefined : 'error'}>
        {passWords(status)}
        <span className="tag detail"> {passDetail(status)}</span>
      </td>
      <td>
        {problems.length === 0 ? (
          '—'
        ) : (
          <ul className="status-problems">
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        )}
      </td>
    </>
  );
}

/** One line on where the statuses come from and whether the watch is live. */
export function WatchLine({ published, of }: { published: number; of: number }) {
  const { watch } = useNodeStatus();
  if (!watch) return <p className="hint watch-line">Opening the watch of the agents' published status…</p>;
  if (watch.missing) return <p className="hint watch-line">No agent publishes its status in this cluster yet (it has no GinghamNodeStatus kind): nodes are read over SSH.</p>;
  if (!watch.connected)
    return (
      <p role="alert" className="error watch-line">
        The watch of the agents' status is not connected{watch.error ? `: ${watch.error}` : ''}. {watch.synced ? 'Showing the last state it had; retrying.' : 'Retrying.'}
      </p>
    );
  return (
    <p className="hint watch-line">
      <span className="badge live">live</span> {published} of {of} nodes publish their status (one watch of ginghamnodestatuses for the cluster){published < of ? '; the others are read over SSH' : ''}.
    </p>
  );
}
