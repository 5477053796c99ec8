// A safe fix, asked first: the exact commands it runs on the node as root, run only on "Run it".
// The backend scans the node again and takes the fix from that scan (never from this page), runs
// it, and scans once more; the dialog then shows each command's exit status and output, whether
// the finding is gone, and what the node still shows.
import { useEffect, useRef, useState } from 'react';
import type { FixResult, ScanFinding } from '../../../shared/doctor/scan-result.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import { ColumnHeaders } from '../components/ColumnHeaders.tsx';
import { useElapsed } from './use-elapsed.ts';

export function FixDialog({ context, finding, onClose }: { context: string; finding: ScanFinding; onClose: (result?: FixResult) => void }) {
  const client = useClient();
  const dialog = useRef<HTMLDialogElement>(null);
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState<FixResult | undefined>();
  const [error, setError] = useState<string | undefined>();
  const elapsed = useElapsed(running);
  const commands = finding.fix?.commands ?? [];

  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal(); // modal: nothing else is clicked while the question is open
  }, []);

  const run = async () => {
    setRunning(true);
    setError(undefined);
    try {
      setResult(await client.request('doctor.fix', { context, id: finding.id }));
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    } finally {
      setRunning(false);
    }
  };

  const close = () => onClose(result);
  const others = result?.after.filter((f) => f.id !== finding.id) ?? [];

  return (
    <dialog
      ref={dialog}
      className="fix-dialog"
      aria-labelledby="fix-title"
      aria-describedby="fix-explanation"
      onCancel={(event) => {
        event.preventDefault(); // Escape: cancel before, close after; never while the fix runs
        if (!running) close();
      }}
    >
      <h2 id="fix-title">
        Fix <code>{finding.code}</code> on {finding.node}
      </h2>
      <p>{finding.message}</p>
      <p id="fix-explanation">
        {finding.fix?.description} <em>Run it</em> first scans {finding.node} again and runs the fix only if that scan still finds this; then these commands run on {finding.node} as root, and {finding.node} is scanned once more to check:
      </p>
      <pre className="commands" aria-label={`Commands to run on ${finding.node}`}>
        {commands.join('\n')}
      </pre>
      {running && (
        <p role="status" aria-live="polite">
          Scanning {finding.node}, running the fix, scanning again… {elapsed} s
        </p>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {result && (
        <div className="fix-result">
          <p role="status" className={result.verified ? 'fixed' : 'not-fixed'} data-verified={String(result.verified)}>
            {result.verified ? (
              <>
                <strong>Fixed.</strong> The scan after the fix no longer finds <code>{finding.code}</code> on {finding.node}.
              </>
            ) : (
              <>
                <strong>Not fixed.</strong> The scan after the fix still finds <code>{finding.code}</code> on {finding.node}: something puts it back, or the commands failed (below).
              </>
            )}
          </p>
          <table>
            <caption>Commands run on {finding.node}</caption>
            <ColumnHeaders columns={['Command', 'Exit status', 'Output']} />
            <tbody>
              {result.ran.map((r, i) => (
                <tr key={i} data-code={r.code}>
                  <td>
                    <code>{r.command}</code>
                  </td>
                  <td>{r.code}</td>
                  <td>{r.output.trim() ? <pre>{r.output.trim()}</pre> : <span className="hint">none</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p>
            {others.length === 0
              ? `${finding.node} after the fix: nothing else found.`
              : `${finding.node} after the fix still shows: ${others.map((f) => `${f.code} (${f.severity})`).join(', ')}.`}
          </p>
        </div>
      )}
      <div className="actions">
        {result ? (
          <button type="button" className="primary" onClick={close}>
            Close
          </button>
        ) : (
          <>
            <button type="button" onClick={close} disabled={running}>
              Cancel
            </button>
            <button type="button" className="primary" onClick={() => void run()} disabled={running || commands.length === 0}>
              {running ? 'Running…' : 'Run it'}
            </button>
          </>
        )}
      </div>
    </dialog>
  );
}
