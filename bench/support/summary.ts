// Summaries the benchmarks print: medians, ratios, the machine's load.
import { loadavg } from 'node:os';

export function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  return v.length === 0 ? NaN : v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
}

/** x/y with two decimals, or '-' when either is missing. */
export function ratio(x: number, y: number): string {
  return Number.isFinite(x / y) ? (x / y).toFixed(2) : '-';
}

/** The 1-, 5- and 15-minute load averages, as uptime prints them. */
export function loadText(): string {
  return loadavg().map((l) => l.toFixed(2)).join(', ');
}
