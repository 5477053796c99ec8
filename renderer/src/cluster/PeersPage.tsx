// BGP peers. Every node's agent, sessions (established of total), mode, last pass and problems from
// the agents' published status (the console's one watch of the cluster), live and with no request;
// then one node's sessions as `calicoctl node status` shows them: from its published status when
// its agent publishes one (the prefix counts and BIRD's info words, which the status does not
// carry, read over SSH on demand), in VXLAN-only mode that BGP is off. A node without a published
// status (no agent, a stock Calico node with BIRD) is read over SSH, read-only, again every 3 s
// while it is shown: nothing in the API says when its sessions change. Each session shows both
// ends' route reflector roles, from the reflectors panel's advice (ReflectorsPanel.tsx).
import { useMemo, useEffect, useRef, useState } from 'react';
import type { NodePeers } from '../../../shared/api/cluster-ops-contract.ts';
import type { NodeStatusEntry } from '../../../shared/api/node-status-contract.ts';
import type { BgpRole } from '../../../shared/api/reflectors-contract.ts';
import { listedSessionsMax } from '../../../shared/model/node-agent-status.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import type { ConnectedCluster } from '../api/connected-cluster.ts';
import { NodePicker } from '../components/NodePicker.tsx';
import { DataTable, type Column } from '../components/DataTable.tsx';
import { WatchLine, statusColumns } from '../node-status/NodeStatusCells.tsx';
import { useNodeStatus } from '../node-status/node-status-state.tsx';
import { clockTime, statusFor } from '../node-status/status-words.ts';
import { useSsh } from '../ssh/ssh-state.tsx';
import { ReflectorsPanel } from './ReflectorsPanel.tsx';
import './cluster.css';

const sshRefreshMs = 3000;

const byNode = (entry: NodeStatusEntry) => entry.node;
const nodeColumns: Column<NodeStatusEntry>[] = [
  { id: 'node', header: 'Node', width: 'minmax(8rem, 1fr)', rowHeader: true, cell: byNode, text: byNode, sort: byNode },
  ...statusColumns<NodeStatusEntry>((entry) => entry),
  { id: 'asn', header: 'AS', width: '5.5rem', cell: (e) => e.status?.bgp.asn ?? '—', text: (e) => String(e.status?.bgp.asn ?? ''), sort: (e) => e.status?.bgp.asn ?? 0 },
];

/** One BGP session as one node's agent lists it, with the peer's node when the address is one. */
interface SessionRow {
  key: string;
  node: string;
  address: string;
  peerNode: string | undefined;
  type: string;
  state: string;
  since: string | undefined;
  lastError: string | undefined;
}

const sessionColumns: Column<SessionRow>[] = [
  { id: 'node', header: 'Node', width: 'minmax(8rem, 1fr)', rowHeader: true, cell: (r) => r.node, text: (r) => r.node, sort: (r) => r.node },
  { id: 'peer', header: 'Peer address', width: '9rem', cell: (r) => r.address, text: (r) => r.address, sort: (r) => r.address },
  { id: 'peer-node', header: 'Peer node', width: 'minmax(8rem, 1fr)', cell: (r) => r.peerNode ?? '—', text: (r) => r.peerNode ?? '', sort: (r) => r.peerNode ?? '' },
  { id: 'type', header: 'Peer type', width: '11rem', cell: (r) => r.type, text: (r) => r.type, sort: (r) => r.type },
  { id: 'state', header: 'State', width: '7.5rem', cell: (r) => r.state, text: (r) => r.state, sort: (r) => r.state, className: (r) => (r.state === 'Established' ? undefined : 'error') },
  { id: 'since', header: 'Since', width: '6.5rem', cell: (r) => (r.since ? clockTime(r.since) : '—'), sort: (r) => r.since ?? '' },
  { id: 'error', header: 'Last error', width: 'minmax(10rem, 2fr)', cell: (r) => r.lastError || '—', text: (r) => r.lastError ?? '', sort: (r) => r.lastError ?? '' },
];

// Each table's row keys and data-* attributes: one function for every render, so that an update
// redraws only the rows it changed.
const nodeRowAttributes = (e: NodeStatusEntry) => ({ 'data-node': e.node });
const sessionKey = (r: SessionRow) => r.key;
const sessionRowAttributes = (r: SessionRow) => ({ 'data-node': r.node, 'data-peer': r.address });

/** The session columns with each end's route reflector role (reflector, client, mesh) beside its node. */
function withRoles(roles: Map<string, BgpRole>): Column<SessionRow>[] {
  const role = (node: string | undefined) => (node ? roles.get(node) : undefined) ?? '';
  const column = (id: string, header: string, of: (r: SessionRow) => string | undefined): Column<SessionRow> => ({
    id, header, width: '6.5rem',
    cell: (r) => (role(of(r)) ? <span className={`badge role-${role(of(r))}`}>{role(of(r))}</span> : '—'),
    text: (r) => role(of(r)), sort: (r) => role(of(r)),
  });
  const [node, peer, peerNode, ...rest] = sessionColumns;
  return [node!, column('role', 'Role', (r) => r.node), peer!, peerNode!, column('peer-role', 'Peer role', (r) => r.peerNode), ...rest];
}

/** Each status's session rows, kept while its entry is the same object: an update of one node rebuilds only its rows. */
const sessionRowsOf = new WeakMap<NodeStatusEntry, { nodeAt: Map<string, string>; rows: SessionRow[] }>();

const sessionFields = ['key', 'node', 'address', 'peerNode', 'type', 'state', 'since', 'lastError'] as const;
const sameRows = (a: readonly SessionRow[], b: readonly SessionRow[]) => a.length === b.length && a.every((row, i) => sessionFields.every((f) => row[f] === b[i]![f]));

/**
 * A node's session rows; `before` (its rows from the last update) when they say the same. Most
 * updates (a heartbeat, a kernel change) leave a node's sessions as they were: the list of every
 * session then stays the same array, and the 10,000-row table does nothing.
 */
function sessionRows(entry: NodeStatusEntry, nodeAt: Map<string, string>, before: SessionRow[] | undefined): SessionRow[] {
  const kept = sessionRowsOf.get(entry);
  if (kept && kept.nodeAt === nodeAt) return kept.rows;
  const built = (entry.status?.bgp.sessions ?? []).map(
    (s): SessionRow => ({ key: `${entry.node} ${s.address}`, node: entry.node, address: s.address, peerNode: nodeAt.get(s.address), type: s.type, state: s.state, since: s.since, lastError: s.lastError }),
  );
  const rows = before && sameRows(before, built) ? before : built;
  sessionRowsOf.set(entry, { nodeAt, rows });
  return rows;
}

// One collator for every sort: localeCompare() with options builds one per call, and the nodes are
// sorted again with each status update (a fifth of the page's script while it streamed at 500 nodes).
const byName = new Intl.Collator('en', { numeric: true });

function ClusterSessions({ cluster, roles }: { cluster: ConnectedCluster; roles: Map<string, BgpRole> }) {
  const { statuses } = useNodeStatus();
  const entries = useMemo(() => [...statuses.values()].sort((a, b) => byName.compare(a.node, b.node)), [statuses]);
  // A peer's address is a node's when a status (Calico's address annotation) or the node's InternalIP says so.
  const addresses = entries.map((e) => e.status?.address ?? '').join(' ');
  const nodeAt = useMemo(() => {
    const map = new Map<string, string>();
    for (const node of cluster.nodes) for (const a of node.addresses) if (a.type === 'InternalIP') map.set(a.address, node.name);
    for (const [i, address] of addresses.split(' ').entries()) if (address) map.set(address.split('/')[0]!, entries[i]!.node);
    return map;
    // `entries` is read through `addresses`: the map (and so every session row) changes only when an address does.
  }, [addresses, cluster.nodes]);
  // The rows of each node and the list of them all, from the last update: kept while nothing in them changed.
  const last = useRef<{ byNode: Map<string, SessionRow[]>; all: SessionRow[] }>({ byNode: new Map(), all: [] });
  const sessions = useMemo(() => {
    const byNode = new Map(entries.map((entry) => [entry.node, sessionRows(entry, nodeAt, last.current.byNode.get(entry.node))]));
    const all = [...byNode.values()].flat();
    const before = last.current.all;
    last.current = { byNode, all: all.length === before.length && all.every((row, i) => row === before[i]) ? before : all };
    return last.current.all;
  }, [entries, nodeAt]);
  const columns = useMemo(() => withRoles(roles), [roles]);
  const partly = entries.filter((e) => e.status?.bgp.listed === 'not-established').length;
  const counted = entries.reduce((n, e) => n + (e.status?.bgp.total ?? 0), 0);
  return (
    <>
      <WatchLine published={entries.length} of={Math.max(cluster.nodes.length, entries.length)} />
      {entries.length > 0 && (
        <>
          <DataTable
            className="node-sessions"
            caption={`BGP of every node of ${cluster.context}, as its agent publishes it`}
            columns={nodeColumns}
            rows={entries}
            rowKey={byNode}
            rowAttributes={nodeRowAttributes}
            filterLabel="Filter nodes"
            filterPlaceholder="node, Degraded, CrossSubnet…"
            maxHeight="45vh"
            rowHeight={55}
            tallRows
          />
          <h2>Sessions of every node</h2>
          <p className="hint">
            {sessions.length} sessions listed of the {counted} the agents count.
            {partly > 0 && ` An agent with more than ${listedSessionsMax} sessions lists only those not established (${partly} of ${entries.length} nodes do): the rest are counted above, not listed.`}
          </p>
          <DataTable
            className="peers all-sessions"
            caption={(shown, total) => `BGP sessions of every node of ${cluster.context} (${shown} of ${total})`}
            columns={columns}
            rows={sessions}
            rowKey={sessionKey}
            rowAttributes={sessionRowAttributes}
            filterLabel="Filter sessions"
            filterPlaceholder="node, address, Active, error…"
            maxHeight="45vh"
          />
        </>
      )}
    </>
  );
}

/** One session of one node, as `calicoctl node status` shows it, with the counts when read. */
interface PeerRow {
  address: string;
  type: string;
  state: string;
  since: string;
  info: string;
  received?: number | undefined;
  advertised?: number | undefined;
  lastError?: string | undefined;
}

const text = (key: keyof PeerRow) => (r: PeerRow) => String(r[key] ?? '');
const peerColumns: Column<PeerRow>[] = [
  { id: 'address', header: 'Peer address', width: '9rem', cell: (r) => r.address, text: text('address'), sort: text('address') },
  { id: 'type', header: 'Peer type', width: '11rem', cell: (r) => r.type, text: text('type'), sort: text('type') },
  { id: 'state', header: 'State', width: '7.5rem', cell: (r) => r.state, text: text('state'), sort: text('state') },
  { id: 'since', header: 'Since', width: '6.5rem', cell: (r) => r.since, sort: text('since') },
  { id: 'info', header: 'Info', width: 'minmax(7rem, 1fr)', cell: (r) => r.info, text: text('info'), sort: text('info') },
  { id: 'received', header: 'Received', width: '6rem', cell: (r) => r.received ?? '—', sort: (r) => r.received ?? -1 },
  { id: 'advertised', header: 'Advertised', width: '6.5rem', cell: (r) => r.advertised ?? '—', sort: (r) => r.advertised ?? -1 },
  { id: 'error', header: 'Last error', width: 'minmax(10rem, 2fr)', cell: (r) => r.lastError || '—', text: text('lastError'), sort: text('lastError') },
];

const peerKey = (r: PeerRow) => r.address;
const peerRowAttributes = (r: PeerRow) => ({ 'data-peer': r.address });

function PeerTable({ peers }: { peers: PeerRow[] }) {
  return <DataTable className="peers" caption="IPv4 BGP status" columns={peerColumns} rows={peers} rowKey={peerKey} rowAttributes={peerRowAttributes} filterLabel="Filter peers" maxHeight="45vh" />;
}

/** One node's sessions from its published status, with the prefix counts read over SSH when asked. */
function PublishedSessions({ entry, nodeId }: { entry: NodeStatusEntry; nodeId: string }) {
  const client = useClient();
  const [detail, setDetail] = useState<{ peers: NodePeers; at: string } | undefined>();
  const [reading, setReading] = useState(false);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => setDetail(undefined), [nodeId]);
  const status = entry.status;
  if (!status) return <p className="error">The node's published status cannot be read: {entry.invalid}</p>;
  if (!status.bgp.running) {
    return (
      <p role="status" className="bgp-off">
        BGP is off on this node. Its agent runs no BGP speaker: its pools ({status.pools.map((p) => `${p.name} ${p.mode}`).join(', ') || 'none'}) need no BGP sessions (VXLAN carries the pods' traffic to the other nodes' blocks, which the agent knows from IPAM).
      </p>
    );
  }
  const readDetail = async () => {
    setReading(true);
    try {
      setDetail({ peers: await client.request('node.peers', { nodeId }), at: new Date().toISOString() });
      setError(undefined);
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    } finally {
      setReading(false);
    }
  };
  const byAddress = new Map((detail?.peers.peers ?? []).map((p) => [p.address, p]));
  return (
    <>
      <p className="hint">
        <span className="badge live">live from the agent's published status</span> Calico process is running: Gingham agent {status.agentVersion}
        {status.bgp.asn ? `, AS ${status.bgp.asn}` : ''}; {status.bgp.established} of {status.bgp.total} sessions established.
        {status.bgp.listed === 'not-established' && ` The status lists only the sessions that are not established (${status.bgp.sessions.length} shown).`}
      </p>
      <div className="toolbar">
        <button type="button" onClick={() => void readDetail()} disabled={reading}>
          {reading ? 'Reading over SSH…' : detail ? 'Read prefix counts again' : 'Read prefix counts over SSH'}
        </button>
        {detail && <span className="hint">Received, advertised and info as the agent said at {clockTime(detail.at)}.</span>}
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      <PeerTable
        peers={status.bgp.sessions.map((p) => {
          const more = byAddress.get(p.address);
          return { address: p.address, type: p.type, state: p.state, since: p.since ? clockTime(p.since) : '—', info: more?.info ?? '—', received: more?.received, advertised: more?.advertised, lastError: p.lastError };
        })}
      />
    </>
  );
}

/** One node's peers read over SSH (no published status): the agent's RPC, else BIRD's socket. */
function SshPeers({ nodeId }: { nodeId: string }) {
  const client = useClient();
  const [peers, setPeers] = useState<NodePeers | undefined>();
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    setPeers(undefined);
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // This poll stays: a node without a published status has no watch to follow (BIRD's sessions
    // are not in the API), and it runs only for the one node shown, only while it is shown.
    const read = async () => {
      try {
        const next = await client.request('node.peers', { nodeId });
        if (!stopped) {
          setPeers(next);
          setError(undefined);
        }
      } catch (e) {
        if (!stopped && !isTransportLoss(e)) setError(messageOf(e));
      }
      if (!stopped) timer = setTimeout(() => void read(), sshRefreshMs);
    };
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [client, nodeId]);

  return (
    <>
      {peers?.readOnly && <span className="badge read-only">read-only: {peers.source === 'bird' ? "BIRD's socket over SSH" : 'no agent'}</span>}
      {error && <p role="alert" className="error">{error}</p>}
      {peers && !peers.running && (
        <p role="status" className="bgp-off">
          BGP is off on this node. {peers.reason}
        </p>
      )}
      {peers && peers.running && (
        <>
          <p className="hint">{peers.source === 'agent' ? `Calico process is running (Gingham agent${peers.asn ? `, AS ${peers.asn}` : ''}; it publishes no status, so it is read over SSH).` : peers.reason}</p>
          {peers.leftOut && (
            <ul className="error" aria-label="BGPPeers left out">
              {peers.leftOut.map((l) => (
                <li key={l.peer}>
                  BGPPeer {l.peer} is left out: {l.reason}
                </li>
              ))}
            </ul>
          )}
          <PeerTable peers={peers.peers.map((p) => ({ address: p.address, type: p.type, state: p.state, since: p.since, info: p.info, received: p.received, advertised: p.advertised, lastError: p.lastError }))} />
        </>
      )}
    </>
  );
}

export function PeersPage({ active, cluster }: { active: boolean; cluster?: ConnectedCluster }) {
  const [nodeId, setNodeId] = useState('');
  const ssh = useSsh();
  const { statuses, settled } = useNodeStatus();
  const node = ssh.nodes.find((n) => n.id === nodeId);
  const entry = node ? statusFor(statuses, node.name, node.host, cluster?.nodes ?? []) : undefined;
  const [roles, setRoles] = useState<Map<string, BgpRole>>(() => new Map());

  return (
    <section aria-labelledby="section-heading">
      <h1 id="section-heading" tabIndex={-1}>
        BGP peers
      </h1>
      {cluster && <ClusterSessions cluster={cluster} roles={roles} />}
      {cluster && <ReflectorsPanel context={cluster.context} onRoles={setRoles} />}
      <h2>One node's sessions</h2>
      <div className="toolbar">
        <NodePicker label="Node" value={nodeId} onChange={setNodeId} />
      </div>
      {active && nodeId && entry && <PublishedSessions entry={entry} nodeId={nodeId} />}
      {/* Until the watch has listed the cluster, a node's missing status may only be not yet read. */}
      {active && nodeId && !entry && settled && <SshPeers nodeId={nodeId} />}
    </section>
  );
}
