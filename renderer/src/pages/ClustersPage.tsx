// Clusters: the contexts of the user's kubeconfig (merged as kubectl merges KUBECONFIG) and the
// connect flow. Connecting reads the server version and the nodes; any failure is said in words.
import { useCallback, useEffect, useState } from 'react';
import type { RequestResult } from '../../../shared/api/console-contract.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import type { ConnectedCluster } from '../api/connected-cluster.ts';
import { ClusterNodesTable } from '../components/ClusterNodesTable.tsx';
import { ColumnHeaders } from '../components/ColumnHeaders.tsx';

type Attempt = { context: string; state: 'connecting' } | { context: string; state: 'failed'; message: string };

export function ClustersPage({ cluster, onConnected }: { cluster?: ConnectedCluster; onConnected: (cluster: ConnectedCluster) => void }) {
  const client = useClient();
  const [list, setList] = useState<RequestResult<'contexts.list'> | undefined>();
  const [listError, setListError] = useState<string | undefined>();
  const [attempt, setAttempt] = useState<Attempt | undefined>();

  const load = useCallback(() => {
    setListError(undefined);
    client.request('contexts.list', {}).then(setList, (e: unknown) => setListError(isTransportLoss(e) ? undefined : messageOf(e)));
  }, [client]);
  useEffect(load, [load]);

  const connect = async (context: string) => {
    setAttempt({ context, state: 'connecting' });
    try {
      onConnected(await client.request('contexts.connect', { context }));
      setAttempt(undefined);
    } catch (error) {
      setAttempt({ context, state: 'failed', message: messageOf(error) });
    }
  };

  const problems = list?.sources.filter((s) => s.state === 'error') ?? [];
  return (
    <section aria-labelledby="section-heading">
      <h1 id="section-heading" tabIndex={-1}>
        Clusters
      </h1>
      {listError && <p role="alert" className="error">{listError}</p>}
      {problems.map((p) => (
        <p role="alert" className="error" key={p.path}>
          Skipped a kubeconfig file: {p.message}
        </p>
      ))}
      {list && list.contexts.length === 0 && (
        <p>
          No kubeconfig contexts found in {list.sources.map((s) => s.path).join(', ')}. Set KUBECONFIG or create ~/.kube/config, then reload.
        </p>
      )}
      {list && list.contexts.length > 0 && (
        <table>
          <caption>Kubeconfig contexts</caption>
          <ColumnHeaders columns={['Context', 'Cluster', 'Server', 'User', 'File', 'Actions']} />
          <tbody>
            {list.contexts.map((c) => (
              <tr key={c.name} aria-current={cluster?.context === c.name ? 'true' : undefined}>
                <th scope="row">
                  {c.name}
                  {list.currentContext === c.name && <span className="tag"> (current)</span>}
                </th>
                <td>{c.cluster}</td>
                <td className="path">{c.server ?? 'no cluster entry'}</td>
                <td>{c.user}</td>
                <td className="path">{c.source}</td>
                <td>
                  <button type="button" onClick={() => void connect(c.name)} disabled={attempt?.state === 'connecting'} aria-label={`Connect to ${c.name}`}>
                    Connect
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p>
        <button type="button" onClick={load}>
          Reload contexts
        </button>
      </p>
      <div role="status" aria-live="polite">
        {attempt?.state === 'connecting' && <p>Connecting to {attempt.context}…</p>}
        {cluster && !attempt && (
          <p>
            Connected to {cluster.context} ({cluster.server}), Kubernetes {cluster.serverVersion}.
          </p>
        )}
      </div>
      {attempt?.state === 'failed' && (
        <div role="alert" className="error" aria-label={`Cannot connect to ${attempt.context}`}>
          <p>
            <strong>Cannot connect to {attempt.context}.</strong> {attempt.message}
          </p>
        </div>
      )}
      {cluster && <ClusterNodesTable cluster={cluster} />}
    </section>
  );
}
