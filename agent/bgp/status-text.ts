// `gingham-agent status`: the same text `calicoctl node status` prints (calicoctl renders BIRD's
// protocol table with Go's tablewriter: headers centred, cells left-aligned, one space of padding).
import type { SpeakerStatus } from './speaker.ts';

function pad(text: string, width: number, centre: boolean): string {
  const gap = width - text.length;
  if (!centre) return text + ' '.repeat(gap);
  const left = Math.floor(gap / 2);
  return ' '.repeat(left) + text + ' '.repeat(gap - left);
}

export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+';
  const row = (cells: string[], centre: boolean) => '| ' + cells.map((c, i) => pad(c, widths[i]!, centre)).join(' | ') + ' |';
  return [line, row(headers, true), line, ...rows.map((r) => row(r, false)), line].join('\n');
}

/** BIRD's "since" column: the time of day when today, else the date. */
export function formatSince(iso: string, now = new Date()): string {
  const d = new Date(iso);
  const two = (n: number) => String(n).padStart(2, '0');
  if (d.toDateString() === now.toDateString()) return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
}

export function renderStatus(status: SpeakerStatus, now = new Date()): string {
  const rows = status.peers.map((p) => [p.port === 179 ? p.address : `${p.address}:${p.port}`, p.type, p.state, formatSince(p.since, now), p.info]);
  const v4 = rows.length === 0 ? 'No IPv4 peers found.' : renderTable(['PEER ADDRESS', 'PEER TYPE', 'STATE', 'SINCE', 'INFO'], rows);
  return `Calico process is running.\n\nIPv4 BGP status\n${v4}\n\nIPv6 BGP status\nNo IPv6 peers found.\n`;
}
