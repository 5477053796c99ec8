// The console at cluster scale (#21), measured in the browser: for each size (500 nodes and 4 by
// default), the scale bed (lab/testing/status-bed.ts: N simulated agents publishing their
// GinghamNodeStatus into a real kube-apiserver, a node-to-node mesh in subnets of 25 over 3
// zones, the last 20 nodes' BGP blocked so that about 10,000 failing sessions are listed; each
// node's status changes every 50 s on top of the heartbeats) and a real SSH node with
// --routes extra kernel routes, the console in web mode opened on them in Debian's Chromium
// (e2e/console-scale.ts), and in the page, by its own clock:
// - Nodes: the click on Nodes to the first frame with the whole table (every row, from the watch);
//   a filter to one node and back; a sort; frame times while updates stream, still and while the
//   table is scrolled end to end, beside the floor (a plain scroller of static rows, no script:
//   the browser's own compositing and software raster); the JS heap after GC and the DOM's node
//   count over --memory-s, every --memory-every-s (at most a twelfth of the run);
// - Routes: choosing the node to its whole table (SSH, `ip -json route show`), a filter, a scroll;
// - BGP peers: the click to the table of every listed session, a filter, a scroll.
// Each timing is taken --runs times; the table prints the median and the range.
// `npm run -s bench -- console-scale [--nodes 500,4] [--routes 10000] [--runs 3] [--memory-s 180] [--memory-every-s 60] [--frames-s 10]`
// (an hour's memory: --memory-s 3600, a sample a minute)
// Needs root (the SSH node is a network namespace). No lab: its own control plane.
import { mainThreadCpu } from '../e2e/frame-cpu.ts';
import { loadText } from './support/summary.ts';
import { benchArgs } from './support/options.ts';
import { domWrites, floorFrameTimes, frameTimes, heapSlopeMbPerHour, memoryOver, openScaleConsole, timeToFilter, timeToSort, timeToTable, type FrameFigures, type MemorySample } from '../e2e/console-scale.ts';

const usage = 'npm run -s bench -- console-scale [--nodes 500,4] [--routes 10000] [--runs 3] [--memory-s 180] [--memory-every-s 60] [--frames-s 10]';
const args = benchArgs(
  { nodes: { type: 'string', default: '500,4' }, routes: { type: 'string', default: '10000' }, runs: { type: 'string', default: '3' }, 'memory-s': { type: 'string', default: '180' }, 'memory-every-s': { type: 'string', default: '60' }, 'frames-s': { type: 'string', default: '10' } },
  usage,
);
const sizes = args.numbers('nodes').filter((n) => n >= 2);
const extraRoutes = args.number('routes');
const runs = Math.max(1, args.number('runs'));
const memoryMs = args.number('memory-s') * 1000;
const memoryEveryMs = Math.max(5000, Math.min(args.number('memory-every-s') * 1000, memoryMs / 12));
const framesMs = args.number('frames-s') * 1000;
const say = (line: string) => console.error(`console-scale: ${line}`);
/** A figure the console under test may not offer (an older console without the filter box or the table): left out, and said. */
async function optional<T>(what: string, measure: () => Promise<T>): Promise<T | undefined> {
  try {
    return await measure();
  } catch (error) {
    say(`${what}: not measured (${(error as Error).message.split('\n')[0]})`);
    return undefined;
  }
}
const push = (list: number[], value: number | undefined) => value !== undefined && list.push(value);
/** Frame times with the page's main-thread CPU over them (a trace): the CPU a frame takes, which the machine's load does not change. */
interface Frames extends FrameFigures {
  cpuMsPerFrame: number;
  /** The share of its tasks' wall time the main thread had a core. */
  cpuShare: number;
}
async function framesWithCpu(page: Parameters<typeof frameTimes>[0], measure: () => Promise<FrameFigures>): Promise<Frames> {
  const { result, cpuMs, taskWallMs } = await mainThreadCpu(page, measure);
  return { ...result, cpuMsPerFrame: cpuMs / Math.max(1, result.frames), cpuShare: cpuMs / Math.max(1, taskWallMs) };
}

const context = 'gingham-admin@gingham';

interface Figures {
  nodes: number;
  load: string[];
  nodesTable: number[];
  nodesDomRows: number;
  filterOne: number[];
  filterAll: number[];
  sort: number[];
  framesStill: Frames;
  framesFloorBlank: Frames;
  framesFloorRows: Frames;
  framesScroll: Frames;
  memory: MemorySample[];
  routes: number | undefined;
  routesTable: number[];
  /** Of it, until the backend's answer arrived in the page. */
  routesAnswer: number[];
  routesDomRows: number;
  routesFilter: number[];
  routesScroll: Frames | undefined;
  sessions: number | undefined;
  sessionsTable: number[];
  sessionsDomRows: number | undefined;
  sessionsFilter: number[];
  sessionsScroll: Frames | undefined;
  /** DOM writes a second on the BGP peers page while the status streams (nothing else happening). */
  sessionsWrites: number | undefined;
}

async function measure(n: number): Promise<Figures> {
  const failing = n >= 100 ? 20 : 0;
  const bed = { nodes: n, subnets: Math.max(1, Math.ceil(n / 25)), zones: 3, failing, changesPerSecond: n / 50, progress: say };
  // --routes 0: no SSH node, no Routes figures (a memory run beside another bed, which takes the node's subnet).
  const scale = await openScaleConsole(`console-scale-${n}`, bed, extraRoutes > 0 ? extraRoutes : undefined);
  const { page, nav } = scale;
  try {
    const load = [loadText()];
    const last = scale.bed.names.at(-1)!;
    const nodesCaption = `Nodes of ${context}: agent and BGP`;
    const f: Partial<Figures> = { nodes: n, nodesTable: [], filterOne: [], filterAll: [], sort: [], routesTable: [], routesAnswer: [], routesFilter: [], sessionsTable: [], sessionsFilter: [] };
    for (let run = 0; run < runs; run++) {
      await nav('Clusters');
      const shown = await timeToTable(page, { section: 'Nodes' }, nodesCaption, n, { ready: 'td[data-source="watch"]' });
      f.nodesTable!.push(shown.ms);
      f.nodesDomRows = shown.domRows;
      push(f.filterOne!, await optional('Nodes filter', () => timeToFilter(page, 'Filter nodes', last, nodesCaption, 1, 5000)));
      push(f.filterAll!, await optional('Nodes filter cleared', () => timeToFilter(page, 'Filter nodes', '', nodesCaption, n, 5000)));
      push(f.sort!, await optional('Nodes sort', () => timeToSort(page, nodesCaption, 'Node', 5000)));
    }
    if (runs > 0) await page.screenshot({ path: `test-results/console-scale-${n}/nodes.png` });
    say(`${n} nodes: table ${f.nodesTable!.map(Math.round).join(', ')} ms; frames while updates stream`);
    f.framesStill = await framesWithCpu(page, () => frameTimes(page, framesMs));
    f.framesFloorBlank = await framesWithCpu(page, () => floorFrameTimes(page, framesMs, 0));
    f.framesFloorRows = await framesWithCpu(page, () => floorFrameTimes(page, framesMs, 600));
    f.framesScroll = await framesWithCpu(page, () => frameTimes(page, framesMs, nodesCaption));
    say(`${n} nodes: frames scrolling ${frames(f.framesScroll)}; floor ${frames(f.framesFloorRows)} (load ${loadText()})`);
    say(`${n} nodes: memory over ${memoryMs / 1000} s, every ${memoryEveryMs / 1000} s`);
    f.memory = await memoryOver(page, memoryMs, memoryEveryMs, (m) => say(`  ${Math.round(m.s)} s: heap ${m.heapMb.toFixed(2)} MB, ${m.domNodes} DOM nodes, ${m.listeners} listeners (load ${loadText()})`));
    load.push(loadText());

    // Routes: the SSH node's kernel table.
    const routesCaption = 'Kernel IP routing table of routes-node';
    for (let run = 0; run < (scale.routesNode ? runs : 0); run++) {
      await nav('Clusters');
      await nav('Routes');
      const shown = await timeToTable(page, { select: { label: 'Node', option: 'routes-node' } }, routesCaption, extraRoutes, { atLeast: true });
      f.routes = shown.rows;
      f.routesTable!.push(shown.ms);
      if (shown.answerMs !== undefined) f.routesAnswer!.push(shown.answerMs);
      f.routesDomRows = shown.domRows;
      // 198.18.3.x: 250 of the extra routes, when there are that many.
      const expected = Math.max(0, Math.min(250, extraRoutes - 750));
      // The filter box was labelled "Filter" before the tables were shared.
      const label = (await page.getByLabel('Filter routes').count()) > 0 ? 'Filter routes' : 'Filter';
      if (expected > 0) f.routesFilter!.push(await timeToFilter(page, label, '198.18.3.', routesCaption, expected));
      await timeToFilter(page, label, '', routesCaption, shown.rows);
    }
    if (scale.routesNode) {
      f.routesScroll = await framesWithCpu(page, () => frameTimes(page, framesMs, routesCaption));
      await page.screenshot({ path: `test-results/console-scale-${n}/routes.png` });
    }

    // BGP peers: every session every agent lists.
    const sessionsCaption = `BGP sessions of every node of ${context}`;
    const matching = scale.bed.sessionRows.filter((r) => r.node === last || r.peer === last).length;
    for (let run = 0; run < runs; run++) {
      await nav('Clusters');
      const shown = await optional('BGP peers sessions table', () => timeToTable(page, { section: 'BGP peers' }, sessionsCaption, scale.bed.listedSessions, { timeoutMs: 10_000 }));
      if (!shown) break;
      f.sessions = shown.rows;
      f.sessionsTable!.push(shown.ms);
      f.sessionsDomRows = shown.domRows;
      f.sessionsFilter!.push(await timeToFilter(page, 'Filter sessions', last, sessionsCaption, matching));
      await timeToFilter(page, 'Filter sessions', '', sessionsCaption, scale.bed.listedSessions);
    }
    if (f.sessions !== undefined) f.sessionsWrites = (await domWrites(page, 3000)).perSecond;
    if (f.sessions !== undefined) f.sessionsScroll = await framesWithCpu(page, () => frameTimes(page, framesMs, sessionsCaption));
    await page.screenshot({ path: `test-results/console-scale-${n}/peers.png` });
    if ((await page.getByRole('link', { name: 'Topology' }).count()) > 0) {
      await nav('Topology');
      await page.getByRole('status').filter({ hasText: 'laid out in' }).waitFor({ timeout: 60_000 });
      await page.waitForTimeout(1000);
      await page.screenshot({ path: `test-results/console-scale-${n}/topology.png` });
    }
    load.push(loadText());
    f.load = load;
    return f as Figures;
  } finally {
    await scale.close();
  }
}

const ms = (values: number[]) => {
  if (values.length === 0) return '-';
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return sorted.length === 1 ? `${Math.round(median)} ms` : `${Math.round(median)} ms (${Math.round(sorted[0]!)}-${Math.round(sorted.at(-1)!)})`;
};
const frames = (f: Frames) =>
  `p50 ${f.p50.toFixed(1)}, p95 ${f.p95.toFixed(1)}, p99 ${f.p99.toFixed(1)}, max ${f.max.toFixed(0)} ms; ${(f.missed * 100).toFixed(1)}% > 25 ms (${f.frames} frames); main thread ${f.cpuMsPerFrame.toFixed(1)} ms CPU a frame, on a core ${(f.cpuShare * 100).toFixed(0)}% of its tasks' time`;
const memory = (samples: MemorySample[]) => {
  const mb = samples.map((m) => m.heapMb);
  return `${mb[0]!.toFixed(1)} -> ${mb.at(-1)!.toFixed(1)} MB (max ${Math.max(...mb).toFixed(1)}, slope ${heapSlopeMbPerHour(samples).toFixed(2)} MB/h, ${samples.length} samples); DOM nodes ${samples[0]!.domNodes} -> ${samples.at(-1)!.domNodes} (max ${Math.max(...samples.map((m) => m.domNodes))})`;
};

const results: Figures[] = [];
for (const n of sizes) {
  say(`--- ${n} nodes ---`);
  results.push(await measure(n));
}

console.log(`\nThe console at ${sizes.join(' and ')} nodes (${runs} runs each; median (range)); load before/after/end: ${results.map((r) => `${r.nodes}: ${r.load.join(' / ')}`).join('; ')}\n`);
console.log(`| figure | ${results.map((r) => `${r.nodes} nodes`).join(' | ')} |`);
console.log(`|---|${results.map(() => '---').join('|')}|`);
const line = (what: string, value: (r: Figures) => string) => console.log(`| ${what} | ${results.map(value).join(' | ')} |`);
line('Nodes: click to the whole table', (r) => `${ms(r.nodesTable)}, ${r.nodesDomRows} rows in the DOM`);
line('Nodes: filter to one node', (r) => ms(r.filterOne));
line('Nodes: filter cleared (every row)', (r) => ms(r.filterAll));
line('Nodes: sort by name', (r) => ms(r.sort));
line(`frames while updates stream (${framesMs / 1000} s)`, (r) => frames(r.framesStill));
line('frames scrolling a blank scroller (the floor, no script)', (r) => frames(r.framesFloorBlank));
line('frames scrolling 600 static rows (the floor, no script)', (r) => frames(r.framesFloorRows));
line('frames scrolling the Nodes table', (r) => frames(r.framesScroll));
line(`JS heap after GC over ${memoryMs / 1000} s`, (r) => memory(r.memory));
line('Routes: choosing the node to the whole table', (r) => (r.routes === undefined ? '- (--routes 0)' : `${ms(r.routesTable)}, ${r.routes} routes, ${r.routesDomRows} rows in the DOM`));
line('of it: the backend answering (SSH, ip -json route show, 2.8 MB)', (r) => ms(r.routesAnswer));
line('Routes: filter to 250 routes', (r) => ms(r.routesFilter));
line('frames scrolling the Routes table', (r) => (r.routesScroll ? frames(r.routesScroll) : '-'));
line('BGP peers: click to every listed session', (r) => (r.sessions === undefined ? '- (no such table)' : `${ms(r.sessionsTable)}, ${r.sessions} sessions, ${r.sessionsDomRows} rows in the DOM`));
line('BGP peers: filter to one node', (r) => ms(r.sessionsFilter));
line('BGP peers: DOM writes a second while the status streams', (r) => (r.sessionsWrites === undefined ? '-' : r.sessionsWrites.toFixed(0)));
line('frames scrolling the sessions table', (r) => (r.sessionsScroll ? frames(r.sessionsScroll) : '-'));
for (const r of results) console.log(`\n${r.nodes} nodes, memory every ${memoryEveryMs / 1000} s (s: MB after GC / DOM nodes): ${r.memory.map((m) => `${Math.round(m.s)}: ${m.heapMb.toFixed(2)}/${m.domNodes}`).join(', ')}`);
process.exit(0);
