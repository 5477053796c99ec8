// The trace: a source and a destination (pods by name or address, an optional TCP port), then the
// path hop by hop (TraceHops), the reverse direction at a click, and the node-pair table.
// `#/doctor?from=pod-1&to=pod-3` traces at once (the connectivity matrix links its cells here).
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { NodePairTable } from '../../../shared/doctor/pairs.ts';
import type { TraceResult } from '../../../shared/doctor/trace-result.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import { NodePairsTable } from './NodePairsTable.tsx';
import { TraceHops } from './TraceHops.tsx';

function hashQuery(): URLSearchParams {
  const hash = window.location.hash;
  const at = hash.indexOf('?');
  return new URLSearchParams(at < 0 ? '' : hash.slice(at + 1));
}

export function TraceSection({ context, active }: { context: string; active: boolean }) {
  const client = useClient();
  const [source, setSource] = useState(() => hashQuery().get('from') ?? '');
  const [destination, setDestination] = useState(() => hashQuery().get('to') ?? '');
  const [port, setPort] = useState(() => hashQuery().get('port') ?? '');
  const [probe, setProbe] = useState(false);
  const [result, setResult] = useState<TraceResult | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [running, setRunning] = useState(false);
  const [pairs, setPairs] = useState<NodePairTable | undefined>();

  const showPairs = async () => {
    setError(undefined);
    try {
      setPairs(await client.request('doctor.pairs', { context }));
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    }
  };

  const trace = useCallback(
    async (from: string, to: string, portText: string, live = false) => {
      if (!from.trim() || !to.trim()) return;
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
    <>
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
        <button type="submit" className="primary" disabled={running}>
          {running ? 'Tracing…' : 'Trace'}
        </button>
        <button type="button" disabled={running || !source.trim() || !destination.trim()} onClick={reverse} title="Trace from the destination back to the source">
          Reverse
        </button>
        <button type="button" onClick={() => void showPairs()} title="For every pair of nodes: encapsulated or direct, and why">
          Node pairs
        </button>
      </form>
      {pairs && <NodePairsTable table={pairs} />}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {result && <TraceHops result={result} />}
    </>
  );
}
