// The scan: every node (or the ones chosen) read at once, the plan against the kernel, BGP, MTU,
// offloads and the node's health (doctor.scan); the findings per node (ScanFindings); a safe fix
// through its dialog (FixDialog), after which the node's findings are those of the scan the fix
// ended with.
import { useEffect, useRef, useState } from 'react';
import type { FixResult, ScanFinding, ScanResult } from '../../../shared/doctor/scan-result.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import { FixDialog } from './FixDialog.tsx';
import { NodeChoice } from './NodeChoice.tsx';
import { ScanFindings } from './ScanFindings.tsx';
import { useElapsed } from './use-elapsed.ts';

export function ScanSection({ context, nodes }: { context: string; nodes: readonly string[] }) {
  const client = useClient();
  const [chosen, setChosen] = useState<string[]>(() => [...nodes]);
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState<ScanResult | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [fixing, setFixing] = useState<ScanFinding | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const elapsed = useElapsed(running);
  const all = chosen.length === nodes.length;
  const noticeRef = useRef<HTMLParagraphElement>(null);

  // After a fix the dialog's button may be gone with its finding: focus goes to what the rescan says.
  useEffect(() => {
    if (notice) noticeRef.current?.focus();
  }, [notice]);

  const scan = async () => {
    setRunning(true);
    setError(undefined);
    setNotice(undefined);
    try {
      // Every node: no list, so that a node that joined since the connect is read too.
      setResult(await client.request('doctor.scan', { context, ...(all ? {} : { nodes: chosen }) }));
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    } finally {
      setRunning(false);
    }
  };

  const fixed = (fix: FixResult | undefined) => {
    setFixing(undefined);
    if (!fix || !result) return;
    const node = fix.finding.node;
    setResult({ ...result, findings: [...result.findings.filter((f) => f.node !== node), ...fix.after] });
    setNotice(
      `${node} was scanned again after the fix: ${fix.verified ? `${fix.finding.code} is gone` : `${fix.finding.code} is still there`}; ${fix.after.length === 0 ? 'nothing found on it now' : `${fix.after.length} ${fix.after.length === 1 ? 'finding' : 'findings'} on it now`}.`,
    );
  };

  return (
    <>
      <p className="hint">
        Each node&apos;s routes, tunnel devices, VXLAN entries, BGP sessions, MTUs and offloads against what the agent&apos;s planner wants from the cluster&apos;s objects, and the node&apos;s health. Read-only: a fix runs only when you confirm it.
      </p>
      <form
        className="scan-form"
        aria-label="Scan"
        onSubmit={(event) => {
          event.preventDefault();
          void scan();
        }}
      >
        <NodeChoice legend="Nodes to scan" nodes={nodes} chosen={chosen} onChange={setChosen} disabled={running} />
        <button type="submit" className="primary" disabled={running || chosen.length === 0}>
          {running ? 'Scanning…' : all ? 'Scan all nodes' : `Scan ${chosen.length === 1 ? chosen[0] : `${chosen.length} nodes`}`}
        </button>
      </form>
      <div aria-busy={running} aria-live="polite" className="scan-output">
        {running && (
          <p role="status" className="busy">
            Scanning {all ? `all ${nodes.length} nodes` : chosen.join(', ')}… {elapsed} s (each node is read over SSH at once; the BGP sessions twice, a second apart)
          </p>
        )}
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        {notice && (
          <p role="status" className="notice" ref={noticeRef} tabIndex={-1}>
            {notice}
          </p>
        )}
        {result && !running && <ScanFindings result={result} onFix={setFixing} />}
      </div>
      {fixing && <FixDialog context={context} finding={fixing} onClose={fixed} />}
    </>
  );
}
