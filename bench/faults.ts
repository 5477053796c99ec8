// The fault report: every fault of lab/faults on the lab, with a 100/s ping and a TCP stream
// between every pod pair that talks in the mode, one after another, and one table: fault, mode,
// pings sent and lost, the longest outage, TCP streams broken, pod routes the kernels deleted,
// time to recover, state left behind. The outages are the issue's (API server 60 s, a node cut
// 30 s, a BGP session reset every second for a minute); the fault tests hold shorter ones.
// `npm run -s bench -- faults [--only agent-kill,api-refused,...] [--modes ipip-always,...]`
// Takes /tmp/gingham-lab.lock itself (the lab's addresses are fixed: one user at a time).
import { spawnSync } from 'node:child_process';
import { applyObjects, kubectlOk, podNamespace, podObject, poolName } from '../lab/cluster/objects.ts';
import { cniCall, podDown, podUp, type StartedPod } from '../lab/pods/pods.ts';
import { agentKill } from '../lab/faults/agent-kill.ts';
import { bgpFlap } from '../lab/faults/bgp-flap.ts';
import type { FaultContext } from '../lab/faults/fault.ts';
import { faultContext } from '../lab/faults/faults.ts';
import { kubeconfigOf, labModes, labPods, modeNames, setLabMode, type LabMode } from '../lab/faults/lab-modes.ts';
import { measureFault, otherSessionsTouched, type FaultMeasure, type MeasureOptions } from '../lab/faults/observe.ts';
import { faultTable } from '../lab/faults/report.ts';
import { sleep } from '../lab/sh.ts';
import { useLab } from '../lab/testing/lab-fixture.ts';
import { agentStatus, bgpStatus } from '../lab/testing/probes.ts';
import { trafficText } from '../lab/testing/traffic.ts';
import { benchArgs } from './support/options.ts';
import { loadText } from './support/summary.ts';

const allFaults = ['agent-kill', 'api-refused', 'api-partition', 'api-restore', 'node-cut', 'bgp-flap', 'disk-full'];
const args = benchArgs(
  {
    only: { type: 'string', default: allFaults.join(',') },
    modes: { type: 'string', default: modeNames.join(',') },
    'api-outage-s': { type: 'string', default: '60' },
    'cut-s': { type: 'string', default: '30' },
    'flap-s': { type: 'string', default: '60' },
    'disk-s': { type: 'string', default: '30' },
  },
  `npm run -s bench -- faults [--only ${allFaults.join(',')}] [--modes ${modeNames.join(',')}] [--api-outage-s 60] [--cut-s 30] [--flap-s 60] [--disk-s 30]`,
);
const only = args.values.only.split(',');
const refuse = (message: string): never => {
  console.error(`faults: ${message}`);
  process.exit(2);
};
for (const f of only) if (!allFaults.includes(f)) refuse(`--only: there is no fault ${f} (faults: ${allFaults.join(', ')})`);
const modes = args.values.modes.split(',') as LabMode[];
for (const m of modes) if (!modeNames.includes(m)) refuse(`--modes: there is no mode ${m} (modes: ${modeNames.join(', ')})`);
const apiOutageMs = args.number('api-outage-s') * 1000;
const cutMs = args.number('cut-s') * 1000;
const flapMs = args.number('flap-s') * 1000;
const diskMs = args.number('disk-s') * 1000;

// The command line is checked before waiting for the lab.
const lockFile = '/tmp/gingham-lab.lock';
if (!process.env.GINGHAM_LAB_LOCK_HELD) {
  console.error(`faults: waiting for ${lockFile} (another lab user may hold it)`);
  const result = spawnSync('flock', [lockFile, process.execPath, '--import', 'tsx', ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, GINGHAM_LAB_LOCK_HELD: '1' } });
  process.exit(result.status ?? 1);
}

const rows: FaultMeasure[] = [];
const notes: string[] = [];
const loads: string[] = [];

async function one(context: FaultContext, mode: LabMode, o: Omit<MeasureOptions, 'mode' | 'bgp' | 'pods' | 'pairs'>, after?: (m: FaultMeasure) => Promise<void>): Promise<void> {
  const label = `${o.kind} (${mode})`;
  try {
    const pairs = await setLabMode(context, mode);
    loads.push(`${label}: load ${loadText()}`);
    const m = await measureFault(context, { ...o, mode, bgp: labModes[mode].bgp, pods: labPods(context), pairs });
    await after?.(m);
    rows.push(m);
    const warnings = Object.entries(m.logs).map(([n, l]) => `${n} ${l.warnings}`).join(', ');
    notes.push(`${label}: ${m.what}; held ${(m.heldMs / 1000).toFixed(1)} s; agents' warnings logged ${warnings}${m.notes.length ? `; ${m.notes.join('; ')}` : ''}${m.waited.length ? `\n    recovery waited on: ${m.waited.join(' | ')}` : ''}\n    ${trafficText(m.traffic).split('\n').join('\n    ')}`);
    console.error(`faults: ${label} done: ${m.traffic.lost} of ${m.traffic.sent} lost, recovered in ${m.recoverMs} ms`);
  } catch (error) {
    notes.push(`${label}: FAILED: ${(error as Error).message}`);
    console.error(`faults: ${label} failed: ${(error as Error).message}`);
  }
}

async function rss(context: FaultContext, nodes: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const n of nodes) {
    const status = (await bgpStatus(context.stateDir, n)) as unknown as { memory?: { rss: number } };
    out[n] = Math.round((status.memory?.rss ?? 0) / 2 ** 20);
  }
  return out;
}

const patchPool = (context: FaultContext, spec: Record<string, unknown>) => kubectlOk(kubeconfigOf(context), ['patch', 'ippools.crd.projectcalico.org', poolName, '--type=merge', '-p', JSON.stringify({ spec })]);

async function poolSeenEverywhere(context: FaultContext, natOutgoing: boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const all = await Promise.all(context.state.topology.nodes.map((n) => agentStatus(context.stateDir, n.name).catch(() => undefined)));
    if (all.every((s) => (s?.state?.pools[0] as unknown as { natOutgoing?: boolean } | undefined)?.natOutgoing === natOutgoing)) return Date.now() - started;
    await sleep(250);
  }
  throw new Error(`not every agent saw natOutgoing ${natOutgoing} within ${timeoutMs / 1000} s`);
}

const started = new Date();
const lab = await useLab({ exclusive: true, waitMs: 1_200_000, progress: (line) => console.error(`[lab] ${line}`) });
try {
  const context = faultContext((line) => console.error(`[fault] ${line}`), lab.stateDir);
  const address = Object.fromEntries(context.state.topology.nodes.map((n) => [n.name, n.address]));
  if (only.includes('agent-kill')) {
    for (const mode of modes) {
      await one(context, mode, { kind: 'agent-kill', options: { node: 'worker-1' }, holdMs: 0 }, async (m) => {
        const k = agentKill.last!;
        m.notes.push(`tunl0 helpers before ${k.tunnelHelpers.join(',') || 'none'}, still running after ${k.tunnelHelpersAfter.join(',') || 'none'}`);
        if (labModes[mode].bgp) {
          const stale = context.state.topology.nodes.filter((n) => n.name !== 'worker-1').map((n) => `${n.name} ${m.sessions[n.name]?.[address['worker-1']!]?.maxStale ?? 0}`);
          m.notes.push(`worker-1's routes kept as stale by its peers: ${stale.join(', ')}`);
        }
      });
    }
  }
  if (only.includes('api-refused')) await one(context, 'ipip-always', { kind: 'api-refused', holdMs: apiOutageMs });
  if (only.includes('api-partition')) {
    await one(context, 'ipip-always', { kind: 'api-partition', holdMs: apiOutageMs, during: () => patchPool(context, { natOutgoing: false }).then(() => undefined) }, async (m) => {
      m.notes.push(`the pool edit made during the partition reached every agent ${await poolSeenEverywhere(context, false, 120_000)} ms after the recovery check`);
    });
    await patchPool(context, { natOutgoing: true });
  }
  if (only.includes('api-restore')) {
    await one(context, 'ipip-always', { kind: 'api-restore', holdMs: 0 }, async (m) => {
      await patchPool(context, { natOutgoing: false });
      m.notes.push(`a pool edit after the restore reached every agent in ${await poolSeenEverywhere(context, false, 120_000)} ms`);
    });
    await patchPool(context, { natOutgoing: true });
  }
  if (only.includes('node-cut')) await one(context, 'ipip-always', { kind: 'node-cut', options: { node: 'worker-3' }, holdMs: cutMs });
  if (only.includes('bgp-flap')) {
    const ends = ['worker-1', 'worker-2'];
    const before = await rss(context, ends).catch(() => ({}));
    bgpFlap.everyMs = 1000;
    await one(context, 'ipip-always', { kind: 'bgp-flap', options: { node: ends[0]!, peer: ends[1]! }, holdMs: flapMs }, async (m) => {
      const after = await rss(context, ends);
      m.notes.push(`${bgpFlap.last?.resets ?? 0} resets; agents' RSS MiB before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`);
      const touched = otherSessionsTouched(m, ends, address);
      m.notes.push(`other sessions touched: ${touched.length ? touched.join('; ') : 'none'}`);
    });
  }
  if (only.includes('disk-full')) {
    // A pod added on the node while its disk is full: the agent must record its route's owner.
    const name = 'pod-fault';
    let added: StartedPod | undefined;
    await applyObjects(kubeconfigOf(context), [podObject(name, 'worker-1')]);
    try {
      await one(context, 'ipip-always', { kind: 'disk-full', options: { node: 'worker-1' }, holdMs: diskMs, rebaseline: true, during: async () => void (added = await podUp(context.stateDir, { name, node: 'worker-1' }, context.state.nodes['worker-1']!.sshdPid)) }, async (m) => {
        const said = Object.entries(m.logs['worker-1']?.messages ?? {}).filter(([k]) => /space|ENOSPC/i.test(k));
        m.notes.push(`pod ${name} added meanwhile (${added?.ip ?? 'no address'}); worker-1's agent said: ${said.map(([k, n]) => `${n}x ${k}`).join(' | ') || 'nothing about the disk'}`);
      });
    } finally {
      if (added) await cniCall(context.state.nodes['worker-1']!.sshdPid, 'DEL', { name, netns: name, containerId: added.containerId });
      await podDown(name);
      await kubectlOk(kubeconfigOf(context), ['delete', 'pod', '-n', podNamespace, name, '--ignore-not-found', '--wait=false']);
    }
  }
  await setLabMode(context, 'ipip-always').catch((error: Error) => notes.push(`leaving the lab in ipipMode Always failed: ${error.message}`));
} finally {
  await lab.release();
}

console.log(`Fault report, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC; load average at the start of each: ${loads.map((l) => l.split(': load ')[1]).join(' | ')}; 2 cores shared\n`);
console.log(faultTable(rows));
console.log('\nNotes:');
for (const n of notes) console.log(`- ${n}`);
console.log(`\nload average now: ${loadText()}`);
