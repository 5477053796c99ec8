// The agent killed (`kill -9`) on worker-1, in every routing mode of the lab, with a 100/s ping
// and a TCP stream running between every pod pair that talks in that mode: no ping lost, no
// stream broken, no pod route deleted on any node (worker-1 keeps its routes in the kernel, its
// peers keep its routes as stale through BGP graceful restart and do not withdraw them when the
// new agent takes over), the other sessions untouched, the user-space tunl0 helper kept and
// adopted, and the cluster back as it was. On the lab (exclusive: it switches the pool's mode);
// the lab is left in ipipMode Always, as it starts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLab, type LabLease } from '../testing/lab-fixture.ts';
import { trafficText } from '../testing/traffic.ts';
import { agentKill } from './agent-kill.ts';
import { faultContext } from './faults.ts';
import { labModes, labPods, modeNames, setLabMode } from './lab-modes.ts';
import { measureFault, otherSessionsTouched, type FaultMeasure } from './observe.ts';
import { faultTable } from './report.ts';

let lab: LabLease | undefined;
const measured: FaultMeasure[] = [];
const victim = 'worker-1';

beforeAll(async () => {
  lab = await useLab({ exclusive: true, waitMs: 1_200_000, progress: (line) => console.log(`[lab] ${line}`) });
}, 1_800_000);

afterAll(async () => {
  try {
    if (lab) await setLabMode(faultContext(() => {}, lab.stateDir), 'ipip-always');
  } finally {
    await lab?.release();
    if (measured.length > 0) console.log(faultTable(measured));
  }
}, 300_000);

describe('kill -9 of an agent, with traffic running', () => {
  it.each(modeNames)('in %s: nothing lost, routes kept, peers keep ours as stale, the new agent takes over without a flap', async (mode) => {
    const context = faultContext((line) => console.log(`[fault] ${line}`), lab!.stateDir);
    const spec = labModes[mode];
    const pairs = await setLabMode(context, mode);
    const m = await measureFault(context, { kind: 'agent-kill', options: { node: victim }, holdMs: 0, mode, bgp: spec.bgp, pods: labPods(context), pairs });
    measured.push(m);
    const killed = agentKill.last!;
    console.log(`${mode}: ${m.traffic.sent} pings sent, ${m.traffic.lost} lost; back in ${m.recoverMs} ms; ${m.notes.join('; ')}\n${trafficText(m.traffic)}`);

    expect(m.traffic.pairs.map((p) => `${p.from}-${p.to}`)).toEqual(spec.pairs.map(([a, b]) => `${a}-${b}`));
    expect(m.traffic.sent).toBeGreaterThan(300); // the outage (2 s restart delay + start-up) was covered at 100/s
    expect(m.traffic.lost, trafficText(m.traffic)).toBe(0);
    expect(m.traffic.brokenStreams, trafficText(m.traffic)).toBe(0);
    // No pod route deleted anywhere: worker-1 kept its own, the others kept worker-1's.
    expect(m.deletedRoutes).toEqual(Object.fromEntries(context.state.topology.nodes.map((n) => [n.name, []])));
    expect(m.leftBehind).toEqual([]);
    // The new agent took over within its restart delay and start-up, not after some timeout.
    expect(killed.backAt! - killed.killedAt).toBeLessThan(30_000);

    const address = Object.fromEntries(context.state.topology.nodes.map((n) => [n.name, n.address]));
    if (spec.bgp) {
      // Every peer saw the session go and kept worker-1's routes as stale meanwhile (graceful restart).
      for (const n of context.state.topology.nodes.filter((n) => n.name !== victim)) {
        const s = m.sessions[n.name]?.[address[victim]!];
        expect(s, `${n.name}'s session with ${victim}`).toBeDefined();
        expect(s!.notUp, `${n.name} saw the session with ${victim} go down`).toBeGreaterThan(0);
        expect(s!.maxStale, `${n.name} kept ${victim}'s routes as stale`).toBeGreaterThan(0);
      }
      expect(otherSessionsTouched(m, [victim], address)).toEqual([]);
    }
    // The user-space tunl0 (the lab's kernel has no ipip module) outlived the agent and was adopted.
    if (spec.pool.ipipMode !== 'Never') {
      expect(killed.tunnelHelpers).toHaveLength(1);
      expect(killed.tunnelHelpersAfter).toEqual(killed.tunnelHelpers);
    }
  }, 300_000);
});
