// One routing-mode switch on the lab, measured: the IPPool patched under a 100-per-second ping and
// a TCP stream between every pod pair that answers both before and after, every node's route
// changes timed (`ip monitor route`), and the time the change reached each agent taken from its
// log. The lab test (mode-switch-lab.int.test.ts) asserts on the figures; bench/mode-switch.ts
// prints them against calico-node's.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { kubectlOk, poolName } from '../../../lab/cluster/objects.ts';
import type { FaultContext } from '../../../lab/faults/fault.ts';
import { labPods, kubeconfigOf } from '../../../lab/faults/lab-modes.ts';
import { agentLogFile } from '../../../lab/faults/observe.ts';
import { run, sleep } from '../../../lab/sh.ts';
import { agentStatus, bgpStatus } from '../../../lab/testing/probes.ts';
import { reachablePairs, startTraffic, type Pod, type TrafficFigures } from '../../../lab/testing/traffic.ts';
import { ginghamRouteProtocol, planDataplane } from '../../../shared/dataplane-plan/index.ts';
import { parseDataplaneState, type DataplaneState } from '../../../shared/model/dataplane-state.ts';

export type SwitchMode = 'IPIP Always' | 'IPIP CrossSubnet' | 'Never' | 'VXLAN Always' | 'VXLAN CrossSubnet';
export const switchModes: SwitchMode[] = ['IPIP Always', 'IPIP CrossSubnet', 'Never', 'VXLAN Always', 'VXLAN CrossSubnet'];

type Mode = 'Always' | 'CrossSubnet' | 'Never';
export const modePool: Record<SwitchMode, { ipipMode: Mode; vxlanMode: Mode }> = {
  'IPIP Always': { ipipMode: 'Always', vxlanMode: 'Never' },
  'IPIP CrossSubnet': { ipipMode: 'CrossSubnet', vxlanMode: 'Never' },
  Never: { ipipMode: 'Never', vxlanMode: 'Never' },
  'VXLAN Always': { ipipMode: 'Never', vxlanMode: 'Always' },
  'VXLAN CrossSubnet': { ipipMode: 'Never', vxlanMode: 'CrossSubnet' },
};

/**
 * Pod pairs that answer with the fabric's source/destination checks off: all of them, but in
 * Never, where the gateway between the subnets has no pod routes, only pod-1 <-> pod-2.
 */
export function answeringPairs(mode: SwitchMode): string[] {
  return mode === 'Never' ? ['pod-1-pod-2'] : ['pod-1-pod-2', 'pod-1-pod-3', 'pod-2-pod-3'];
}

/** A walk through the complete directed graph of `items` that takes every ordered pair exactly once (Hierholzer). */
export function everyOrderedPair<T>(items: readonly T[]): T[] {
  const unused = new Map(items.map((item) => [item, items.filter((other) => other !== item)]));
  const stack: T[] = [items[0]!];
  const walk: T[] = [];
  while (stack.length > 0) {
    const top = stack.at(-1)!;
    const next = unused.get(top)!.shift();
    if (next === undefined) walk.push(stack.pop()!);
    else stack.push(next);
  }
  return walk.reverse();
}

const routeKey = (r: { dst: string; dev?: string; gateway?: string }) => `${r.dst.includes('/') ? r.dst : `${r.dst}/32`} ${r.dev ?? ''} ${r.gateway ?? ''}`;

async function kernelRoutes(node: string): Promise<string[]> {
  const routes = JSON.parse(await run('ip', ['-n', node, '-json', '-4', 'route', 'show', 'proto', String(ginghamRouteProtocol)])) as Array<{ dst: string; dev?: string; gateway?: string }>;
  return routes.map(routeKey).sort();
}

async function links(node: string): Promise<string[]> {
  return (JSON.parse(await run('ip', ['-n', node, '-json', 'link', 'show'])) as Array<{ ifname: string }>).map((l) => l.ifname);
}

/**
 * The routes the node's plan has once the switch is over: its desired state without what only a
 * switch in progress has (the encapsulations kept for peers that have not moved, the peers'
 * published ones), so a node still between modes is not taken for settled.
 */
async function steadyRoutes(node: string, state: DataplaneState): Promise<string[]> {
  const steady = JSON.parse(JSON.stringify(state)) as Record<string, unknown> & { node: Record<string, unknown>; peers: Array<Record<string, unknown>> };
  delete steady.node.keepAccepting;
  for (const peer of steady.peers) delete peer.accepts;
  const link = (JSON.parse(await run('ip', ['-n', node, '-json', 'link', 'show', 'ens5'])) as Array<{ mtu: number }>)[0];
  const gateway = (JSON.parse(await run('ip', ['-n', node, '-json', '-4', 'route', 'show', 'default'])) as Array<{ gateway?: string }>)[0]?.gateway;
  const plan = planDataplane(parseDataplaneState(steady), { mtu: link?.mtu ?? 1500, ...(gateway ? { gateway } : {}) });
  return plan.routes.map(routeKey).sort();
}

/** Why `node` is not settled in `mode` yet, or undefined once it is. */
async function unsettled(context: FaultContext, node: string, mode: SwitchMode): Promise<string | undefined> {
  const status = (await agentStatus(context.stateDir, node)) as Awaited<ReturnType<typeof agentStatus>> & { state?: DataplaneState };
  const pool = modePool[mode];
  const have = status.state?.pools[0];
  if (!status.state || have?.ipipMode !== pool.ipipMode || have.vxlanMode !== pool.vxlanMode) return `${node}: pool still ${have?.ipipMode}/${have?.vxlanMode}`;
  const want = await steadyRoutes(node, status.state);
  const routes = await kernelRoutes(node);
  if (JSON.stringify(routes) !== JSON.stringify(want)) return `${node}: routes ${JSON.stringify(routes)}, want ${JSON.stringify(want)}`;
  const names = await links(node);
  // The old device goes once no peer sends it that kind any more.
  if (names.includes('tunl0') !== (pool.ipipMode !== 'Never')) return `${node}: tunl0 ${names.includes('tunl0') ? 'still there' : 'missing'}`;
  if (names.includes('vxlan.calico') !== (pool.vxlanMode !== 'Never')) return `${node}: vxlan.calico ${names.includes('vxlan.calico') ? 'still there' : 'missing'}`;
  const bgp = pool.vxlanMode === 'Never';
  if (status.bgp.running !== bgp) return `${node}: BGP ${status.bgp.running ? 'running' : 'off'}`;
  if (bgp) {
    const peers = (await bgpStatus(context.stateDir, node)).peers;
    if (peers.length !== context.state.topology.nodes.length - 1 || peers.some((p) => p.state !== 'up' || p.stale > 0)) return `${node}: BGP peers ${peers.map((p) => `${p.address} ${p.state}`).join(', ')}`;
  }
  return undefined;
}

/** Waits until every node is settled in `mode` (routes as planned, old devices gone, BGP as the mode wants). */
export async function settle(context: FaultContext, mode: SwitchMode, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let why: string | undefined = 'not checked';
  while (Date.now() < deadline) {
    const reasons = await Promise.all(context.state.topology.nodes.map((n) => unsettled(context, n.name, mode).catch((error: Error) => `${n.name}: ${error.message}`)));
    why = reasons.find((r) => r !== undefined);
    if (!why) return;
    await sleep(100);
  }
  throw new Error(`the lab did not settle in ${mode} within ${timeoutMs / 1000} s: ${why}`);
}

/** `ip monitor route` in a node: when each change of Gingham's routes was seen. */
function watchRoutes(node: string) {
  const child = spawn('ip', ['-n', node, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const changes: number[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    const now = Date.now();
    for (const line of chunk.toString().split('\n')) if (line.includes(`proto ${ginghamRouteProtocol}`)) changes.push(now);
  });
  const closed = new Promise((resolve) => child.once('close', resolve));
  return {
    async stop(): Promise<number[]> {
      child.kill('SIGTERM');
      await closed;
      return changes;
    },
  };
}

/** The time of the first line `msg` in `node`'s agent log written after `from` (ms since the epoch). */
function logTime(context: FaultContext, node: string, offset: number, msg: string): number | undefined {
  const file = agentLogFile(context, node);
  if (!existsSync(file)) return undefined;
  for (const line of readFileSync(file).subarray(offset).toString().split('\n')) {
    if (!line.includes(msg)) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; time?: number };
      if (entry.msg === msg && entry.time) return entry.time;
    } catch {
      // not JSON (the supervisor's lines)
    }
  }
  return undefined;
}

export interface NodeSwitchFigures {
  /** From the patch to the agent's first new desired state (the change reaching it). */
  reachMs: number;
  /** From the change reaching the agent to its last route change. */
  convergeMs: number;
  /** From the patch to the last route change. */
  sincePatchMs: number;
  routeChanges: number;
}

export interface SwitchFigures {
  from: SwitchMode;
  to: SwitchMode;
  /** Pod pairs that answer in both modes: the ones traffic ran between. */
  pairs: string[];
  traffic: TrafficFigures;
  nodes: Record<string, NodeSwitchFigures>;
  /** From the patch to every node settled (old devices gone, BGP as wanted). */
  settledMs: number;
}

export async function patchMode(context: FaultContext, mode: SwitchMode): Promise<void> {
  await kubectlOk(kubeconfigOf(context), ['patch', 'ippools.crd.projectcalico.org', poolName, '--type=merge', '-p', JSON.stringify({ spec: modePool[mode] })]);
}

/** Switches the lab (settled in `from`) to `to` under traffic and measures it; leaves it settled in `to`. */
export async function switchUnderTraffic(context: FaultContext, from: SwitchMode, to: SwitchMode): Promise<SwitchFigures> {
  const pods = labPods(context);
  const byName = new Map<string, Pod>(pods.map((p) => [p.name, p]));
  const both = answeringPairs(from).filter((p) => answeringPairs(to).includes(p));
  const pairs = both.map((p) => {
    const [a, b] = [p.slice(0, 5), p.slice(6)];
    return [byName.get(a)!, byName.get(b)!] as [Pod, Pod];
  });
  const traffic = await startTraffic(pods, pairs);
  const nodes = context.state.topology.nodes.map((n) => n.name);
  const offsets = Object.fromEntries(nodes.map((n) => {
    const file = agentLogFile(context, n);
    return [n, existsSync(file) ? statSync(file).size : 0];
  }));
  const watchers = new Map(nodes.map((n) => [n, watchRoutes(n)]));
  await sleep(200); // the monitors listening
  const patched = Date.now();
  await patchMode(context, to);
  let settledMs = -1;
  try {
    await settle(context, to);
    settledMs = Date.now() - patched;
    await sleep(500); // a late change would show as a loss or a route change after this
  } finally {
    const figures = await traffic.stop();
    const out: Record<string, NodeSwitchFigures> = {};
    for (const n of nodes) {
      const changes = (await watchers.get(n)!.stop()).filter((t) => t >= patched);
      const reached = logTime(context, n, offsets[n]!, 'desired state changed') ?? patched;
      const last = changes.at(-1) ?? reached;
      out[n] = { reachMs: reached - patched, convergeMs: Math.max(0, last - reached), sincePatchMs: last - patched, routeChanges: changes.length };
    }
    lastFigures = { from, to, pairs: both, traffic: figures, nodes: out, settledMs };
  }
  return lastFigures;
}

let lastFigures: SwitchFigures;

/** Puts the lab in `mode` with the fabric's source/destination checks off, and waits until it is settled and every pair of the mode answers. */
export async function startIn(context: FaultContext, mode: SwitchMode, setChecks: (on: boolean) => Promise<unknown>): Promise<void> {
  await setChecks(false);
  await patchMode(context, mode);
  await settle(context, mode, 180_000);
  const want = answeringPairs(mode);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const have = (await reachablePairs(labPods(context))).map(([a, b]) => `${a.name}-${b.name}`).sort();
    if (JSON.stringify(have) === JSON.stringify(want)) return;
    if (Date.now() > deadline) throw new Error(`in ${mode} the pairs ${have.join(', ') || 'none'} answer; want ${want.join(', ')}`);
    await sleep(500);
  }
}

/** One line per switch: what was lost, and each node's convergence. */
export function switchText(f: SwitchFigures): string {
  const nodes = Object.entries(f.nodes).map(([n, v]) => `${n} ${v.convergeMs} ms (reached +${v.reachMs})`).join(', ');
  return `${f.from} -> ${f.to}: ${f.traffic.lost}/${f.traffic.sent} pings lost, ${f.traffic.brokenStreams} streams broken (longest stall ${f.traffic.longestStallMs} ms); converged: ${nodes}; settled ${f.settledMs} ms`;
}
