// One node's route table as its agent reports it (who made each route: pool, mode, block, pod),
// read again every two seconds; routes that appeared or changed in the last minute are marked.
// A node without the agent shows the kernel's table over SSH, marked read-only. The table draws
// only the rows in view (DataTable), so a node with 10,000 routes shows and filters at once.
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { NodeRoutes, RouteRow } from '../../../shared/api/cluster-ops-contract.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import { useSsh } from '../ssh/ssh-state.tsx';
import { DataTable, type Column } from '../components/DataTable.tsx';
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
const owner = (r: RouteRow) => r.owner?.text ?? (r.ginghams ? 'gingham' : '-');

/** `route -n`'s columns, and the owner; every column is searched by the filter and sorts. */
const columns: Column<RouteRow>[] = [
  { id: 'destination', header: 'Destination', width: 'minmax(10rem, 1.2fr)', cell: (r) => r.destination, text: (r) => r.destination, sort: (r) => r.destination },
  { id: 'gateway', header: 'Gateway', width: 'minmax(9rem, 1fr)', cell: (r) => r.gateway, text: (r) => r.gateway, sort: (r) => r.gateway },
  { id: 'genmask', header: 'Genmask', width: 'minmax(10rem, 1fr)', cell: (r) => r.genmask, text: (r) => r.genmask, sort: (r) => r.genmask },
  { id: 'flags', header: 'Flags', width: '4.5rem', cell: (r) => r.flags, text: (r) => r.flags, sort: (r) => r.flags },
  { id: 'metric', header: 'Metric', width: '4.5rem', cell: (r) => r.metric, text: (r) => String(r.metric), sort: (r) => Number(r.metric) },
  { id: 'iface', header: 'Iface', width: 'minmax(6rem, 0.8fr)', cell: (r) => r.iface, text: (r) => r.iface, sort: (r) => r.iface },
  { id: 'owner', header: 'Owner', width: 'minmax(12rem, 2fr)', cell: owner, text: owner, sort: owner },
];

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

  const routes = table?.routes;
  const rows = useMemo(() => routes ?? [], [routes]);
  const gingham = useCallback((r: RouteRow) => r.ginghams, []);
  const now = Date.now();
  const rowAttributes = (r: RouteRow) => {
    const changedAt = history.get(nodeId)?.get(key(r))?.changedAt ?? 0;
    return { className: changedAt > 0 && now - changedAt < recentMs ? 'changed' : undefined, 'data-destination': r.destination };
  };
  return (
    <section aria-labelledby="section-heading">
      <h1 id="section-heading" tabIndex={-1}>
        Routes
      </h1>
      <div className="toolbar">
        <NodePicker label="Node" value={nodeId} onChange={setNodeId} />
        {table && (table.readOnly ? <span className="badge read-only">read-only: kernel table over SSH</span> : <span className="badge live">live from the agent</span>)}
      </div>
      {table?.note && <p className="hint">{table.note}</p>}
      {error && <p role="alert" className="error">{error}</p>}
      {table && (
        <DataTable
          className="routes"
          caption={(shown, total) => `Kernel IP routing table of ${nodeName} (${shown} of ${total} routes)`}
          columns={columns}
          rows={rows}
          rowKey={key}
          rowAttributes={rowAttributes}
          filterLabel="Filter routes"
          filter={filter}
          onFilterChange={setFilter}
          filterPlaceholder="tunl0, 192.168., pool…"
          {...(ginghamOnly ? { where: gingham } : {})}
          rowHeight={31}
          toolbar={
            <label className="check">
              <input type="checkbox" checked={ginghamOnly} onChange={(e) => setGinghamOnly(e.target.checked)} />
              Gingham's routes only
            </label>
          }
        />
      )}
    </section>
  );
}
