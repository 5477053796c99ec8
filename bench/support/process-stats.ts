// What a benchmarked process used, read from /proc: peak RSS and CPU time. A process that has
// exited reads as 0 (take the figures before stopping it).
import { readFile } from 'node:fs/promises';

/** Peak resident set size (VmHWM) in MiB. */
export async function peakRssMb(pid: number | undefined): Promise<number> {
  if (!pid) return 0;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Resident set size now (VmRSS) in MiB. */
export async function rssMb(pid: number | undefined): Promise<number> {
  if (!pid) return 0;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** User + system CPU seconds so far (clock ticks of 1/100 s on Linux). */
export async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (!pid) return 0;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100;
}

/**
 * Where the resident pages are now (/proc/PID/smaps_rollup), in MiB: anonymous (the heap, array
 * buffers, malloc) and file-backed (the executable's and libraries' pages it has touched: a single
 * executable of 95 MB maps Node and the bundle from its file, which the kernel can drop and read
 * again, and which other processes running the same file share). VmRSS is their sum.
 */
export async function residentSplitMb(pid: number | undefined): Promise<{ anon: number; file: number } | undefined> {
  if (!pid) return undefined;
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  const rss = kb('Rss'), anon = kb('Anonymous');
  if (!Number.isFinite(rss) || !Number.isFinite(anon)) return undefined;
  // The rest of Rss is file pages (and shared memory, which the agent has none of).
  return { anon: anon / 1024, file: (rss - anon) / 1024 };
}

/** The biggest resident mappings (/proc/PID/smaps) as "MiB name perms" lines, for a closer look (BENCH_SMAPS). */
export async function residentMappings(pid: number | undefined, top = 8): Promise<string[]> {
  if (!pid) return [];
  const text = await readFile(`/proc/${pid}/smaps`, 'utf8').catch(() => '');
  const rss = new Map<string, number>();
  let name = '';
  for (const line of text.split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) name = `${mapping[2] || '[anon]'} ${mapping[1]}`;
    else if (line.startsWith('Rss:')) rss.set(name, (rss.get(name) ?? 0) + Number(line.split(/\s+/)[1]));
  }
  return [...rss].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, kb]) => `${(kb / 1024).toFixed(1)} ${k}`);
}
