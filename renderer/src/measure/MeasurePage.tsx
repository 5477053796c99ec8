// Measure: what the pod network's path costs on this cluster. Two pods on two nodes; the agents
// measure TCP throughput (1 and 4 streams), request/response latency and the path MTU from the
// pods' own namespaces, then the same two nodes host to host as the reference. Every run is kept
// per cluster, so the charts set modes (and days) side by side.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { MeasureRun } from '../../../shared/api/measure-contract.ts';
import type { ConnectedCluster } from '../api/connected-cluster.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import './measure.css';

const seconds = 3;
const gbit = (run: MeasureRun['pods'], streams: number) => run.streams.find((s) => s.streams === streams)?.gbitPerSecond ?? 0;
const time = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
/** A run's label on the charts: its mode, its pair and when. */
const label = (run: MeasureRun) => `${run.mode} · ${run.source.pod}→${run.destination.pod} · ${time(run.at)}`;

function ThroughputChart({ runs }: { runs: MeasureRun[] }) {
  const data = runs.map((r) => ({ run: label(r), 'pods, 1 stream': gbit(r.pods, 1), 'pods, 4 streams': gbit(r.pods, 4), 'hosts, 1 stream': gbit(r.hosts, 1) }));
  return (
    <figure className="chart" aria-label="Throughput per run">
      <figcaption>TCP throughput (Gbit/s): pod to pod, and the same two nodes host to host</figcaption>
      <ResponsiveContainer width="100%" height={260}>
        <BarChart data={data} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="run" tick={{ fontSize: 11 }} interval={0} />
          <YAxis unit=" G" width={72} />
          <Tooltip formatter={(v) => `${Number(v).toFixed(2)} Gbit/s`} />
          <Legend />
          <Bar dataKey="pods, 1 stream" fill="#1a73e8" isAnimationActive={false} />
          <Bar dataKey="pods, 4 streams" fill="#0b8043" isAnimationActive={false} />
          <Bar dataKey="hosts, 1 stream" fill="#bdc1c6" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </figure>
  );
}

function LatencyChart({ runs }: { runs: MeasureRun[] }) {
  const data = runs.map((r) => ({ run: label(r), 'pods p50': r.pods.requestResponse.p50Us, 'pods p99': r.pods.requestResponse.p99Us, 'hosts p99': r.hosts.requestResponse.p99Us }));
  return (
    <figure className="chart" aria-label="Latency per run">
      <figcaption>Request/response round trip (µs, one transaction at a time, as netperf&apos;s TCP_RR)</figcaption>
      <ResponsiveContainer width="100%" height={220}>
        <BarChart data={data} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="run" tick={{ fontSize: 11 }} interval={0} />
          <YAxis unit=" µs" width={72} />
          <Tooltip formatter={(v) => `${Number(v).toFixed(0)} µs`} />
          <Legend />
          <Bar dataKey="pods p50" fill="#1a73e8" isAnimationActive={false} />
          <Bar dataKey="pods p99" fill="#d93025" isAnimationActive={false} />
          <Bar dataKey="hosts p99" fill="#bdc1c6" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </figure>
  );
}

function RunsTable({ runs }: { runs: MeasureRun[] }) {
  return (
    <table className="runs" aria-label="Measurements">
      <thead>
        <tr>
          <th>When</th>
          <th>Mode</th>
          <th>Pods</th>
          <th>1 stream</th>
          <th>4 streams</th>
          <th>Hosts, 1 stream</th>
          <th>Of the hosts&apos;</th>
          <th>Transactions/s</th>
          <th>p50 / p99</th>
          <th>Path MTU pods / hosts</th>
        </tr>
      </thead>
      <tbody>
        {[...runs].reverse().map((r) => (
          <tr key={r.at + r.source.pod + r.destination.pod}>
            <td>{new Date(r.at).toLocaleString()}</td>
            <td>{r.mode}</td>
            <td>
              {r.source.pod} ({r.source.node}) → {r.destination.pod} ({r.destination.node})
            </td>
            <td className="number">{gbit(r.pods, 1).toFixed(2)} Gbit/s</td>
            <td className="number">{gbit(r.pods, 4).toFixed(2)} Gbit/s</td>
            <td className="number">{gbit(r.hosts, 1).toFixed(2)} Gbit/s</td>
            <td className="number">{gbit(r.hosts, 1) > 0 ? `${Math.round((100 * gbit(r.pods, 1)) / gbit(r.hosts, 1))}%` : '-'}</td>
            <td className="number">{Math.round(r.pods.requestResponse.perSecond)}</td>
            <td className="number">
              {r.pods.requestResponse.p50Us.toFixed(0)} / {r.pods.requestResponse.p99Us.toFixed(0)} µs
            </td>
            <td className="number">
              {r.pods.pathMtu.mtu} / {r.hosts.pathMtu.mtu}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function MeasurePage({ cluster, active }: { cluster?: ConnectedCluster; active: boolean }) {
  const client = useClient();
  const context = cluster?.context;
  const [source, setSource] = useState('');
  const [destination, setDestination] = useState('');
  const [runs, setRuns] = useState<MeasureRun[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [running, setRunning] = useState(false);

  const load = useCallback(async () => {
    if (!context) return;
    try {
      setRuns((await client.request('measure.history', { context })).runs);
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    }
  }, [client, context]);

  useEffect(() => {
    if (active) void load();
  }, [active, load]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!context) return;
    setRunning(true);
    setError(undefined);
    try {
      const run = await client.request('measure.run', { context, source: source.trim(), destination: destination.trim(), seconds });
      setRuns((before) => [...before, run]);
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    } finally {
      setRunning(false);
    }
  };

  return (
    <section aria-labelledby="section-heading" className="measure">
      <h1 id="section-heading" tabIndex={-1}>
        Measure
      </h1>
      <p className="hint">
        What the pod network&apos;s path costs here: the agents measure from the pods&apos; own namespaces (nothing is installed in pods), then the same two nodes host to host as
        the reference. Runs are kept for this cluster; switch the pool&apos;s mode (IP pools) and measure again to set the modes side by side.
      </p>
      {!context && <p>Connect to a cluster first (Clusters).</p>}
      {context && (
        <form className="measure-form" onSubmit={(e) => void submit(e)} aria-label="Measure">
          <label>
            Source pod <input name="source" value={source} onChange={(e) => setSource(e.target.value)} placeholder="pod-1 or namespace/pod" required />
          </label>
          <label>
            Destination pod <input name="destination" value={destination} onChange={(e) => setDestination(e.target.value)} placeholder="a pod on another node" required />
          </label>
          <button type="submit" disabled={running}>
            {running ? `Measuring… (about ${seconds * 8 + 10} s)` : 'Measure'}
          </button>
        </form>
      )}
      {running && (
        <p role="status" className="hint">
          1 and 4 TCP streams, {seconds} s each, then request/response and the path MTU; pods first, then the nodes host to host.
        </p>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {runs.length > 0 && (
        <>
          <ThroughputChart runs={runs.slice(-8)} />
          <LatencyChart runs={runs.slice(-8)} />
          <RunsTable runs={runs} />
        </>
      )}
      {context && runs.length === 0 && !running && <p className="hint">No measurement on this cluster yet.</p>}
    </section>
  );
}
