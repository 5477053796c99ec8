// BGP peers. Every node's agent, sessions (established of total), mode, last pass and problems from
// the agents' published status (the console's one watch of the cluster), live and with no request;
// then one node's sessions as `calicoctl node status` shows them: from its published status when
// its agent publishes one (the prefix counts and BIRD's info words, which the status does not
// carry, read over SSH on demand), in VXLAN-only mode that BGP is off. A node without a published
// status (no agent, a stock Calico node with BIRD) is read over SSH, read-only, again every 3 s
// while it is shown: nothing in the API says when its sessions change.
import { useEffect, useState } from 'react';
import type { NodePeers } from '../../../shared/api/cluster-ops-contract.ts';
import type { NodeStatusEntry } from '../../../shared/api/node-status-contract.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import type { ConnectedCluster } from '../api/connected-cluster.ts';
import { NodePicker } from '../components/NodePicker.tsx';
import { ColumnHeaders } from '../components/ColumnHeaders.tsx';
import { NodeStatusCells, WatchLine, statusColumns } from '../node-status/NodeStatusCells.tsx';
import { useNodeStatus } from '../node-status/node-status-state.tsx';
import { clockTime, statusFor } from '../node-status/status-words.ts';
import { useSsh } from '../ssh/ssh-state.tsx';
import './cluster.css';

const sshRefreshMs = 3000;

function ClusterSessions({ cluster }: { cluster: ConnectedCluster }) {
  const { statuses } = useNodeStatus();
  const entries = [...statuses.values()].sort((a, b) => a.node.localeCompare(b.node));
  return (
    <>
      <WatchLine published={entries.length} of={Math.max(cluster.nodes.length, entries.length)} />
      {entries.length > 0 && (
        <table className="node-sessions">
          <caption>BGP of every node of {cluster.context}, as its agent publishes it</caption>
          <ColumnHeaders columns={['Node', ...statusColumns, 'AS']} />
          <tbody>
            {entries.map((entry) => (
              <tr key={entry.node} data-node={entry.node}>
                <th scope="row">{entry.node}</th>
                <NodeStatusCells entry={entry} />
                <td>{entry.status?.bgp.asn ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
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
      <table className="peers">
        <caption>IPv4 BGP status</caption>
        <ColumnHeaders columns={['Peer address', 'Peer type', 'State', 'Since', 'Info', 'Received', 'Advertised', 'Last error']} />
        <tbody>
          {status.bgp.sessions.map((p) => {
            const more = byAddress.get(p.address);
            return (
              <tr key={p.address} data-peer={p.address}>
                <td>{p.address}</td>
                <td>{p.type}</td>
                <td>{p.state}</td>
                <td>{p.since ? clockTime(p.since) : '—'}</td>
                <td>{more?.info ?? '—'}</td>
                <td>{more?.received ?? '—'}</td>
                <td>{more?.advertised ?? '—'}</td>
                <td>{p.lastError || '—'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
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
          <table className="peers">
            <caption>IPv4 BGP status</caption>
            <ColumnHeaders columns={['Peer address', 'Peer type', 'State', 'Since', 'Info', 'Received', 'Advertised', 'Last error']} />
            <tbody>
              {peers.peers.map((p) => (
                <tr key={p.address} data-peer={p.address}>
                  <td>{p.address}</td>
                  <td>{p.type}</td>
                  <td>{p.state}</td>
                  <td>{p.since}</td>
                  <td>{p.info}</td>
                  <td>{p.received ?? '—'}</td>
                  <td>{p.advertised ?? '—'}</td>
                  <td>{p.lastError || '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
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

  return (
    <section aria-labelledby="section-heading">
      <h1 id="section-heading" tabIndex={-1}>
        BGP peers
      </h1>
      {cluster && <ClusterSessions cluster={cluster} />}
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
