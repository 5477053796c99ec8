// The diagnostics bundle for a ticket (doctor.bundle): the nodes to collect from (every node by
// default; the backend adds one healthy node to compare with when some are left out), an optional
// trace to include, then what was collected and redacted, and the archive (BundleContents).
import { useState } from 'react';
import type { BundleResult } from '../../../shared/doctor/bundle-contents.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import { BundleContents } from './BundleContents.tsx';
import { NodeChoice } from './NodeChoice.tsx';
import { useElapsed } from './use-elapsed.ts';

export function BundleSection({ context, nodes }: { context: string; nodes: readonly string[] }) {
  const client = useClient();
  const [chosen, setChosen] = useState<string[]>(() => [...nodes]);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [running, setRunning] = useState(false);
  const [bundle, setBundle] = useState<BundleResult | undefined>();
  const [error, setError] = useState<string | undefined>();
  const elapsed = useElapsed(running);
  const halfTrace = (from.trim() === '') !== (to.trim() === '');

  const make = async () => {
    setRunning(true);
    setError(undefined);
    try {
      const trace = from.trim() && to.trim() ? { trace: { source: from.trim(), destination: to.trim() } } : {};
      setBundle(await client.request('doctor.bundle', { context, nodes: chosen, ...trace }));
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    } finally {
      setRunning(false);
    }
  };

  return (
    <>
      <p className="hint">
        One .tar.gz for a ticket: the doctor&apos;s scan (and a trace), each node&apos;s routes, links, addresses, neighbours, FDB, rules, nftables, sysctls, offloads, the agent&apos;s or BIRD&apos;s BGP state and log tail, and Calico&apos;s resources from the API; secrets redacted.
      </p>
      <form
        className="bundle-form"
        aria-label="Diagnostics bundle"
        onSubmit={(event) => {
          event.preventDefault();
          void make();
        }}
      >
        <NodeChoice legend="Nodes to collect from" nodes={nodes} chosen={chosen} onChange={setChosen} disabled={running} />
        <fieldset className="bundle-trace" disabled={running}>
          <legend>Include a trace (optional)</legend>
          <label>
            Trace from <input name="trace-from" value={from} onChange={(e) => setFrom(e.target.value)} placeholder="pod-1" />
          </label>
          <label>
            Trace to <input name="trace-to" value={to} onChange={(e) => setTo(e.target.value)} placeholder="pod-3 or an address" />
          </label>
        </fieldset>
        <button type="submit" className="primary" disabled={running || chosen.length === 0 || halfTrace}>
          {running ? 'Collecting…' : 'Make bundle'}
        </button>
        {halfTrace && <p className="hint">A trace needs both ends, or neither.</p>}
      </form>
      <div aria-busy={running} aria-live="polite" className="bundle-output">
        {running && (
          <p role="status" className="busy">
            Collecting from {chosen.join(', ')}… {elapsed} s (the scan first, then every node&apos;s tables, BGP and logs over SSH)
          </p>
        )}
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        {bundle && !running && <BundleContents bundle={bundle} />}
      </div>
    </>
  );
}
