// The columns of one node's published status, in the order both node tables (Nodes, BGP peers)
// show them: agent (health and version), BGP sessions, the mode it programs, its last pass, its
// problems; each with what the filter searches and what it sorts by. A row without a status (a
// node read over SSH) takes its cells from `other`.
import type { ReactNode } from 'react';
import type { NodeStatusEntry } from '../../../shared/api/node-status-contract.ts';
import type { Column, RowAttributes } from '../components/DataTable.tsx';
import { useNodeStatus } from './node-status-state.tsx';
import { agentWords, healthKey, modeWords, passDetail, passWords, problemsOf, sessionWords } from './status-words.ts';
import './node-status.css';

export type StatusColumnId = 'agent' | 'bgp' | 'mode' | 'pass' | 'problems';

/** A cell for a row that has no published status. */
export interface OtherCell<T> {
  cell(row: T): ReactNode;
  text?(row: T): string;
  attributes?(row: T): RowAttributes;
}

function problemList(problems: string[]): ReactNode {
  if (problems.length === 0) return '—';
  return (
    <ul className="status-problems">
      {problems.map((p) => (
        <li key={p}>{p}</li>
      ))}
    </ul>
  );
}

export function statusColumns<T>(entryOf: (row: T) => NodeStatusEntry | undefined, other: Partial<Record<StatusColumnId, OtherCell<T>>> = {}): Column<T>[] {
  const of = (row: T) => {
    const entry = entryOf(row);
    return entry?.status ? { entry, status: entry.status } : undefined;
  };
  const either =
    (id: StatusColumnId, watch: (entry: NodeStatusEntry, status: NonNullable<NodeStatusEntry['status']>) => ReactNode) =>
    (row: T): ReactNode => {
      const entry = entryOf(row);
      if (!entry) return other[id]?.cell(row) ?? null;
      // An object the schema refuses: the agent cell says why, the others stay empty.
      if (!entry.status) return id === 'agent' ? agentWords(entry) : null;
      return watch(entry, entry.status);
    };
  const text = (id: StatusColumnId, watch: (entry: NodeStatusEntry, status: NonNullable<NodeStatusEntry['status']>) => string) => (row: T) => {
    const found = of(row);
    if (found) return watch(found.entry, found.status);
    const entry = entryOf(row);
    return entry ? (id === 'agent' ? agentWords(entry) : '') : (other[id]?.text?.(row) ?? '');
  };
  return [
    {
      id: 'agent',
      header: 'Agent',
      width: 'minmax(9rem, 1fr)',
      cell: either('agent', (entry, status) => (
        <>
          {agentWords(entry)}
          <span className="tag version"> {status.agentVersion}</span>
          {!status.datastore.connected && <span className="error"> (API server unreachable)</span>}
        </>
      )),
      text: text('agent', (entry, status) => `${agentWords(entry)} ${status.agentVersion}`),
      sort: (row) => {
        const entry = entryOf(row);
        return entry ? healthKey(entry) : 'zz-ssh';
      },
      className: (row) => {
        const entry = entryOf(row);
        if (!entry) return undefined;
        return entry.status ? `status-health health-${healthKey(entry)}` : 'status-invalid';
      },
      cellAttributes: (row) => {
        const entry = entryOf(row);
        return entry ? { 'data-health': healthKey(entry), 'data-source': 'watch' } : (other.agent?.attributes?.(row) ?? {});
      },
    },
    {
      id: 'bgp',
      header: 'BGP',
      width: '12.5rem', // "479 of 499 sessions up" on one line, clear of Mode
      cell: either('bgp', (_, status) => sessionWords(status)),
      text: text('bgp', (_, status) => sessionWords(status)),
      sort: (row) => of(row)?.status.bgp.established ?? -1,
      className: 'nowrap',
      cellAttributes: (row) => {
        const status = of(row)?.status;
        return status ? { 'data-established': status.bgp.established, 'data-total': status.bgp.total } : {};
      },
    },
    {
      id: 'mode',
      header: 'Mode',
      width: 'minmax(8rem, 1fr)',
      cell: either('mode', (_, status) => <span title={status.pools.map((p) => `${p.name} ${p.cidr}`).join(', ')}>{modeWords(status)}</span>),
      text: text('mode', (_, status) => modeWords(status)),
      sort: (row) => {
        const status = of(row)?.status;
        return status ? modeWords(status) : '';
      },
    },
    {
      id: 'pass',
      header: 'Last pass',
      width: '9.5rem',
      cell: either('pass', (_, status) => (
        <>
          {passWords(status)}
          <span className="tag detail"> {passDetail(status)}</span>
        </>
      )),
      text: text('pass', (_, status) => passWords(status)),
      sort: (row) => {
        const status = of(row)?.status;
        return status ? `${status.dataplane.inSync ? 1 : 0} ${status.dataplane.lastPassAt ?? ''}` : '';
      },
      className: (row) => (of(row)?.status.dataplane.inSync === false ? 'error' : undefined),
    },
    {
      id: 'problems',
      header: 'Problems',
      width: 'minmax(10rem, 2fr)',
      cell: either('problems', (_, status) => problemList(problemsOf(status))),
      text: text('problems', (_, status) => problemsOf(status).join(' ')),
      sort: (row) => {
        const status = of(row)?.status;
        return status ? problemsOf(status).length : -1;
      },
    },
  ];
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
