// The pod-to-pod matrix: each pod's agent pings and GETs every other pod from the pod's own
// namespace. Refreshed on demand and every 15 s while the view is open, so that a change made
// elsewhere (src/dst checks, kubectl) can be watched turning cells green or red.
import type { ConnectedCluster } from '../api/connected-cluster.ts';
import { ConnectivityMatrix, useConnectivity } from './ConnectivityMatrix.tsx';
import './cluster.css';

export function ConnectivityPage({ cluster, active }: { cluster?: ConnectedCluster; active: boolean }) {
  const context = cluster?.context;
  const { matrix, error, running, probe } = useConnectivity(context, { everyMs: 15_000, enabled: active });

  return (
    <section aria-labelledby="section-heading">
      <h1 id="section-heading" tabIndex={-1}>
        Connectivity
      </h1>
      {!context && <p>Connect to a cluster first (Clusters).</p>}
      {context && (
        <div className="toolbar">
          <button type="button" onClick={() => void probe()} disabled={running}>
            {running ? 'Probing…' : 'Probe again'}
          </button>
          {matrix && <span className="hint">Probed in {(matrix.ms / 1000).toFixed(1)} s by the agents (ping and HTTP GET :80 from each pod's namespace).</span>}
        </div>
      )}
      {error && <p role="alert" className="error">{error}</p>}
      {matrix && <ConnectivityMatrix matrix={matrix} />}
    </section>
  );
}
