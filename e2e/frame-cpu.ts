// The page's main-thread CPU time while something runs in it, from a Chromium trace over CDP (each
// top-level task's thread time, `tdur`). A frame's wall time on this machine swings with what else
// its two cores run (the main thread got 22-60% of the CPU while the scale bed and others' builds
// ran); the CPU a frame takes does not, so that a bound on it holds on a loaded machine and still
// fails a table that does more work per frame. Used by e2e/console-scale.e2e.test.ts and
// bench/console-scale.ts.
import type { Page } from 'playwright-core';

interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  tdur?: number;
  pid: number;
  tid: number;
  args?: { name?: string };
}

export interface MainThreadCpu<T> {
  result: T;
  /** CPU ms of the renderer's main thread (the busiest CrRendererMain) over the run. */
  cpuMs: number;
  /** Wall ms its tasks took: more than cpuMs by the time the thread waited for a core. */
  taskWallMs: number;
}

/** Runs `run` while tracing the browser (the `toplevel` category: every task each thread runs) and adds up the page's main thread. */
export async function mainThreadCpu<T>(page: Page, run: () => Promise<T>): Promise<MainThreadCpu<T>> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const done = new Promise<string>((resolve) => cdp.once('Tracing.tracingComplete', (event) => resolve(event.stream!)));
    await cdp.send('Tracing.start', { transferMode: 'ReturnAsStream', traceConfig: { includedCategories: ['toplevel'], excludedCategories: ['*'] } });
    const result = await run();
    await cdp.send('Tracing.end');
    const stream = await done;
    let text = '';
    for (;;) {
      const chunk = await cdp.send('IO.read', { handle: stream });
      text += chunk.base64Encoded ? Buffer.from(chunk.data, 'base64').toString() : chunk.data;
      if (chunk.eof) break;
    }
    await cdp.send('IO.close', { handle: stream });
    const parsed = JSON.parse(text) as { traceEvents: TraceEvent[] } | TraceEvent[];
    return { result, ...mainThreadTotals(Array.isArray(parsed) ? parsed : parsed.traceEvents) };
  } finally {
    await cdp.detach();
  }
}

function mainThreadTotals(events: readonly TraceEvent[]): { cpuMs: number; taskWallMs: number } {
  const mains = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
  const totals = new Map<string, { cpu: number; wall: number; end: number }>();
  // Only the outermost task of each moment counts (tasks nest: RunTask inside RunTask).
  for (const e of [...events].filter((e) => e.ph === 'X' && e.dur !== undefined).sort((a, b) => a.ts - b.ts)) {
    const thread = `${e.pid}:${e.tid}`;
    if (!mains.has(thread)) continue;
    const total = totals.get(thread) ?? { cpu: 0, wall: 0, end: -1 };
    if (e.ts >= total.end) {
      total.end = e.ts + e.dur!;
      total.wall += e.dur!;
      total.cpu += e.tdur ?? e.dur!;
    }
    totals.set(thread, total);
  }
  const busiest = [...totals.values()].sort((a, b) => b.cpu - a.cpu)[0];
  return { cpuMs: (busiest?.cpu ?? 0) / 1000, taskWallMs: (busiest?.wall ?? 0) / 1000 };
}
