// One node's BGP peers as `calicoctl node status` shows them, plus the prefixes received and
// advertised and the last error; in VXLAN-only mode it says that BGP is off and why. A node
// without the agent shows BIRD's peers over SSH, read-only.
import { useEffect, useState } from 'react';
import type { NodePeers } from '../../../shared/api/cluster-ops-contract.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import { NodePicker } from '../components/NodePicker.tsx';
import { ColumnHeaders } from '../components/ColumnHeaders.tsx';
import './cluster.css';

export function PeersPage({ active }: { active: boolean }) {
  const client = useClient();
  const [nodeId, setNodeId] = useState('');
  const [peers, setPeers] = useState<NodePeers | undefined>();
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    setPeers(undefined);
    if (!nodeId || !active) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
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
      if (!stopped) timer = setTimeout(() => void read(), 3000);
    };
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [client, nodeId, active]);

  return (
    <section aria-labelledby="section-heading">
      <h1 id="section-heading" tabIndex={-1}>
        BGP peers
      </h1>
      <div className="toolbar">
        <NodePicker label="Node" value={nodeId} onChange={setNodeId} />
        {peers?.readOnly && <span className="badge read-only">read-only: {peers.source === 'bird' ? "BIRD's socket over SSH" : 'no agent'}</span>}
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      {peers && !peers.running && (
        <p role="status" className="bgp-off">
          BGP is off on this node. {peers.reason}
        </p>
      )}
      {peers && peers.running && (
        <>
          <p className="hint">{peers.source === 'agent' ? `Calico process is running (Gingham agent${peers.asn ? `, AS ${peers.asn}` : ''}).` : peers.reason}</p>
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
    </section>
  );
}
