// The cluster's nodes with their agent and BGP state, and the agent installer: pick nodes,
// install (or upgrade, or remove) on all of them at once, each with its own progress; a node left
// by a dropped connection says what it runs now and offers a retry. A node whose agent publishes
// its status (GinghamNodeStatus) is shown from the console's one watch of the cluster, live and
// without a request; only the others (no agent, an older agent, a stock Calico node) are read
// over SSH, once when they first appear and again on Refresh. Nothing here polls.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { InstallProgress } from '../../../shared/api/agent-install.ts';
import type { NodeOverview } from '../../../shared/api/cluster-ops-contract.ts';
import type { NodeStatusEntry } from '../../../shared/api/node-status-contract.ts';
import { messageOf, useClient } from '../api/client-context.ts';
import type { ConnectedCluster } from '../api/connected-cluster.ts';
import { DataTable, type Column } from '../components/DataTable.tsx';
import { WatchLine, statusColumns, type OtherCell, type StatusColumnId } from '../node-status/NodeStatusCells.tsx';
import { useNodeStatus } from '../node-status/node-status-state.tsx';
import { formatCidr, parseInterfaceAddress, subnetOf } from '../../../shared/net/cidr.ts';
import './cluster.css';

const healthWords: Record<NodeOverview['agent']['health'], string> = {
  running: 'Running',
  'not-answering': 'Installed, not answering',
  'not-installed': 'Not installed',
  'no-ssh': 'No SSH node',
  'ssh-disconnected': 'Not connected',
  'not-read': 'Reading over SSH…',
};

const nodeStateWords: Record<string, string> = {
  'new-agent-running': 'the new agent runs',
  'old-agent-running': 'the old agent still runs',
  'no-agent': 'no agent (as before)',
  'agent-stopped': 'agent installed but stopped',
  unknown: 'unknown: reconnect to see',
};

/** Calico's node annotation is the node's address with its prefix (10.240.1.11/24): the column shows the subnet it names. */
function subnetText(annotation: string): string {
  try {
    return formatCidr(subnetOf(parseInterfaceAddress(annotation)));
  } catch {
    return annotation;
  }
}

function bgpWords(bgp: NodeOverview['bgp']): string {
  if (bgp.state === 'running') return `${bgp.established ?? 0} of ${bgp.peers ?? 0} sessions up`;
  if (bgp.state === 'off') return `Off: ${bgp.reason ?? ''}`;
  return 'Unknown';
}

/** A row of the table: the node, what the last overview said of it, and its published status if any. */
interface AgentRow {
  name: string;
  sshNodeId: string | undefined;
  internalIp: string | undefined;
  subnet: string | undefined;
  entry: NodeStatusEntry | undefined;
  /** What SSH said, for a node without a published status; undefined until read. */
  ssh: NodeOverview | undefined;
}

function passOverSsh(node: NodeOverview): string {
  const pass = node.agent.lastPass;
  return pass ? `${pass.changes} changes${pass.failures > 0 ? `, ${pass.failures} kernel failures` : ''} (${pass.ms} ms)` : '—';
}

/** The status cells of a node read over SSH (no published status): what the agent's RPC or the node said. */
const sshCells: Partial<Record<StatusColumnId, OtherCell<AgentRow>>> = {
  agent: {
    cell: ({ ssh: node }) =>
      node ? (
        <>
          {healthWords[node.agent.health]}
          {node.agent.version && <span className="tag"> {node.agent.version}</span>}
          {node.agent.datastoreConnected === false && <span className="error"> (API server unreachable)</span>}
          {node.agent.health === 'running' && <span className="tag"> (over SSH: it publishes no status)</span>}
        </>
      ) : (
        healthWords['not-read']
      ),
    text: ({ ssh: node }) => healthWords[node?.agent.health ?? 'not-read'],
    attributes: ({ ssh: node }) => ({ className: node ? `agent-${node.agent.health}` : undefined, 'data-health': node?.agent.health ?? 'not-read', 'data-source': 'ssh' }),
  },
  bgp: { cell: ({ ssh: node }) => (node ? bgpWords(node.bgp) : null), text: ({ ssh: node }) => (node ? bgpWords(node.bgp) : '') },
  mode: { cell: ({ ssh: node }) => (node ? '—' : null) },
  pass: { cell: ({ ssh: node }) => (node ? passOverSsh(node) : null) },
  problems: { cell: ({ ssh: node }) => (node ? node.agent.message ? <p className="hint">{node.agent.message}</p> : '—' : null), text: ({ ssh: node }) => node?.agent.message ?? '' },
};

/** A row's data-* attributes: one function for every render, so that an update redraws only the rows it changed. */
const agentRowAttributes = (n: AgentRow) => ({ 'data-node': n.name, 'data-source': n.entry ? 'watch' : 'ssh' });

function ProgressCell({ progress, onRetry }: { progress: InstallProgress | undefined; onRetry: () => void }) {
  if (!progress) return null;
  const percent = progress.bytesTotal ? Math.round(((progress.bytesSent ?? 0) / progress.bytesTotal) * 100) : undefined;
  return (
    <div className={`install-progress phase-${progress.phase}`} data-phase={progress.phase} data-outcome={progress.outcome ?? ''}>
      <span className="phase">{progress.phase}</span>
      {progress.phase === 'uploading' && percent !== undefined && <progress max={100} value={percent} aria-label="upload">{percent}%</progress>}
      <span className="message">{progress.message}</span>
      {progress.nodeState && progress.phase === 'failed' && <span className="node-state">Node now: {nodeStateWords[progress.nodeState]}</span>}
      {progress.ms !== undefined && (progress.phase === 'done' || progress.phase === 'failed') && <span className="tag"> ({(progress.ms / 1000).toFixed(1)} s)</span>}
      {progress.phase === 'failed' && progress.retryable && (
        <button type="button" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function AgentPanel({ cluster }: { cluster: ConnectedCluster }) {
  const client = useClient();
  const { statuses, settled: decided, resync } = useNodeStatus();
  /** The cluster's nodes as the last overview listed them (addresses, subnet, SSH node), and what SSH said of those it read. */
  const [overview, setOverview] = useState<Map<string, NodeOverview> | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [progress, setProgress] = useState<Record<string, InstallProgress>>({});
  const [artifact, setArtifact] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  /** Nodes asked for over SSH since the last Refresh. */
  const asked = useRef(new Set<string>());
  const [generation, setGeneration] = useState(0);
  const latestGeneration = useRef(0);
  latestGeneration.current = generation;

  const names = overview ? [...overview.keys()] : cluster.nodes.map((n) => n.name);
  const needSsh = decided ? names.filter((n) => !statuses.has(n) && !asked.current.has(n)) : [];
  const needKey = needSsh.join(' ');

  useEffect(() => {
    if (!decided || (overview && needKey === '')) return;
    const sshFor = needKey === '' ? [] : needKey.split(' ');
    for (const name of sshFor) asked.current.add(name);
    // An answer counts unless a Refresh (or another cluster) came since; a later render must not drop it.
    const round = generation;
    client.request('cluster.overview', { context: cluster.context, sshFor }).then(
      (answer) => {
        if (round !== latestGeneration.current) return;
        setOverview((before) => {
          const next = new Map(before);
          for (const node of answer.nodes) if (!before?.has(node.name) || sshFor.includes(node.name)) next.set(node.name, node);
          return next;
        });
        setError(undefined);
      },
      (e: unknown) => round === latestGeneration.current && setError(messageOf(e)),
    );
    // `overview` is read, not followed: an answer must not start another round.
  }, [client, cluster.context, decided, needKey, generation]);

  /** Forgets what SSH said and reads it again; the watch sends its full state again and retries at once if it waits. */
  const refresh = useCallback(() => {
    asked.current.clear();
    setOverview(undefined);
    setGeneration((g) => g + 1);
    resync();
  }, [resync]);

  useEffect(() => {
    client
      .request('agent.artifact', {})
      .then((a) => setArtifact(`agent ${a.version} (${(a.bytes / 1e6).toFixed(0)} MB, sha256 ${a.sha256.slice(0, 12)}…)`))
      .catch((e: unknown) => setArtifact(`no agent build: ${messageOf(e)}`));
    return client.on('agent.installProgress', (p) => setProgress((all) => ({ ...all, [p.nodeId]: p })));
  }, [client]);

  // A row keeps its object while nothing of it changed, so that the table redraws (and searches
  // again) only the nodes an update touched.
  const kept = useRef(new Map<string, AgentRow>());
  const nodeKey = names.join(' ');
  const rows = useMemo(() => {
    const internal = new Map(cluster.nodes.map((n) => [n.name, n.addresses.find((a) => a.type === 'InternalIP')?.address]));
    const next = new Map<string, AgentRow>();
    const list = (nodeKey === '' ? [] : nodeKey.split(' ')).map((name) => {
      const known = overview?.get(name);
      const entry = statuses.get(name);
      const row: AgentRow = {
        name,
        sshNodeId: known?.sshNodeId,
        internalIp: known?.internalIp ?? internal.get(name),
        subnet: known?.subnet ?? entry?.status?.address,
        entry,
        ssh: known && known.agent.health !== 'not-read' ? known : undefined,
      };
      const before = kept.current.get(name);
      const same = before && (Object.keys(row) as Array<keyof AgentRow>).every((k) => before[k] === row[k]);
      next.set(name, same ? before : row);
      return same ? before : row;
    });
    kept.current = next;
    return list;
  }, [nodeKey, overview, statuses, cluster.nodes]);

  const run = async (operation: 'install' | 'uninstall', only?: string[]) => {
    const chosen = rows.filter((n) => n.sshNodeId && (only ? only.includes(n.sshNodeId) : selected.has(n.name)));
    if (chosen.length === 0) return;
    setBusy(true);
    try {
      if (operation === 'install') await client.request('agent.install', { context: cluster.context, nodes: chosen.map((n) => ({ nodeId: n.sshNodeId!, nodeName: n.name })) });
      else await client.request('agent.uninstall', { nodes: chosen.map((n) => ({ nodeId: n.sshNodeId! })) });
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
      refresh();
    }
  };

  const toggle = useCallback(
    (name: string) =>
      setSelected((s) => {
        const next = new Set(s);
        if (next.has(name)) next.delete(name);
        else next.add(name);
        return next;
      }),
    [],
  );
  // The columns read the latest `run` through a ref, so that they change only with the selection and the progress.
  const runRef = useRef(run);
  runRef.current = run;
  const columns = useMemo<Column<AgentRow>[]>(
    () => [
      {
        id: 'select',
        header: <span className="visually-hidden">Select</span>,
        width: '2.5rem',
        cell: (node) => <input type="checkbox" aria-label={`Select ${node.name}`} disabled={!node.sshNodeId} checked={selected.has(node.name)} onChange={() => toggle(node.name)} />,
      },
      { id: 'node', header: 'Node', width: 'minmax(7rem, 1fr)', rowHeader: true, cell: (n) => n.name, text: (n) => n.name, sort: (n) => n.name },
      { id: 'address', header: 'Address', width: '7.5rem', cell: (n) => n.internalIp ?? '—', text: (n) => n.internalIp ?? '', sort: (n) => n.internalIp ?? '' },
      { id: 'subnet', header: 'Subnet', width: '8.5rem', cell: (n) => (n.subnet ? subnetText(n.subnet) : '—'), text: (n) => (n.subnet ? subnetText(n.subnet) : ''), sort: (n) => (n.subnet ? subnetText(n.subnet) : '') },
      ...statusColumns<AgentRow>((n) => n.entry, sshCells),
      {
        id: 'install',
        header: 'Install',
        width: 'minmax(12rem, 1.2fr)',
        cell: (n) => n.sshNodeId && <ProgressCell progress={progress[n.sshNodeId]} onRetry={() => void runRef.current('install', [n.sshNodeId!])} />,
        text: (n) => (n.sshNodeId ? (progress[n.sshNodeId]?.phase ?? '') : ''),
      },
    ],
    [selected, progress, toggle],
  );

  const installable = rows.filter((n) => n.sshNodeId);
  const published = rows.filter((r) => r.entry).length;
  return (
    <section aria-labelledby="agents-heading" className="agent-panel">
      <h2 id="agents-heading">Agents</h2>
      <p className="hint">To install: {artifact ?? '…'}</p>
      <WatchLine published={published} of={rows.length} />
      {error && <p role="alert" className="error">{error}</p>}
      <div className="actions">
        <label className="check">
          <input
            type="checkbox"
            aria-label="Select all nodes"
            checked={installable.length > 0 && installable.every((n) => selected.has(n.name))}
            onChange={(e) => setSelected(e.target.checked ? new Set(installable.map((n) => n.name)) : new Set())}
          />
          All
        </label>
        <button type="button" className="primary" disabled={busy || selected.size === 0} onClick={() => void run('install')}>
          Install agent on selected
        </button>
        <button type="button" disabled={busy || selected.size === 0} onClick={() => void run('uninstall')}>
          Uninstall from selected
        </button>
        <button type="button" disabled={busy} onClick={refresh} title="Read the nodes without a published status over SSH again">
          Refresh
        </button>
      </div>
      <DataTable
        className="agents"
        caption={`Nodes of ${cluster.context}: agent and BGP`}
        columns={columns}
        rows={rows}
        rowKey={(n) => n.name}
        rowAttributes={agentRowAttributes}
        filterLabel="Filter nodes"
        filterPlaceholder="node, 10.240.1., Degraded, CrossSubnet…"
        rowHeight={55}
        tallRows
      />
    </section>
  );
}
