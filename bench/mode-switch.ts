// Routing-mode switches on the lab (#18): every ordered pair of the seed's five modes, each a
// kubectl patch of the IPPool under a 100/s ping and a TCP stream between every pod pair that
// answers in both modes, and per switch: pings lost, streams broken, and per node the time from
// the change reaching its agent to its last route change. The peer: real calico-node v3.31.0
// takes 3.2-3.4 s to change vxlan.calico after a vxlanMode patch, because Felix exits and
// restarts (measured with /work/shared/tools/calico-node/modechange.sh; calico-node cannot run in
// the lab yet, so the anchor is that figure, not a run beside this one).
// `npm run -s bench -- mode-switch [--rounds 1]` (or `npx tsx bench/mode-switch.ts`). Takes
// /tmp/gingham-lab.lock itself (the lab's addresses are fixed: one user at a time).
import { spawnSync } from 'node:child_process';
import { labSrcdst } from '../lab/lab.ts';
import { faultContext } from '../lab/faults/faults.ts';
import { useLab } from '../lab/testing/lab-fixture.ts';
import { everyOrderedPair, startIn, switchModes, switchUnderTraffic, type SwitchFigures } from '../agent/dataplane/testing/lab-mode-switch.ts';
import { benchArgs } from './support/options.ts';
import { loadText } from './support/summary.ts';

const args = benchArgs({ rounds: { type: 'string', default: '1' } }, 'npm run -s bench -- mode-switch [--rounds 1]');
const rounds = Math.max(1, Math.floor(args.number('rounds')));

const lockFile = '/tmp/gingham-lab.lock';
if (!process.env.GINGHAM_LAB_LOCK_HELD) {
  console.error(`mode-switch: waiting for ${lockFile} (another lab user may hold it)`);
  const result = spawnSync('flock', [lockFile, process.execPath, '--import', 'tsx', ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, GINGHAM_LAB_LOCK_HELD: '1' } });
  process.exit(result.status ?? 1);
}

/** calico-node v3.31.0, a vxlanMode patch to vxlan.calico changed (the anchor, s). */
const calicoNode = { low: 3.2, high: 3.4 };
const touchesVxlan = (f: SwitchFigures) => f.from.startsWith('VXLAN') !== f.to.startsWith('VXLAN') || (f.from.startsWith('VXLAN') && f.to.startsWith('VXLAN'));

const lab = await useLab({ exclusive: true, waitMs: 1_200_000, progress: (line) => console.error(`[lab] ${line}`) });
const rows: Array<SwitchFigures & { load: string }> = [];
try {
  const context = faultContext((line) => console.error(`[lab] ${line}`), lab.stateDir);
  const walk = everyOrderedPair(switchModes);
  await startIn(context, walk[0]!, (on) => labSrcdst('all', on, context.stateDir));
  for (let round = 0; round < rounds; round++) {
    for (let i = 1; i < walk.length; i++) {
      const f = await switchUnderTraffic(context, walk[i - 1]!, walk[i]!);
      rows.push({ ...f, load: loadText() });
      console.error(`mode-switch: ${f.from} -> ${f.to}: ${f.traffic.lost}/${f.traffic.sent} lost, slowest node ${Math.max(...Object.values(f.nodes).map((n) => n.convergeMs))} ms`);
    }
  }
} finally {
  await lab.release();
}

const nodes = Object.keys(rows[0]?.nodes ?? {});
console.log(`\nRouting-mode switches on the lab, ${rounds} walk(s) of all 20 ordered pairs (fabric source/destination checks off; tunl0 is the user-space tunnel)`);
console.log('converge = from the change reaching the node\'s agent to its last route change; calico-node: 3.2-3.4 s to change vxlan.calico after a vxlanMode patch (the issue\'s anchor, not run here)\n');
console.log(['switch', 'pairs', 'pings lost/sent', 'tcp broken', ...nodes.map((n) => `${n} ms`), 'slowest', 'vs calico-node', 'settled ms', 'load'].join(' | '));
for (const r of rows) {
  const slowest = Math.max(...Object.values(r.nodes).map((n) => n.convergeMs));
  const ratio = touchesVxlan(r) ? `${(calicoNode.low / Math.max(slowest / 1000, 0.001)).toFixed(1)}-${(calicoNode.high / Math.max(slowest / 1000, 0.001)).toFixed(1)}x faster` : '-';
  console.log([`${r.from} -> ${r.to}`, r.pairs.length, `${r.traffic.lost}/${r.traffic.sent}`, r.traffic.brokenStreams, ...nodes.map((n) => r.nodes[n]!.convergeMs), slowest, ratio, r.settledMs, r.load].join(' | '));
}
const lost = rows.reduce((n, r) => n + r.traffic.lost, 0);
const sent = rows.reduce((n, r) => n + r.traffic.sent, 0);
const worst = Math.max(...rows.flatMap((r) => Object.values(r.nodes).map((n) => n.convergeMs)));
console.log(`\ntotal: ${lost} of ${sent} pings lost, ${rows.reduce((n, r) => n + r.traffic.brokenStreams, 0)} TCP streams broken, slowest node ${worst} ms; load average now ${loadText()}`);
