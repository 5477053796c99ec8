// The doctor: "why can't pod A reach pod B?". A source and a destination (pods by name or
// address, an optional TCP port), then the path hop by hop as the kernels will forward it, each
// hop with the evidence it was judged on and its verdict, and one final verdict with its code.
// `#/doctor?from=pod-1&to=pod-3` opens a trace directly (the connectivity matrix links its cells here).
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { NodePairTable } from '../../../shared/doctor/pairs.ts';
import type { TraceHop, TraceResult } from '../../../shared/doctor/trace-result.ts';
import type { ConnectedCluster } from '../App.tsx';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import './doctor.css';

const statusText = { ok: 'ok', warn: 'warning', fail: 'fails', unknown: 'unknown' } as const;

function hashQuery(): URLSearchParams {
  const hash = window.location.hash;
  const at = hash.indexOf('?');
  return new URLSearchParams(at < 0 ? '' : hash.slice(at + 1));
}

function Hop({ hop, index }: { hop: TraceHop; index: number }) {
  return (
    <li className={`hop hop-${hop.verdict.status}`} data-kind={hop.kind} data-status={hop.verdict.status} data-code={hop.verdict.code}>
      <div className="hop-head">
        <span className="hop-index">{index + 1}</span>
        <span className="hop-title">{hop.title}</span>
        <span className={`hop-status status-${hop.verdict.status}`}>{statusText[hop.verdict.status]}</span>
        <code className="hop-code">{hop.verdict.code}</code>
      </div>
      <p className="hop-message">{hop.verdict.message}</p>
      <details open={hop.verdict.status !== 'ok'}>
        <summary>Evidence ({hop.evidence.length})</summary>
        <ul className="evidence">
          {hop.evidence.map((line, i) => (
            <li key={i}>
              <code>{line}</code>
            </li>
          ))}
        </ul>
      </details>
    </li>
  );
}

const encapText = { ipip: 'IP-in-IP', vxlan: 'VXLAN', direct: 'direct', local: 'local' } as const;

/** Every ordered pair of nodes: encapsulated or direct, and why (the pool's modes, the subnets compared). */
function NodePairs({ table }: { table: NodePairTable }) {
  const asymmetric = table.pairs.filter((p) => p.asymmetric);
  return (
    <div className="node-pairs">
      <table aria-label="Node pairs">
        <thead>
          <tr>
            <th>From</th>
            <th>To</th>
            <th>Pool</th>
            <th>Encapsulation</th>
            <th>Subnets</th>
            <th>Why</th>
          </tr>
        </thead>
        <tbody>
          {table.pairs.map((p) => (
            <tr key={`${p.pool} ${p.from} ${p.to}`} data-encapsulation={p.encapsulation} className={p.asymmetric ? 'asymmetric' : undefined}>
              <td>{p.from}</td>
              <td>{p.to}</td>
              <td>{p.pool}</td>
              <td className={`encap encap-${p.encapsulation}`}>{encapText[p.encapsulation]}</td>
              <td>
                {p.crossesSubnet === undefined ? 'unknown' : p.crossesSubnet ? 'crossed' : 'same'}
                {p.asymmetric ? ' · asymmetric' : ''}
              </td>
              <td className="why">{p.why}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {asymmetric.length > 0 && (
        <p role="alert" className="warning">
          The way back is decided differently for {asymmetric.map((p) => `${p.from}→${p.to}`).join(', ')}: a node registered with a /32 address counts every other node as another subnet (calico#2375). Register it with its subnet&apos;s prefix length.
        </p>
      )}
      {table.gaps.map((g) => (
        <p key={g} className="hint">
          Not read: {g}
        </p>
      ))}
    </div>
  );
}

export function DoctorPage({ cluster, active }: { cluster?: ConnectedCluster; active: boolean }) {
  const client = useClient();
  const context = cluster?.context;
  const [source, setSource] = useState(() => hashQuery().get('from') ?? '');
  const [destination, setDestination] = useState(() => hashQuery().get('to') ?? '');
  const [port, setPort] = useState(() => hashQuery().get('port') ?? '');
  const [probe, setProbe] = useState(false);
  const [result, setResult] = useState<TraceResult | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [running, setRunning] = useState(false);
  const [pairs, setPairs] = useState<NodePairTable | undefined>();
  const showPairs = async () => {
    if (!context) return;
    setError(undefined);
    try {
      setPairs(await client.request('doctor.pairs', { context }));
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    }
  };

  const trace = useCallback(
    async (from: string, to: string, portText: string, live = false) => {
      if (!context || !from.trim() || !to.trim()) return;
      setRunning(true);
      setError(undefined);
      try {
        const portNumber = portText.trim() ? Number(portText) : undefined;
        setResult(await client.request('doctor.trace', { context, source: from.trim(), destination: to.trim(), ...(portNumber ? { port: portNumber } : {}), ...(live ? { probe: true } : {}) }));
      } catch (e) {
        setResult(undefined);
        if (!isTransportLoss(e)) setError(messageOf(e));
      } finally {
        setRunning(false);
      }
    },
    [client, context],
  );

  // A link from the matrix (or a bookmark) traces at once.
  useEffect(() => {
    if (!active) return;
    const query = hashQuery();
    const from = query.get('from');
    const to = query.get('to');
    if (from && to) {
      setSource(from);
      setDestination(to);
      setPort(query.get('port') ?? '');
      void trace(from, to, query.get('port') ?? '');
    }
  }, [active, context, trace]);

  /** The other direction: the destination becomes the source (a port applies to the new destination, so it is cleared). */
  const reverse = () => {
    const [from, to] = [destination, source];
    setSource(from);
    setDestination(to);
    setPort('');
    void trace(from, to, '', probe);
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void trace(source, destination, port, probe);
  };

  return (
    <section aria-labelledby="section-heading" className="doctor">
      <h1 id="section-heading" tabIndex={-1}>
        Doctor
      </h1>
      <p className="hint">Why can&apos;t a pod reach another? The path as the kernels will forward it, read over SSH from each node and from the cluster&apos;s API.</p>
      {!context && <p>Connect to a cluster first (Clusters).</p>}
      {context && (
        <form className="trace-form" onSubmit={submit} aria-label="Trace">
          <label>
            Source <input name="source" value={source} onChange={(e) => setSource(e.target.value)} placeholder="pod-1 or namespace/pod or 192.168.0.1" required />
          </label>
          <label>
            Destination <input name="destination" value={destination} onChange={(e) => setDestination(e.target.value)} placeholder="pod-3 or an address" required />
          </label>
          <label>
            TCP port <input name="port" value={port} onChange={(e) => setPort(e.target.value)} inputMode="numeric" pattern="[0-9]*" size={6} placeholder="optional" />
          </label>
          <label className="inline">
            <input type="checkbox" name="probe" checked={probe} onChange={(e) => setProbe(e.target.checked)} /> Probe live (ping with a capture at each hop, about 4 s)
          </label>
          <button type="submit" disabled={running}>
            {running ? 'Tracing…' : 'Trace'}
          </button>
          <button type="button" disabled={running || !source.trim() || !destination.trim()} onClick={reverse} title="Trace from the destination back to the source">
            Reverse
          </button>
          <button type="button" onClick={() => void showPairs()} title="For every pair of nodes: encapsulated or direct, and why">
            Node pairs
          </button>
        </form>
      )}
      {pairs && <NodePairs table={pairs} />}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {result && (
        <div className="trace-result">
          <div className={`verdict ${result.verdict.ok ? 'verdict-ok' : 'verdict-fail'}`} role="status" data-ok={String(result.verdict.ok)} data-code={result.verdict.code}>
            <strong>{result.verdict.ok ? 'Reachable' : 'Not reachable'}</strong> <code>{result.verdict.code}</code>
            <p>{result.verdict.message}</p>
          </div>
          <p className="hint">
            {result.source.pod ?? result.source.text} ({result.source.ip}
            {result.source.node ? ` on ${result.source.node}` : ''}) → {result.destination.pod ?? result.destination.text} ({result.destination.ip}
            {result.destination.node ? ` on ${result.destination.node}` : ''}){result.port ? `, TCP ${result.port}` : ''}
            {result.encapsulation ? ` · ${result.encapsulation}` : ''}
            {result.ms !== undefined ? ` · traced in ${(result.ms / 1000).toFixed(2)} s` : ''}
          </p>
          <ol className="hops">
            {result.hops.map((h, i) => (
              <Hop key={i} hop={h} index={i} />
            ))}
          </ol>
          {result.gaps.length > 0 && (
            <ul className="gaps">
              {result.gaps.map((g) => (
                <li key={g}>Not read: {g}</li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
