// The Kubernetes API server gone, three ways, with traffic running between every pod pair
// (ipipMode Always): refused connections (kube-apiserver killed, started again on the same
// etcd), a partition (every packet between the nodes and :6443 dropped both ways: the watches
// stall with no FIN or RST) during which an admin edits the pool and adds one, and an etcd put
// back from a backup (the server's resourceVersion history goes back). Each time: no ping lost,
// no stream broken, no pod route deleted on any node, no error storm in the agents' logs
// (backoff), and afterwards every agent connected again and holding what the server holds,
// including the changes made while it was away and one made after the restore.
// The outage is 10 s here (the figures do not depend on its length: the agents retry with a
// backoff and say so once); bench/faults.ts holds it for 60 s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyObjects, kubectlOk, podNamespace, podObject, poolName } from '../cluster/objects.ts';
import { cniCall, podDown, podUp, type StartedPod } from '../pods/pods.ts';
import { sleep } from '../sh.ts';
import { useLab, type LabLease } from '../testing/lab-fixture.ts';
import { agentStatus, labExec } from '../testing/probes.ts';
import { trafficText } from '../testing/traffic.ts';
import type { FaultContext } from './fault.ts';
import { faultContext } from './faults.ts';
import { kubeconfigOf, labPods, setLabMode } from './lab-modes.ts';
import { measureFault, type FaultMeasure } from './observe.ts';
import { faultTable } from './report.ts';

let lab: LabLease | undefined;
let context: FaultContext;
const measured: FaultMeasure[] = [];
const outageMs = 10_000;
const extraPool = 'lab-fault-extra';

const patchPool = (spec: Record<string, unknown>) => kubectlOk(kubeconfigOf(context), ['patch', 'ippools.crd.projectcalico.org', poolName, '--type=merge', '-p', JSON.stringify({ spec })]);

beforeAll(async () => {
  lab = await useLab({ exclusive: true, waitMs: 1_200_000, progress: (line) => console.log(`[lab] ${line}`) });
  context = faultContext((line) => console.log(`[fault] ${line}`), lab.stateDir);
}, 1_800_000);

afterAll(async () => {
  try {
    if (lab) {
      await kubectlOk(kubeconfigOf(context), ['delete', 'ippools.crd.projectcalico.org', extraPool, '--ignore-not-found']).catch(() => undefined);
      await patchPool({ natOutgoing: true }).catch(() => undefined);
      await setLabMode(context, 'ipip-always');
    }
  } finally {
    await lab?.release();
    if (measured.length > 0) console.log(faultTable(measured));
  }
}, 300_000);

/** Waits until every agent's state has the pools `want` says (cidr -> natOutgoing); returns how long it took. */
async function agentsHold(want: Record<string, boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  let last = '';
  while (Date.now() - started < timeoutMs) {
    const all = await Promise.all(context.state.topology.nodes.map((n) => agentStatus(context.stateDir, n.name).catch(() => undefined)));
    const views = all.map((s) => Object.fromEntries((s?.state?.pools ?? []).map((p) => [(p as unknown as { cidr: string }).cidr, (p as unknown as { natOutgoing: boolean }).natOutgoing])));
    if (views.every((v) => JSON.stringify(Object.entries(v).sort()) === JSON.stringify(Object.entries(want).sort()))) return Date.now() - started;
    last = views.map((v, i) => `${context.state.topology.nodes[i]!.name}: ${JSON.stringify(v)}`).join(', ');
    await sleep(250);
  }
  throw new Error(`the agents did not all hold ${JSON.stringify(want)} within ${timeoutMs / 1000} s: ${last}`);
}

const dataplaneChanges = (m: FaultMeasure) =>
  Object.entries(m.logs)
    .map(([node, l]) => `${node}: ${l.dataplane.join(' | ') || 'no change'}`)
    .join('\n');

/** `restarts`: how many times the server came back (the restore starts it twice). */
function expectNothingLost(m: FaultMeasure, restarts = 1) {
  expect(m.traffic.pairs).toHaveLength(3);
  expect(m.traffic.lost, `${trafficText(m.traffic)}\ndataplane changes meanwhile:\n${dataplaneChanges(m)}`).toBe(0);
  expect(m.traffic.brokenStreams, trafficText(m.traffic)).toBe(0);
  expect(m.deletedRoutes).toEqual(Object.fromEntries(context.state.topology.nodes.map((n) => [n.name, []])));
  expect(m.leftBehind).toEqual([]);
  // Backoff: each of the five watched kinds says once per outage that its watch ended, that it
  // cannot reach the server, and (as the restarted server's authorizer warms up) that it was
  // refused, then retries without saying it again, and the status publisher says once that it
  // cannot write: 16 lines however long the outage (bench/faults.ts holds it 60 s), not one per retry.
  for (const [node, logs] of Object.entries(m.logs)) expect(logs.warnings, `${node}'s warnings: ${JSON.stringify(logs.messages)}`).toBeLessThanOrEqual(16 * restarts);
}

describe('the API server away, with traffic running (ipipMode Always)', () => {
  it('refused (kube-apiserver killed, started again): nothing lost, no route removed, backoff, every agent reconnected; a pod scheduled meanwhile gets its network once the server is back', async () => {
    const pairs = await setLabMode(context, 'ipip-always');
    const kubeconfig = kubeconfigOf(context);
    const name = 'pod-while-down';
    const sshdPid = context.state.nodes['worker-2']!.sshdPid;
    await applyObjects(kubeconfig, [podObject(name, 'worker-2')]);
    let refusedAdd = '';
    let added: StartedPod | undefined;
    try {
      const m = await measureFault(context, {
        kind: 'api-refused',
        holdMs: outageMs,
        mode: 'ipip-always',
        bgp: true,
        pods: labPods(context),
        pairs,
        // The runtime's first CNI ADD, while the server is away: IPAM needs it, so it must fail, at once and saying why.
        during: async () => {
          const started = Date.now();
          refusedAdd = await podUp(context.stateDir, { name, node: 'worker-2' }, sshdPid).then(
            () => 'succeeded',
            (error: Error) => `${error.message} (after ${Date.now() - started} ms)`,
          );
        },
      });
      measured.push(m);
      console.log(`api-refused: ${m.traffic.sent} sent, ${m.traffic.lost} lost, back ${m.recoverMs} ms after the restart; CNI ADD meanwhile: ${refusedAdd}; logs ${JSON.stringify(m.logs)}\n${trafficText(m.traffic)}`);
      expectNothingLost(m);
      // Reconnected within the backoff's longest pause (2 s) and a list, not after a watch timeout.
      expect(m.recoverMs).toBeLessThan(15_000);
      expect(refusedAdd).toMatch(/CNI ADD for pod-while-down on worker-2 failed/);
      expect(refusedAdd).toMatch(/ECONNREFUSED|API server|unreachable/i);
      // The runtime tries again once the server is back: the pod gets an address and every pod reaches it.
      added = await podUp(context.stateDir, { name, node: 'worker-2' }, sshdPid);
      for (const from of ['pod-1', 'pod-3']) {
        const reach = await labExec(from, ['ping', '-c', '3', '-i', '0.2', '-W', '1', added.ip]);
        expect(reach.code, `${from} -> ${name} (${added.ip}): ${reach.stdout}`).toBe(0);
      }
    } finally {
      if (added) await cniCall(sshdPid, 'DEL', { name, netns: name, containerId: added.containerId });
      await podDown(name);
      await kubectlOk(kubeconfig, ['delete', 'pod', '-n', podNamespace, name, '--ignore-not-found', '--wait=false']);
    }
  }, 300_000);

  it('partitioned (packets dropped both ways) while an admin edits the pool and adds one: nothing lost, then every agent holds both changes', async () => {
    const pairs = await setLabMode(context, 'ipip-always');
    const cidr = context.state.topology.pool.cidr;
    await agentsHold({ [cidr]: true }, 30_000);
    const m = await measureFault(context, {
      kind: 'api-partition',
      holdMs: outageMs,
      mode: 'ipip-always',
      bgp: true,
      pods: labPods(context),
      pairs,
      during: async () => {
        await patchPool({ natOutgoing: false });
        await kubectlOk(kubeconfigOf(context), ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: extraPool }, spec: { cidr: '172.30.0.0/16', blockSize: 26, ipipMode: 'Always', natOutgoing: true, nodeSelector: 'all()' } }));
        await sleep(3000);
        // The partition holds: no agent has seen either change.
        const views = await Promise.all(context.state.topology.nodes.map((n) => agentStatus(context.stateDir, n.name)));
        expect(views.map((v) => v.state?.pools.length)).toEqual(views.map(() => 1));
      },
    });
    measured.push(m);
    const heldMs = await agentsHold({ [cidr]: false, '172.30.0.0/16': true }, 120_000);
    console.log(`api-partition: ${m.traffic.sent} sent, ${m.traffic.lost} lost, back ${m.recoverMs} ms after the heal, changes held ${heldMs} ms later; logs ${JSON.stringify(m.logs)}\n${trafficText(m.traffic)}`);
    expectNothingLost(m);
    // The dataplane follows: the extra pool is in every node's NAT sets.
    for (const n of context.state.topology.nodes) {
      let sets = '';
      for (let i = 0; i < 60 && !sets.includes('172.30.0.0/16'); i++) {
        const listed = await labExec(n.name, ['nft', 'list', 'set', 'ip', 'gingham', 'all-pools']);
        sets = listed.stdout + listed.stderr;
        await sleep(250);
      }
      expect(sets, `${n.name}'s all-pools set`).toContain('172.30.0.0/16');
    }
    await kubectlOk(kubeconfigOf(context), ['delete', 'ippools.crd.projectcalico.org', extraPool]);
    await patchPool({ natOutgoing: true });
    await agentsHold({ [cidr]: true }, 60_000);
  }, 400_000);

  it('restored from an older etcd (resourceVersions went back): nothing lost, and a change made afterwards reaches every agent', async () => {
    const pairs = await setLabMode(context, 'ipip-always');
    const cidr = context.state.topology.pool.cidr;
    const m = await measureFault(context, { kind: 'api-restore', holdMs: 0, mode: 'ipip-always', bgp: true, pods: labPods(context), pairs });
    measured.push(m);
    console.log(`api-restore: ${m.traffic.sent} sent, ${m.traffic.lost} lost, back ${m.recoverMs} ms after the restart; logs ${JSON.stringify(m.logs)}\n${trafficText(m.traffic)}`);
    expectNothingLost(m, 2);
    // A watch resumed from a resourceVersion the restored server never reached would wait for it:
    // the agents must list again and see what changes now.
    await patchPool({ natOutgoing: false });
    const seenMs = await agentsHold({ [cidr]: false }, 60_000);
    console.log(`a pool edit after the restore reached every agent in ${seenMs} ms`);
    expect(seenMs).toBeLessThan(20_000);
    await patchPool({ natOutgoing: true });
    await agentsHold({ [cidr]: true }, 60_000);
  }, 400_000);
});
