// Nodes: the connected cluster's nodes with their addresses, and the nodes reached by SSH, which
// can be added by hand (host, user, key) when no cluster is connected.
import { useCallback, useState, type FormEvent } from 'react';
import type { SshNode } from '../../../shared/api/console-contract.ts';
import { messageOf } from '../api/client-context.ts';
import type { ConnectedCluster } from '../api/connected-cluster.ts';
import { AgentPanel } from '../cluster/AgentPanel.tsx';
import { ClusterNodesTable } from '../components/ClusterNodesTable.tsx';
import { useSsh, type NodeConnection } from '../ssh/ssh-state.tsx';
import { ColumnHeaders } from '../components/ColumnHeaders.tsx';

function describe(connection: NodeConnection): string {
  switch (connection.state) {
    case 'idle':
      return 'Not connected';
    case 'connecting':
      return 'Connecting…';
    case 'connected':
      return 'Connected';
    case 'disconnected':
      return 'Disconnected';
    case 'failed':
      return 'Failed';
  }
}

function AddNodeForm({ prefill }: { prefill?: { name: string; host: string } }) {
  const ssh = useSsh();
  const [error, setError] = useState<string | undefined>();
  const [added, setAdded] = useState<string | undefined>();

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const text = (name: string) => {
      const value = String(data.get(name) ?? '').trim();
      return value === '' ? undefined : value;
    };
    const port = text('port');
    setError(undefined);
    try {
      const node = await ssh.add({
        host: text('host') ?? '',
        ...(text('name') ? { name: text('name') } : {}),
        ...(text('user') ? { user: text('user') } : {}),
        ...(port ? { port: Number(port) } : {}),
        ...(text('identityFile') ? { identityFile: text('identityFile') } : {}),
      });
      setAdded(`Added ${node.name}.`);
      form.reset();
    } catch (e) {
      setError(messageOf(e));
    }
  };

  return (
    <form aria-labelledby="add-node-heading" onSubmit={(e) => void submit(e)} key={prefill?.host}>
      <h2 id="add-node-heading">Add a node</h2>
      <p className="hint">Host may also be an alias from your ~/.ssh/config; its HostName, User, Port, IdentityFile and ProxyJump apply.</p>
      <div className="fields">
        <label>
          Host
          <input name="host" required defaultValue={prefill?.host} autoComplete="off" spellCheck={false} />
        </label>
        <label>
          User
          <input name="user" placeholder="as in ~/.ssh/config, else yours" autoComplete="off" spellCheck={false} />
        </label>
        <label>
          Port
          <input name="port" type="number" min={1} max={65535} placeholder="22" />
        </label>
        <label>
          Private key file
          <input name="identityFile" placeholder="~/.ssh/id_ed25519, or leave empty for ssh-agent" autoComplete="off" spellCheck={false} />
        </label>
        <label>
          Display name
          <input name="name" defaultValue={prefill?.name} autoComplete="off" />
        </label>
      </div>
      <button type="submit" className="primary">
        Add node
      </button>
      {error && <p role="alert" className="error">{error}</p>}
      <p role="status">{added}</p>
    </form>
  );
}

function NodeRow({ node, onOpenTerminal }: { node: SshNode; onOpenTerminal: (node: SshNode) => void }) {
  const ssh = useSsh();
  const connection = ssh.connection(node.id);
  const address = `${node.user ? `${node.user}@` : ''}${node.host}${node.port ? `:${node.port}` : ''}`;
  const openTerminal = async () => {
    if (connection.state === 'connected' || (await ssh.connect(node))) onOpenTerminal(node);
  };
  return (
    <tr>
      <th scope="row">{node.name}</th>
      <td>{address}</td>
      <td className="path">{node.identityFile ?? 'ssh-agent / defaults'}</td>
      <td>
        <span>{describe(connection)}</span>
        {connection.state === 'disconnected' && <p role="alert" className="error">{connection.reason}</p>}
        {connection.state === 'failed' && (
          <div role="alert" className="error" aria-label={`Connection to ${node.name} failed`}>
            <p>{connection.message}</p>
            {connection.details?.presented && (
              <dl>
                <dt>Presented key</dt>
                <dd>{connection.details.presented}</dd>
                <dt>Key on record</dt>
                <dd>{connection.details.recorded}</dd>
              </dl>
            )}
          </div>
        )}
      </td>
      <td>
        <div className="actions">
        {connection.state === 'connected' ? (
          <button type="button" aria-label={`Disconnect from ${node.name}`} onClick={() => void ssh.disconnect(node.id)}>
            Disconnect
          </button>
        ) : (
          <button type="button" aria-label={`Connect to ${node.name}`} disabled={connection.state === 'connecting'} onClick={() => void ssh.connect(node)}>
            Connect
          </button>
        )}
        <button type="button" aria-label={`Open a terminal on ${node.name}`} disabled={connection.state === 'connecting'} onClick={() => void openTerminal()}>
          Terminal
        </button>
        <button type="button" aria-label={`Remove ${node.name}`} onClick={() => void ssh.remove(node.id)}>
          Remove
        </button>
        </div>
      </td>
    </tr>
  );
}

export function NodesPage({ cluster, onOpenTerminal }: { cluster?: ConnectedCluster; onOpenTerminal: (node: SshNode) => void }) {
  const ssh = useSsh();
  const [prefill, setPrefill] = useState<{ name: string; host: string } | undefined>();
  // Stable, so that the cluster's node table keeps its columns (and what it has measured) across renders.
  const useForSsh = useCallback((name: string, host: string) => setPrefill({ name, host }), []);
  return (
    <section aria-labelledby="section-heading">
      <h1 id="section-heading" tabIndex={-1}>
        Nodes
      </h1>
      {/* The agents and their BGP sessions first: on the lab that is what a newcomer comes to see. */}
      {cluster && <AgentPanel key={cluster.context} cluster={cluster} />}
      {cluster ? (
        <ClusterNodesTable cluster={cluster} onUseForSsh={useForSsh} />
      ) : (
        <p>No cluster is connected: connect one under Clusters to list its nodes, or add nodes by hand below.</p>
      )}
      {ssh.loadError && <p role="alert" className="error">{ssh.loadError}</p>}
      {ssh.nodes.length > 0 ? (
        <table>
          <caption>SSH nodes</caption>
          <ColumnHeaders columns={['Node', 'Address', 'Key', 'Connection', 'Actions']} />
          <tbody>
            {ssh.nodes.map((node) => (
              <NodeRow key={node.id} node={node} onOpenTerminal={onOpenTerminal} />
            ))}
          </tbody>
        </table>
      ) : (
        <p>No SSH nodes yet.</p>
      )}
      <AddNodeForm {...(prefill ? { prefill } : {})} />
    </section>
  );
}
