// The fault report's table: one row per measured fault, as the fault tests print it and
// bench/faults.ts writes it (also into docs/reliability.md): fault, mode, pings sent and lost,
// the longest outage, TCP streams broken, pod routes deleted, time to recover, state left behind.
import type { FaultMeasure } from './observe.ts';

export function faultRow(m: FaultMeasure): string[] {
  const deleted = Object.values(m.deletedRoutes).reduce((n, d) => n + d.length, 0);
  return [
    m.fault,
    m.mode,
    String(m.traffic.sent),
    String(m.traffic.lost),
    m.traffic.longestOutageMs ? `${m.traffic.longestOutageMs} ms` : '-',
    `${m.traffic.brokenStreams} of ${m.traffic.pairs.length}`,
    String(deleted),
    `${(m.recoverMs / 1000).toFixed(1)} s`,
    m.leftBehind.length ? m.leftBehind.join('; ') : 'none',
  ];
}

export const faultColumns = ['fault', 'mode', 'pings sent', 'lost', 'longest outage', 'TCP broken', 'pod routes deleted', 'time to recover', 'state left behind'];

/** A Markdown table (it reads as plain text too). */
export function faultTable(measures: FaultMeasure[]): string {
  const rows = [faultColumns, ...measures.map(faultRow)];
  const widths = faultColumns.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}
