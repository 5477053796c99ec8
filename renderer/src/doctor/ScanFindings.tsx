// A scan's answer, per node: first every node read (its speaker, what was found on it), then for
// each node with findings a table of them, each with its severity, its code and what the code
// means (docs/doctor.md), the evidence, and the fix; a safe fix has its Fix… button.
import type { ScanFinding, ScanResult, ScanSeverity } from '../../../shared/doctor/scan-result.ts';
import { ColumnHeaders } from '../components/ColumnHeaders.tsx';
import { scanCodeMeanings } from './code-meanings.ts';
import { InlineCode } from './InlineCode.tsx';

const severities: readonly ScanSeverity[] = ['error', 'warning', 'info'];
const headingId = (node: string) => `scan-node-${node.replace(/[^\w-]/g, '_')}`;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function counts(findings: readonly ScanFinding[]): string {
  return severities
    .map((s) => [s, findings.filter((f) => f.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => plural(n, s === 'info' ? 'note' : s))
    .join(', ');
}

/** The nodes in the order an admin reads them: the cluster-wide findings first, then by name. */
function groups(result: ScanResult): { node: string; findings: ScanFinding[] }[] {
  const names = [...new Set([...result.findings.map((f) => f.node), ...result.nodes.map((n) => n.name)])];
  names.sort((a, b) => (a === '(cluster)' ? -1 : b === '(cluster)' ? 1 : a.localeCompare(b)));
  return names.map((node) => ({ node, findings: result.findings.filter((f) => f.node === node) }));
}

function Summary({ result }: { result: ScanResult }) {
  const read = result.nodes.filter((n) => n.read).map((n) => n.name).sort();
  const at = new Date(result.collectedAt);
  const took = `${result.ms !== undefined ? ` in ${(result.ms / 1000).toFixed(1)} s` : ''}${Number.isNaN(at.getTime()) ? '' : ` at ${at.toLocaleTimeString()}`}`;
  if (result.findings.length === 0) {
    return (
      <p role="status" className="scan-summary scan-healthy" data-findings="0">
        <strong>Nothing found.</strong> {plural(read.length, 'node')} scanned{took} ({read.join(', ')}): every route, device, BGP session, MTU and offload is as the plan wants it.
      </p>
    );
  }
  const nodesWith = new Set(result.findings.map((f) => f.node));
  const worst = result.findings.some((f) => f.severity === 'error') ? 'error' : result.findings.some((f) => f.severity === 'warning') ? 'warning' : 'info';
  return (
    <p role="status" className={`scan-summary scan-${worst}`} data-findings={result.findings.length}>
      <strong>{plural(result.findings.length, 'finding')}</strong> ({counts(result.findings)}) on {plural(nodesWith.size, 'node')}; {plural(read.length, 'node')} scanned{took}.
    </p>
  );
}

function NodesRead({ result }: { result: ScanResult }) {
  return (
    <table className="scan-nodes">
      <caption>Nodes scanned</caption>
      <ColumnHeaders columns={['Node', 'Read', 'BGP speaker', 'Found']} />
      <tbody>
        {groups(result).map(({ node, findings }) => {
          const read = result.nodes.find((n) => n.name === node);
          return (
            <tr key={node} data-node={node}>
              <th scope="row">{node}</th>
              <td>{read ? (read.read ? 'yes' : 'no') : '–'}</td>
              <td>{read?.speaker === 'agent' ? 'Gingham agent' : read?.speaker === 'bird' ? 'BIRD (calico-node)' : read?.speaker === 'none' ? 'none' : '–'}</td>
              <td>{findings.length === 0 ? 'nothing' : counts(findings)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function FindingRow({ finding, onFix }: { finding: ScanFinding; onFix: (finding: ScanFinding) => void }) {
  const meaning = scanCodeMeanings.get(finding.code);
  return (
    <tr className={`finding severity-${finding.severity}`} data-id={finding.id} data-code={finding.code} data-severity={finding.severity}>
      <td>
        <span className={`severity severity-${finding.severity}`}>{finding.severity}</span>
      </td>
      <td className="finding-code">
        <code>{finding.code}</code>
        {meaning && (
          <details>
            <summary>What it means</summary>
            <p>
              <InlineCode text={meaning} />
            </p>
            <p className="hint">docs/doctor.md, Scan codes</p>
          </details>
        )}
      </td>
      <td>
        <p className="finding-message">{finding.message}</p>
        <details>
          <summary>Evidence ({finding.evidence.length})</summary>
          <ul className="evidence">
            {finding.evidence.map((line, i) => (
              <li key={i}>
                <code>{line}</code>
              </li>
            ))}
          </ul>
        </details>
      </td>
      <td className="finding-fix">
        {finding.fix ? <p>{finding.fix.description}</p> : <p className="hint">No fix given.</p>}
        {finding.fix && finding.fix.commands.length > 0 && <pre className="commands">{finding.fix.commands.join('\n')}</pre>}
        {finding.fix?.safe && finding.fix.commands.length > 0 ? (
          <button type="button" onClick={() => onFix(finding)} aria-label={`Fix ${finding.code} on ${finding.node}`}>
            Fix…
          </button>
        ) : (
          finding.fix && <p className="hint">Advice only: the console does not run this.</p>
        )}
      </td>
    </tr>
  );
}

export function ScanFindings({ result, onFix }: { result: ScanResult; onFix: (finding: ScanFinding) => void }) {
  return (
    <div className="scan-result">
      <Summary result={result} />
      <NodesRead result={result} />
      {groups(result)
        .filter((g) => g.findings.length > 0)
        .map(({ node, findings }) => (
          <section key={node} className="scan-node" aria-labelledby={headingId(node)} data-node={node}>
            <h3 id={headingId(node)}>
              {node} <span className="hint">{counts(findings)}</span>
            </h3>
            <table className="findings">
              <caption className="visually-hidden">Findings on {node}</caption>
              <ColumnHeaders columns={['Severity', 'Code', 'Finding and evidence', 'Fix']} />
              <tbody>
                {findings.map((f) => (
                  <FindingRow key={f.id} finding={f} onFix={onFix} />
                ))}
              </tbody>
            </table>
          </section>
        ))}
      {result.gaps.length > 0 && (
        <ul className="gaps">
          {result.gaps.map((g) => (
            <li key={g}>Not read: {g}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
