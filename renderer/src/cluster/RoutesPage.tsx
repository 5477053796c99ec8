// One node's route table as its agent reports it (who made each route: pool, mode, block, pod),
// read again every two seconds; routes that appeared or changed in the last minute are marked.
// A node without the agent shows the kernel's table over SSH, marked read-only.
import { useEffect, useState } from 'react';
import type { NodeRoutes, RouteRow } from '../../../shared/api/cluster-ops-contract.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import { useSsh } from '../ssh/ssh-state.tsx';
import { ColumnHeaders } from '../components/ColumnHeaders.tsx';
import { NodePicker } from '../components/NodePicker.tsx';
import './cluster.css';

const refreshMs = 2000;
const recentMs = 60_000;

/**
 * When each route (by destination) of each node last appeared or changed, and what it looked like:
 * kept outside the component so that leaving the view and coming back still shows recent changes.
 */
const history = new Map<string, Map<string, { shape: string; changedAt: number }>>();

const key = (r: RouteRow) => `${r.destination}/${r.genmask}`;
const shape = (r: RouteRow) => `${r.gateway} ${r.flags} ${r.iface} ${r.owner?.text ?? ''}`;

export function RoutesPage({ active }: { active: boolean }) {
  const client = useClient();
  const [nodeId, setNodeId] = useState('');
  const [table, setTable] = useState<NodeRoutes | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [filter, setFilter] = useState('');
  const [ginghamOnly, setGinghamOnly] = useState(false);
  const ssh = useSsh();
  const nodeName = ssh.nodes.find((n) => n.id === nodeId)?.name ?? nodeId;
  const [, setTick] = useState(0);

  useEffect(() => {
    setTable(undefined);
    if (!nodeId || !active) return;
    let seen = history.get(nodeId);
    // The first reading of a node marks nothing: there is nothing to compare it with.
    let first = !seen;
    if (!seen) history.set(nodeId, (seen = new Map()));
    const known = seen;
    let stopped = false;
    const read = async () => {
      try {
        const next = await client.request('node.routes', { nodeId });
        if (stopped) return;
        const now = Date.now();
        for (const row of next.routes) {
          const before = known.get(key(row));
          if (!before || before.shape !== shape(row)) known.set(key(row), { shape: shape(row), changedAt: first ? 0 : now });
        }
        first = false;
        setTable(next);
        setError(undefined);
      } catch (e) {
        if (!stopped && !isTransportLoss(e)) setError(messageOf(e));
      }
      // This poll stays, for the one node shown and only while it is: the full route table is not in
      // the agent's published status (which stays small by carrying counts, not tables), so it is
      // read on demand over SSH; the watch has nothing to say when a route changes.
      if (!stopped) timer = setTimeout(() => void read(), refreshMs);
      setTick((t) => t + 1);
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [client, nodeId, active]);

  const words = filter.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const rows = (table?.routes ?? []).filter(
    (r) => (!ginghamOnly || r.ginghams) && words.every((w) => [r.destination, r.gateway, r.genmask, r.flags, r.iface, r.owner?.text ?? ''].join(' ').toLowerCase().includes(w)),
  );
  const now = Date.now();
  return (
    <section aria-labelledby="section-heading">
      <h1 id="section-heading" tabIndex={-1}>
        Routes
      </h1>
      <div className="toolbar">
        <NodePicker label="Node" value={nodeId} onChange={setNodeId} />
        <label>
          Filter
          <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="tunl0, 192.168., pool…" />
        </label>
        <label className="check">
          <input type="checkbox" checked={ginghamOnly} onChange={(e) => setGinghamOnly(e.target.checked)} />
          Gingham's routes only
        </label>
        {table && (table.readOnly ? <span className="badge read-only">read-only: kernel table over SSH</span> : <span className="badge live">live from the agent</span>)}
      </div>
      {table?.note && <p className="hint">{table.note}</p>}
      {error && <p role="alert" className="error">{error}</p>}
      {table && (
        <table className="routes">
          <caption>
            Kernel IP routing table of {nodeName} ({rows.length} of {table.routes.length} routes)
          </caption>
          <ColumnHeaders columns={['Destination', 'Gateway', 'Genmask', 'Flags', 'Metric', 'Iface', 'Owner']} />
          <tbody>
            {rows.map((r) => {
              const changedAt = history.get(nodeId)?.get(key(r))?.changedAt ?? 0;
              const recent = changedAt > 0 && now - changedAt < recentMs;
              return (
                <tr key={key(r)} className={recent ? 'changed' : undefined} data-destination={r.destination}>
                  <td>{r.destination}</td>
                  <td>{r.gateway}</td>
                  <td>{r.genmask}</td>
                  <td>{r.flags}</td>
                  <td>{r.metric}</td>
                  <td>{r.iface}</td>
                  <td>{r.owner?.text ?? (r.ginghams ? 'gingham' : '-')}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
