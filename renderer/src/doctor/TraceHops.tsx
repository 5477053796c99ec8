// A trace's answer: the final verdict with its code, then each hop (source pod to the way back)
// with its verdict and the evidence it was judged on, and what could not be read.
import type { TraceHop, TraceResult } from '../../../shared/doctor/trace-result.ts';
import { reasonCodeMeanings } from './code-meanings.ts';

const statusText = { ok: 'ok', warn: 'warning', fail: 'fails', unknown: 'unknown' } as const;

function Hop({ hop, index }: { hop: TraceHop; index: number }) {
  return (
    <li className={`hop hop-${hop.verdict.status}`} data-kind={hop.kind} data-status={hop.verdict.status} data-code={hop.verdict.code}>
      <div className="hop-head">
        <span className="hop-index">{index + 1}</span>
        <span className="hop-title">{hop.title}</span>
        <span className={`hop-status status-${hop.verdict.status}`}>{statusText[hop.verdict.status]}</span>
        <code className="hop-code" title={reasonCodeMeanings.get(hop.verdict.code)}>
          {hop.verdict.code}
        </code>
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

export function TraceHops({ result }: { result: TraceResult }) {
  return (
    <div className="trace-result">
      <div className={`verdict ${result.verdict.ok ? 'verdict-ok' : 'verdict-fail'}`} role="status" data-ok={String(result.verdict.ok)} data-code={result.verdict.code}>
        <strong>{result.verdict.ok ? 'Reachable' : 'Not reachable'}</strong> <code title={reasonCodeMeanings.get(result.verdict.code)}>{result.verdict.code}</code>
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
  );
}
