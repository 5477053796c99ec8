// One fault, measured: traffic between the pod pairs running through it, every node's kernel
// routes watched (`ip monitor route`: each pod-route deletion is a flap), every node's BGP
// sessions sampled (a session that left Established, the routes a peer kept as stale), the
// fault injected, held, healed, and the time until the cluster is back as it was (every agent
// synced, every session up with nothing stale, every node's pod routes as before). What differs
// afterwards is "state left behind". The fault tests assert on these figures and the fault
// report (bench/faults.ts) prints them.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { containsCidr, parseCidr } from '../../shared/net/index.ts';
import { agentPaths } from '../nodes/agent-install.ts';
import { nodeDirs } from '../nodes/node.ts';
import { sleep } from '../sh.ts';
import { agentStatus, bgpStatus, routesOf, routeText } from '../testing/probes.ts';
import { startTraffic, type Pod, type TrafficFigures } from '../testing/traffic.ts';
import type { FaultContext, FaultOptions } from './fault.ts';
import { faultKind } from './faults.ts';

/** A node's routes into the pod pool, one line each, sorted. */
export async function podRoutes(context: FaultContext, node: string): Promise<string[]> {
  const pool = parseCidr(context.state.topology.pool.cidr);
  const routes = await routesOf(node);
  return routes
    .filter((r) => {
      try {
        return containsCidr(pool, parseCidr(r.dst.includes('/') ? r.dst : `${r.dst}/32`));
      } catch {
        return false; // default, a link-local, ...
      }
    })
    .map(routeText)
    .sort();
}

async function allPodRoutes(context: FaultContext): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const n of context.state.topology.nodes) out[n.name] = await podRoutes(context, n.name);
  return out;
}

/** The node's agent log as the machine sees it (the upper layer of the node's /var/lib overlay). */
export function agentLogFile(context: FaultContext, node: string): string {
  return path.join(nodeDirs(context.stateDir, node).root, 'var-lib.upper', agentPaths.log.slice('/var/lib/'.length));
}

export interface LogFigures {
  lines: number;
  /** pino levels 40 (warn) and up. */
  warnings: number;
  /** The distinct messages of those, with how often each came. */
  messages: Record<string, number>;
  /** What the dataplane changed meanwhile (its `dataplane reconciled` lines' commands), with the time. */
  dataplane: string[];
}

/** What each node's agent logged from now until `read` is called. */
function watchLogs(context: FaultContext) {
  const from = Object.fromEntries(context.state.topology.nodes.map((n) => {
    const file = agentLogFile(context, n.name);
    return [n.name, existsSync(file) ? statSync(file).size : 0];
  }));
  return {
    read(): Record<string, LogFigures> {
      const out: Record<string, LogFigures> = {};
      for (const n of context.state.topology.nodes) {
        const file = agentLogFile(context, n.name);
        const text = existsSync(file) ? readFileSync(file).subarray(from[n.name]).toString() : '';
        const figures: LogFigures = { lines: 0, warnings: 0, messages: {}, dataplane: [] };
        for (const line of text.split('\n')) {
          if (!line.trim()) continue;
          figures.lines++;
          try {
            const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string }; time?: number; commands?: string[]; changes?: number };
            if (entry.msg === 'dataplane reconciled') {
              figures.dataplane.push(`${new Date(entry.time ?? 0).toISOString().slice(11, 23)} ${entry.commands?.join('; ') ?? `${entry.changes} changes`}`);
            }
            if ((entry.level ?? 0) >= 40) {
              figures.warnings++;
              const msg = `${entry.level! >= 50 ? 'error' : 'warn'}: ${entry.msg ?? ''}${entry.err?.message ? ` (${entry.err.message})` : ''}`.slice(0, 200);
              figures.messages[msg] = (figures.messages[msg] ?? 0) + 1;
            }
          } catch {
            // the supervisor's own lines and stack traces are not JSON
            const msg = `text: ${line}`.slice(0, 160);
            figures.messages[msg] = (figures.messages[msg] ?? 0) + 1;
          }
        }
        out[n.name] = figures;
      }
      return out;
    },
  };
}

/** `ip monitor route` in a node: the pod routes the kernel deleted while it ran. */
function watchDeletions(context: FaultContext, node: string) {
  const pool = parseCidr(context.state.topology.pool.cidr);
  const child: ChildProcess = spawn('ip', ['-n', node, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const deleted: string[] = [];
  let rest = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^Deleted (?:blackhole |unreachable )?(\d+\.\d+\.\d+\.\d+(?:\/\d+)?)\s/.exec(line);
      if (!m) continue;
      try {
        if (containsCidr(pool, parseCidr(m[1]!.includes('/') ? m[1]! : `${m[1]}/32`))) deleted.push(line.trim());
      } catch {
        // not an address we care about
      }
    }
  });
  const closed = new Promise((resolve) => child.once('close', resolve));
  return {
    deleted,
    async stop() {
      child.kill('SIGTERM');
      await closed;
      return deleted;
    },
  };
}

export interface SessionSample {
  /** Samples in which the session was not Established. */
  notUp: number;
  /** The most routes this node held as stale from that peer (graceful restart). */
  maxStale: number;
  samples: number;
}

/** Every node's BGP sessions, sampled until stopped: per node, per peer address. */
function sampleSessions(context: FaultContext, everyMs = 300) {
  const sessions: Record<string, Record<string, SessionSample>> = {};
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(
        context.state.topology.nodes.map(async (n) => {
          const status = await bgpStatus(context.stateDir, n.name).catch(() => undefined); // an agent that is down answers nothing
          for (const p of status?.peers ?? []) {
            const s = ((sessions[n.name] ??= {})[p.address] ??= { notUp: 0, maxStale: 0, samples: 0 });
            s.samples++;
            if (p.state !== 'up') s.notUp++;
            s.maxStale = Math.max(s.maxStale, p.stale);
          }
        }),
      );
      await sleep(everyMs);
    }
  })();
  return {
    sessions,
    async stop() {
      stopped = true;
      await loop;
      return sessions;
    },
  };
}

/** Why the cluster is not yet back as `before` found it, or undefined once it is. */
async function notBack(context: FaultContext, before: Record<string, string[]>, bgp: boolean): Promise<string | undefined> {
  for (const n of context.state.topology.nodes) {
    const status = (await agentStatus(context.stateDir, n.name).catch(() => undefined)) as { datastore?: { synced?: boolean; connected?: boolean } } | undefined;
    if (!status?.datastore?.synced) return `${n.name}: agent not answering or not synced`;
    if (!status.datastore.connected) return `${n.name}: agent not connected to the API server`;
    if (bgp) {
      const peers = (await bgpStatus(context.stateDir, n.name)).peers;
      const bad = peers.filter((p) => p.state !== 'up' || p.stale > 0);
      if (bad.length > 0 || peers.length === 0) return `${n.name}: BGP ${bad.map((p) => `${p.address} ${p.state}${p.stale ? ` (${p.stale} stale)` : ''}`).join(', ') || 'no peers'}`;
    }
    const routes = await podRoutes(context, n.name);
    if (JSON.stringify(routes) !== JSON.stringify(before[n.name])) return `${n.name}: routes ${routes.join(' | ')}, before ${before[n.name]!.join(' | ')}`;
  }
  return undefined;
}

export interface FaultMeasure {
  fault: string;
  mode: string;
  what: string;
  traffic: TrafficFigures;
  heldMs: number;
  /** From the end of the fault (the kill; the heal of a held fault) until the cluster is back as it was. */
  recoverMs: number;
  /** Pod routes each node's kernel deleted from the injection until 2 s after recovery. */
  deletedRoutes: Record<string, string[]>;
  sessions: Record<string, Record<string, SessionSample>>;
  /** What differs from before once recovered (routes, what the fault says it left), empty when nothing. */
  leftBehind: string[];
  /** What recovery waited on, as it changed (ms after the fault ended). */
  waited: string[];
  /** What each agent logged from the injection until 2 s after recovery. */
  logs: Record<string, LogFigures>;
  /** Lines the fault's own checks add (what the agent logged, processes it found). */
  notes: string[];
}

export interface MeasureOptions {
  kind: string;
  options?: FaultOptions;
  /** How long the fault is held before it is healed. */
  holdMs: number;
  mode: string;
  bgp: boolean;
  pods: Pod[];
  pairs: Array<[Pod, Pod]>;
  /** Done while the fault is held (changes made while the API server is away...). */
  during?: () => Promise<void>;
  /** Take the routes to come back to after `during` (which changes them on purpose), not before the fault. */
  rebaseline?: boolean;
  /** How long to wait for the cluster to be back (default 180 s). */
  recoverTimeoutMs?: number;
}

export async function measureFault(context: FaultContext, o: MeasureOptions): Promise<FaultMeasure> {
  let before = await allPodRoutes(context);
  const watchers = context.state.topology.nodes.map((n) => ({ node: n.name, watch: watchDeletions(context, n.name) }));
  const traffic = await startTraffic(o.pods, o.pairs);
  const sampler = sampleSessions(context);
  const logs = watchLogs(context);
  let stopped = false;
  const stopAll = async () => {
    if (stopped) return undefined;
    stopped = true;
    const figures = await traffic.stop();
    await sampler.stop();
    for (const w of watchers) await w.watch.stop();
    return figures;
  };
  try {
    const injectedAt = Date.now();
    const injected = await faultKind(o.kind).inject(context, o.options ?? {});
    let healStarted = 0;
    try {
      await o.during?.();
      // What `during` changed on purpose (a pod added) is part of what the cluster must be after.
      if (o.rebaseline) before = await allPodRoutes(context);
      const until = injectedAt + o.holdMs;
      if (Date.now() < until) await sleep(until - Date.now());
    } finally {
      healStarted = Date.now();
      await injected.heal();
    }
    const endedAt = injected.endedAt ?? healStarted;
    const deadline = Date.now() + (o.recoverTimeoutMs ?? 180_000);
    let why: string | undefined = 'not checked';
    // What recovery waited on, and from when (ms after the fault ended): where the time went.
    const waited: string[] = [];
    while (Date.now() < deadline) {
      const now = await notBack(context, before, o.bgp).catch((error: Error) => error.message);
      if (now && now.split(':')[1] !== why?.split(':')[1]) waited.push(`+${Date.now() - endedAt} ms ${now.slice(0, 120)}`);
      why = now;
      if (!why) break;
      await sleep(200);
    }
    if (why) throw new Error(`after ${o.kind} the lab was not back within ${(o.recoverTimeoutMs ?? 180_000) / 1000} s: ${why}`);
    const recoverMs = Date.now() - endedAt;
    await sleep(2000); // a late flap (a stale sweep, a resync) shows here
    const figures = (await stopAll())!;
    const after = await allPodRoutes(context);
    const leftBehind: string[] = [];
    for (const [node, routes] of Object.entries(after)) {
      const was = new Set(before[node]);
      const now = new Set(routes);
      for (const r of routes) if (!was.has(r)) leftBehind.push(`${node}: route ${r} added`);
      for (const r of before[node] ?? []) if (!now.has(r)) leftBehind.push(`${node}: route ${r} gone`);
    }
    leftBehind.push(...((await injected.leftBehind?.()) ?? []));
    return {
      fault: o.kind,
      mode: o.mode,
      what: injected.what,
      traffic: figures,
      heldMs: healStarted - injectedAt,
      recoverMs,
      deletedRoutes: Object.fromEntries(watchers.map((w) => [w.node, w.watch.deleted])),
      sessions: sampler.sessions,
      leftBehind,
      waited,
      logs: logs.read(),
      notes: injected.notes ?? [],
    };
  } finally {
    await stopAll();
  }
}

/** Sessions that left Established on nodes other than `involved` (the fault's own ends). */
export function otherSessionsTouched(measure: FaultMeasure, involved: string[], addressOf: Record<string, string>): string[] {
  const involvedAddresses = new Set(involved.map((n) => addressOf[n]));
  const touched: string[] = [];
  for (const [node, peers] of Object.entries(measure.sessions)) {
    if (involved.includes(node)) continue;
    for (const [address, s] of Object.entries(peers)) if (!involvedAddresses.has(address) && s.notUp > 0) touched.push(`${node} -> ${address}: not up in ${s.notUp} of ${s.samples} samples`);
  }
  return touched;
}
