/// <reference lib="dom" />
// (The DOM's types: the functions given to page.evaluate below run in the page.)
// The console at scale, measured in the page (#21): the console in web mode on the scale bed
// (lab/testing/status-bed.ts: N simulated agents in a real kube-apiserver) and on a real SSH node
// whose kernel holds 10,000 extra routes, opened in Debian's Chromium. Each figure is taken by
// the page's own clock: the click (or the keystroke) and the first animation frame whose DOM
// shows the result (a frame's requestAnimationFrame runs just before it is painted), so the
// browser's round trips and drawing count, not Playwright's. Used by e2e/console-scale.e2e.test.ts
// (the bounds) and bench/console-scale.ts (the figures at 500 nodes against 4).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CDPSession, Page } from 'playwright-core';
import { runSync } from '../lab/sh.ts';
import { startSshdNode, type SshdNode } from '../lab/testing/sshd-node.ts';
import { startStatusBed, type StatusBed, type StatusBedOptions } from '../lab/testing/status-bed.ts';
import { openConsole, type ConsoleHarness } from './console-harness.ts';

export interface ScaleConsole {
  bed: StatusBed;
  harness: ConsoleHarness;
  page: Page;
  /** The SSH node with the extra routes, when asked for. */
  routesNode: SshdNode | undefined;
  nav(section: string): Promise<void>;
  close(): Promise<void>;
}

/** The scale bed, a routes node with `extraRoutes` routes (none: no node), and the console opened and connected on them. */
export async function openScaleConsole(name: string, bedOptions: StatusBedOptions, extraRoutes: number | undefined): Promise<ScaleConsole> {
  const work = mkdtempSync(join(tmpdir(), 'gscl-'));
  const bed = await startStatusBed(bedOptions);
  let routesNode: SshdNode | undefined;
  let harness: ConsoleHarness | undefined;
  try {
    if (extraRoutes !== undefined) {
      // /run/gingham private: the node has no agent socket, whatever this machine runs, so the
      // console reads the kernel's table over SSH (`ip -json route show`), as for a stock node.
      routesNode = await startSshdNode(2, { prefix: 'gscl', subnet: '100.64.229', privateDirs: ['/run/gingham', '/run/calico'] });
      addRoutes(routesNode, extraRoutes);
    }
    harness = await openConsole(name, {
      configDir: join(work, 'config'),
      clusters: { paths: () => [bed.cluster.plane.kubeconfig] },
      ssh: { home: work, sshConfigPath: join(work, 'no-ssh-config'), agentSocket: '' },
    });
    // tsx (esbuild's keepNames) wraps the named functions inside the functions given to
    // page.evaluate in a __name() call, which only exists in Node: the page gets one that does
    // nothing. And the page notes when each large message from the backend arrives (before the
    // client parses it), so that a table's time splits into the backend's answer and the drawing.
    await harness.page.addInitScript({ content: pageProbe });
    await harness.page.reload();
    if (routesNode) {
      const added = harness.backend.nodes.add({ name: 'routes-node', host: routesNode.address, user: routesNode.user, identityFile: routesNode.userKey });
      const first = await harness.backend.ssh.connect(added.id);
      if (first.state === 'host-key-unknown') harness.backend.ssh.trust(first.prompt.promptId);
      await harness.page.reload();
    }
    const page = harness.page;
    const nav = (section: string) => page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: section, exact: true }).click();
    await nav('Clusters');
    await page.getByRole('button', { name: 'Connect to gingham-admin@gingham' }).click();
    await page.getByRole('status').filter({ hasText: 'Connected to gingham-admin@gingham' }).waitFor({ timeout: 30_000 });
    const opened = harness;
    return {
      bed,
      harness,
      page,
      routesNode,
      nav,
      close: async () => {
        await opened.close();
        await routesNode?.stop();
        await bed.stop();
        rmSync(work, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await harness?.close();
    await routesNode?.stop();
    await bed.stop();
    rmSync(work, { recursive: true, force: true });
    throw error;
  }
}

const pageProbe = `
globalThis.__name = (f) => f;
{
  const add = WebSocket.prototype.addEventListener;
  WebSocket.prototype.addEventListener = function (type, listener, options) {
    if (type !== 'message') return add.call(this, type, listener, options);
    return add.call(this, type, (event) => {
      if (typeof event.data === 'string' && event.data.length > 100000) globalThis.__bigMessageAt = performance.now();
      return listener.call(this, event);
    }, options);
  };
}`;

/** `count` host routes (198.18.0.0/15, the benchmarking range) via the node's link, in one ip -batch. */
function addRoutes(node: SshdNode, count: number): void {
  const lines = Array.from({ length: count }, (_, i) => `route add 198.18.${Math.floor(i / 250)}.${(i % 250) + 1}/32 via ${node.hostAddress}`);
  runSync('ip', ['-n', node.netns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
}


/**
 * Clicks the sidebar's `section` and waits, frame by frame, until the table captioned `caption`
 * (a prefix) has `rows` rows and `ready` (a selector inside it, optional) matches: the ms from the
 * click to that frame, and the rows then in the DOM.
 */
export async function timeToTable(
  page: Page,
  click: { section?: string; select?: { label: string; option: string } },
  caption: string,
  rows: number,
  { ready, atLeast = false, timeoutMs = 60_000 }: { ready?: string; atLeast?: boolean; timeoutMs?: number } = {},
): Promise<{ ms: number; domRows: number; rows: number; answerMs: number | undefined }> {
  return page.evaluate(
    async ({ click, caption, rows, ready, atLeast, timeoutMs }) => {
      // How many rows a table has: aria-rowcount less the header row, else the rows drawn (an old table drew them all).
      const rowsOf = (table: HTMLTableElement) => {
        const n = table.getAttribute('aria-rowcount');
        return n ? Number(n) - 1 : (table.tBodies[0]?.rows.length ?? 0);
      };
      const find = () => [...document.querySelectorAll('table')].find((t) => t.caption?.textContent?.startsWith(caption));
      const start = performance.now();
      if (click.section) {
        const link = [...document.querySelectorAll<HTMLAnchorElement>('nav[aria-label="Console sections"] a')].find((a) => a.textContent === click.section)!;
        link.click();
      } else if (click.select) {
        const select = [...document.querySelectorAll('label')].find((l) => l.firstChild?.textContent?.trim() === click.select!.label)!.querySelector('select')!;
        const option = [...select.options].find((o) => o.text === click.select!.option)!;
        // React's own setter, so that its onChange sees the change.
        Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value')!.set!.call(select, option.value);
        select.dispatchEvent(new Event('change', { bubbles: true }));
      }
      const probe = globalThis as { __bigMessageAt?: number };
      probe.__bigMessageAt = undefined;
      return new Promise<{ ms: number; domRows: number; rows: number; answerMs: number | undefined }>((resolve, reject) => {
        const frame = () => {
          const table = find();
          const count = table ? rowsOf(table) : 0;
          if (table && (atLeast ? count >= rows : count === rows) && (!ready || table.querySelector(ready))) {
            const answerAt = probe.__bigMessageAt;
            resolve({ ms: performance.now() - start, domRows: table.tBodies[0]?.rows.length ?? 0, rows: count, answerMs: answerAt === undefined ? undefined : answerAt - start });
            return;
          }
          if (performance.now() - start > timeoutMs) {
            reject(new Error(`the table "${caption}" did not show ${rows} rows within ${timeoutMs} ms (${table ? rowsOf(table) : 'no table'})`));
            return;
          }
          requestAnimationFrame(frame);
        };
        requestAnimationFrame(frame);
      });
    },
    { click, caption, rows, ready: ready ?? null, atLeast, timeoutMs },
  );
}

/**
 * Types `text` into the filter box labelled `label` (all at once, as a paste) and waits for the
 * first frame in which the table captioned `caption` has `rows` rows: the ms from the input.
 */
export async function timeToFilter(page: Page, label: string, text: string, caption: string, rows: number, timeoutMs = 30_000): Promise<number> {
  return page.evaluate(
    async ({ label, text, caption, rows, timeoutMs }) => {
      // How many rows a table has: aria-rowcount less the header row, else the rows drawn (an old table drew them all).
      const rowsOf = (table: HTMLTableElement) => {
        const n = table.getAttribute('aria-rowcount');
        return n ? Number(n) - 1 : (table.tBodies[0]?.rows.length ?? 0);
      };
      const input = [...document.querySelectorAll('label')].find((l) => l.firstChild?.textContent?.trim() === label)?.querySelector('input');
      if (!input) throw new Error(`no filter box labelled ${label}`);
      const find = () => [...document.querySelectorAll('table')].find((t) => t.caption?.textContent?.startsWith(caption));
      const start = performance.now();
      Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!.call(input, text);
      input.dispatchEvent(new Event('input', { bubbles: true }));
      return new Promise<number>((resolve, reject) => {
        const frame = () => {
          const table = find();
          if (table && rowsOf(table) === rows) return resolve(performance.now() - start);
          if (performance.now() - start > timeoutMs) return reject(new Error(`the filter ${JSON.stringify(text)} did not leave ${rows} rows within ${timeoutMs} ms (${table ? rowsOf(table) : 'no table'})`));
          requestAnimationFrame(frame);
        };
        requestAnimationFrame(frame);
      });
    },
    { label, text, caption, rows, timeoutMs },
  );
}

/**
 * Reverses the sort by `column` of the table captioned `caption` (sorting by it first, untimed, if
 * it is not yet) and waits for the frame whose first row differs: the ms of the reversal.
 */
export async function timeToSort(page: Page, caption: string, column: string, timeoutMs = 30_000): Promise<number> {
  return page.evaluate(
    async ({ caption, column, timeoutMs }) => {
      const table = [...document.querySelectorAll('table')].find((t) => t.caption?.textContent?.startsWith(caption));
      const button = [...(table?.tHead?.querySelectorAll('button') ?? [])].find((b) => b.textContent?.startsWith(column));
      if (!table || !button) throw new Error(`no sort button ${column} in the table "${caption}"`);
      const first = () => table.tBodies[0]?.rows[0]?.textContent ?? '';
      const frames = (n: number) => new Promise<void>((r) => { const step = (left: number) => (left === 0 ? r() : requestAnimationFrame(() => step(left - 1))); step(n); });
      if (button.closest('th')?.getAttribute('aria-sort') === 'none') {
        button.click();
        await frames(3);
      }
      const before = first();
      const start = performance.now();
      button.click();
      return new Promise<number>((resolve, reject) => {
        const frame = () => {
          if (first() !== before) return resolve(performance.now() - start);
          if (performance.now() - start > timeoutMs) return reject(new Error(`sorting by ${column} changed nothing within ${timeoutMs} ms`));
          requestAnimationFrame(frame);
        };
        requestAnimationFrame(frame);
      });
    },
    { caption, column, timeoutMs },
  );
}

export interface FrameFigures {
  frames: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Share of frames longer than 1.5 x 16.7 ms: a frame missed at 60 fps. */
  missed: number;
}

function frameFigures(deltas: number[]): FrameFigures {
  const sorted = [...deltas].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { frames: deltas.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.at(-1) ?? 0, missed: deltas.filter((d) => d > 25).length / Math.max(1, deltas.length) };
}

/**
 * Frame times (requestAnimationFrame deltas) over `ms`, while the status updates stream; with
 * `scroll`, the scroll area of the table captioned `scroll` is scrolled by 48 px every frame, from
 * the top to the bottom and back, as a user flinging through it.
 */
export async function frameTimes(page: Page, ms: number, scroll?: string): Promise<FrameFigures> {
  return frameFigures(await scrollFrames(page, ms, scroll === undefined ? undefined : { caption: scroll }));
}

/**
 * The floor under a table's frames: the same scroll of a plain scroller laid over the page (as
 * large as a table's scroll area, 1280 x 560 px), holding `rows` rows of static text that are all
 * in the DOM (0: blank), so that no script and no layout runs while it scrolls: what the
 * browser's compositor and raster (software here: no GPU) take by themselves on this machine.
 */
export async function floorFrameTimes(page: Page, ms: number, rows: number): Promise<FrameFigures> {
  return frameFigures(await scrollFrames(page, ms, { floorRows: rows }));
}

async function scrollFrames(page: Page, ms: number, scroll: { caption: string } | { floorRows: number } | undefined): Promise<number[]> {
  return page.evaluate(
    async ({ ms, scroll }) => {
      let area: Element | null | undefined;
      let floor: HTMLElement | undefined;
      if (scroll && 'floorRows' in scroll) {
        floor = document.createElement('div');
        floor.style.cssText = 'position: fixed; left: 0; top: 0; width: 1280px; height: 560px; overflow: auto; background: Canvas; z-index: 99; font: 14px system-ui';
        const inner = document.createElement('div');
        inner.style.minHeight = '30000px';
        for (let i = 0; i < scroll.floorRows; i++) {
          const row = document.createElement('div');
          row.style.cssText = 'height: 54px; border-bottom: 1px solid #ccc; padding: 0.4rem 0.6rem; box-sizing: border-box';
          row.textContent = `node-${i + 1}  10.240.${i % 250}.${i % 200}  Ready v0.1.0  12 of 499 sessions up  IPIP CrossSubnet  In sync 12:00:01  no problems`;
          inner.append(row);
        }
        floor.append(inner);
        document.body.append(floor);
        area = floor;
      } else if (scroll) {
        const table = [...document.querySelectorAll('table')].find((t) => t.caption?.textContent?.startsWith(scroll.caption));
        // The table's own scroll area, else the page (an old table, drawn whole, scrolls with the page).
        area = table?.parentElement;
        while (area && !(area.scrollHeight > area.clientHeight + 1 && getComputedStyle(area).overflowY !== 'visible')) area = area.parentElement;
        area ??= document.scrollingElement;
      }
      const out: number[] = [];
      let step = 48;
      // Two frames first, so that a floor just added is drawn before the clock starts.
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return new Promise<number[]>((resolve) => {
        let last = performance.now();
        const start = last;
        const frame = (now: number) => {
          out.push(now - last);
          last = now;
          if (area) {
            if (area.scrollTop + area.clientHeight >= area.scrollHeight - 1) step = -48;
            else if (area.scrollTop <= 0) step = 48;
            area.scrollTop += step;
          }
          if (now - start < ms) requestAnimationFrame(frame);
          else {
            floor?.remove();
            resolve(out.slice(1));
          }
        };
        requestAnimationFrame(frame);
      });
    },
    { ms, scroll },
  );
}

/** One sample of the page's memory: after a full garbage collection (CDP), which performance.memory would round. */
export interface MemorySample {
  /** Seconds since the first sample. */
  s: number;
  heapMb: number;
  /** The document's DOM nodes and event listeners (CDP Memory.getDOMCounters): what a leak of detached rows would grow. */
  domNodes: number;
  listeners: number;
}

async function memorySample(cdp: CDPSession, since: number): Promise<MemorySample> {
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  const counters = await cdp.send('Memory.getDOMCounters');
  return { s: (Date.now() - since) / 1000, heapMb: usedSize / 2 ** 20, domNodes: counters.nodes, listeners: counters.jsEventListeners };
}

/** The memory sampled every `everyMs` over `ms` (the page as it is, updates streaming); `progress` hears each sample. */
export async function memoryOver(page: Page, ms: number, everyMs: number, progress?: (sample: MemorySample) => void): Promise<MemorySample[]> {
  const cdp = await page.context().newCDPSession(page);
  const since = Date.now();
  const samples = [await memorySample(cdp, since)];
  progress?.(samples[0]!);
  const end = since + ms;
  while (Date.now() < end) {
    await page.waitForTimeout(Math.min(everyMs, end - Date.now()));
    samples.push(await memorySample(cdp, since));
    progress?.(samples.at(-1)!);
  }
  await cdp.detach();
  return samples;
}

/** The least-squares slope of the heap over the samples, in MB per hour. */
export function heapSlopeMbPerHour(samples: readonly MemorySample[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const meanS = samples.reduce((sum, x) => sum + x.s, 0) / n;
  const meanMb = samples.reduce((sum, x) => sum + x.heapMb, 0) / n;
  const covariance = samples.reduce((sum, x) => sum + (x.s - meanS) * (x.heapMb - meanMb), 0);
  const variance = samples.reduce((sum, x) => sum + (x.s - meanS) ** 2, 0);
  return (covariance / variance) * 3600;
}

/**
 * The DOM writes (nodes added or removed, attributes and text set) the page makes over `ms`, as
 * it is: what the status updates redraw while nothing else happens, by the element they land in
 * (a table by its caption, else its section).
 */
export async function domWrites(page: Page, ms: number): Promise<{ perSecond: number; where: Record<string, number> }> {
  return page.evaluate(async (ms) => {
    const where: Record<string, number> = {};
    let writes = 0;
    const observer = new MutationObserver((records) => {
      for (const record of records) {
        const count = record.type === 'childList' ? record.addedNodes.length + record.removedNodes.length : 1;
        writes += count;
        const target = record.target instanceof Element ? record.target : record.target.parentElement;
        const place = target?.closest('table')?.caption?.textContent?.slice(0, 40) ?? target?.closest('section')?.getAttribute('aria-labelledby') ?? '(page)';
        where[place] = (where[place] ?? 0) + count;
      }
    });
    observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    await new Promise((resolve) => setTimeout(resolve, ms));
    observer.disconnect();
    return { perSecond: writes / (ms / 1000), where };
  }, ms);
}
