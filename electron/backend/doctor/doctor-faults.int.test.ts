// The doctor's scan against the lab's reusable faults (lab/faults/, `npm run lab -- fault KIND`),
// from the command line as a script calls it (`doctor --lab scan --json`): on a healthy lab in
// ipipMode Always it finds nothing; each fault injected is named with its code, its node and its
// subject, and nothing else is; healed, the scan is clean again. The faults: worker-2's fabric
// link at MTU 1400 (path-mtu-too-small, both ways, worker-3's through the router too), TCP 179
// dropped by an nftables rule between worker-1 and worker-3 (bgp-session-down naming the peer and
// the rule), pod-1's MTU at 1500 where IP-in-IP leaves 1480 (pod-mtu-too-large), and a route
// deleted and a vxlan.calico made by hand while worker-1's agent hangs (a running agent repairs
// both within a second; scan-stock-node.int.test.ts scans them on a node with no agent). The
// seed's two failures (source/destination checks with ipipMode Never, Never across subnets) are
// traced in doctor-lab.int.test.ts. The clean scans' times are printed, and their median bounded.
// Last, in vxlanMode Always: no offload finding on the lab (only the pods' MTU left from IP-in-IP),
// and vxlan.calico's checksum offload named on every node once FelixConfiguration says
// ChecksumOffloadBroken=true (Felix's own rule).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScanFinding, ScanResult } from '../../../shared/doctor/scan-result.ts';
import { recentSessionSeconds } from '../../../shared/doctor/scan-bgp.ts';
import type { InjectedFault } from '../../../lab/faults/fault.ts';
import { faultContext, faultKind } from '../../../lab/faults/faults.ts';
import { kubeconfigOf, setLabMode } from '../../../lab/faults/lab-modes.ts';
import { applyObjects, kubectlOk } from '../../../lab/cluster/objects.ts';
import { runResult, sleep } from '../../../lab/sh.ts';
import { useLab, type LabLease } from '../../../lab/testing/lab-fixture.ts';
import { labExec, routesOf } from '../../../lab/testing/probes.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The median of the clean scans of the four nodes must stay under this. Measured on this project's
 * 2-core machine, loaded by other helpers' tests (2026-12-07): median 1.3 s (1.2-1.4 s over 5
 * clean scans); the bound is 1.46x that, so a scan twice as slow fails.
 */
const cleanScanBoundMs = 1900;

let lab: LabLease;
let context: ReturnType<typeof faultContext>;
const cleanScanMs: number[] = [];
const figures: string[] = [];
const injected: InjectedFault[] = [];

async function scan(what: string): Promise<{ code: number; result: ScanResult }> {
  const out = await runResult(process.execPath, ['--import', 'tsx', path.join(repo, 'electron/backend/doctor/cli.ts'), '--lab', 'scan', '--json'], { timeoutMs: 60_000 });
  if (out.code === 2 || !out.stdout.trim().startsWith('{')) throw new Error(`doctor scan: exit ${out.code}: ${out.stderr}`);
  const result = JSON.parse(out.stdout) as ScanResult;
  if (result.findings.length === 0) cleanScanMs.push(result.ms!);
  figures.push(`${what}: scan ${result.ms} ms, ${result.findings.map((f) => f.id).join(', ') || 'nothing found'}`);
  return { code: out.code, result };
}

const listed = (result: ScanResult) => result.findings.map((f) => `${f.id}: ${f.message}`).join('\n') || 'nothing found';

/** Scans until `done` holds (the agents and sessions settle in seconds), or fails with the last scan. */
async function scanUntil(what: string, done: (result: ScanResult) => boolean, timeoutMs: number): Promise<{ code: number; result: ScanResult }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const scanned = await scan(what);
    if (done(scanned.result)) return scanned;
    if (Date.now() > deadline) throw new Error(`${what}: not as expected after ${timeoutMs / 1000} s; the last scan:\n${listed(scanned.result)}`);
    await sleep(2000);
  }
}

async function expectClean(what: string, timeoutMs: number): Promise<void> {
  const { code, result } = await scanUntil(what, (r) => r.findings.length === 0, timeoutMs);
  expect(result.nodes.filter((n) => n.read).map((n) => n.name).sort()).toEqual(['master', 'worker-1', 'worker-2', 'worker-3']);
  expect(result.gaps).toEqual([]);
  expect(code).toBe(0);
}

async function inject(kind: string, options: { node: string; peer?: string }): Promise<InjectedFault> {
  const fault = await faultKind(kind).inject(context, options);
  injected.push(fault);
  return fault;
}

async function heal(fault: InjectedFault): Promise<void> {
  injected.splice(injected.indexOf(fault), 1);
  await fault.heal();
  expect((await fault.leftBehind?.()) ?? []).toEqual([]);
}

const byId = (result: ScanResult, id: string): ScanFinding | undefined => result.findings.find((f) => f.id === id);

beforeAll(async () => {
  lab = await useLab({ exclusive: true, waitMs: 1_200_000, progress: (line) => console.log(`[lab] ${line}`) });
  context = faultContext((line) => console.log(`[fault] ${line}`), lab.stateDir);
  await setLabMode(context, 'ipip-always');
  // A lab just made (or just switched) has agents and sessions younger than the scan's "recent".
  await expectClean('healthy lab, before the faults', 240_000);
}, 1_800_000);

afterAll(async () => {
  for (const fault of injected.splice(0)) await fault.heal().catch((error: Error) => console.log(`heal after a failure: ${error.message}`));
  if (lab) await lab.release();
  const sorted = [...cleanScanMs].sort((a, b) => a - b);
  console.log(`doctor scan figures:\n  ${figures.join('\n  ')}\n  clean scans of the four nodes: ${sorted.join(', ')} ms`);
}, 300_000);

describe('doctor scan on the lab, fault by fault', () => {
  it('a healthy lab: nothing found on the four nodes, exit 0', async () => {
    await expectClean('healthy lab', 10_000);
  }, 60_000);

  it("worker-2's fabric link at MTU 1400: path-mtu-too-small from and to worker-2, and nothing else; clean once healed", async () => {
    const fault = await inject('mtu', { node: 'worker-2' });
    const expected = [
      'path-mtu-too-small@worker-2:underlay>master',
      'path-mtu-too-small@worker-2:underlay>worker-1',
      'path-mtu-too-small@worker-2:underlay>worker-3',
      'path-mtu-too-small@master:underlay>worker-2',
      'path-mtu-too-small@worker-1:underlay>worker-2',
      'path-mtu-too-small@worker-3:underlay>worker-2',
    ].sort();
    const { code, result } = await scan('mtu worker-2');
    expect(result.findings.map((f) => f.id).sort(), listed(result)).toEqual(expected);
    const near = byId(result, 'path-mtu-too-small@worker-1:underlay>worker-2')!;
    expect(near).toMatchObject({ node: 'worker-1', severity: 'error' });
    expect(near.evidence).toContain('ping -M do -s 1472 10.240.1.12 (1500 bytes, DF) over the underlay (ens5): no reply');
    expect(near.message).toMatch(/^The path from worker-1 to worker-2 over the underlay \(ens5\) carries at most about \d+ bytes, less than ens5's MTU 1500/);
    expect(code).toBe(1);
    await heal(fault);
    await expectClean('mtu worker-2 healed', 20_000);
  }, 120_000);

  it('TCP 179 dropped between worker-1 and worker-3: bgp-session-down on worker-1 naming worker-3 and the rule; clean once healed', async () => {
    const fault = await inject('bgp-block', { node: 'worker-1', peer: 'worker-3' });
    const blockedId = 'bgp-session-down@worker-1:10.240.2.13';
    // The first reading may catch the sessions changing state as they go down.
    const { code, result } = await scanUntil('bgp-block worker-1 worker-3', (r) => byId(r, blockedId) !== undefined && byId(r, 'bgp-session-down@worker-3:10.240.1.11') !== undefined, 30_000);
    const blocked = byId(result, blockedId)!;
    expect(blocked.message).toMatch(/^worker-1's session with 10\.240\.2\.13 \(.*worker-3.*\) is .*, not Established: no routes are learnt from it\. A firewall rule on the node matches BGP's port 179\.$/);
    expect(blocked.evidence).toContain('nftables on worker-1: ip saddr 10.240.2.13 tcp dport 179 drop');
    expect(blocked.fix?.description).toBe('Remove the rule that drops TCP 179 between the nodes.');
    // The far end sees its session down too (no rule on its side); every other session is untouched.
    expect(result.findings.map((f) => f.id).sort(), listed(result)).toEqual([blockedId, 'bgp-session-down@worker-3:10.240.1.11']);
    expect(code).toBe(1);
    await heal(fault);
    // A session that came up again counts as a flap for a minute.
    await expectClean('bgp-block healed', (recentSessionSeconds + 60) * 1000);
  }, 240_000);

  it("pod-1's MTU at 1500 under IP-in-IP (1480): pod-mtu-too-large on worker-1 naming the pod; clean once healed", async () => {
    const fault = await inject('pod-mtu', { node: 'worker-1' });
    const { code, result } = await scan('pod-mtu worker-1');
    expect(result.findings.map((f) => f.id), listed(result)).toEqual(['pod-mtu-too-large@worker-1:default/pod-1']);
    const found = result.findings[0]!;
    expect(found).toMatchObject({ code: 'pod-mtu-too-large', node: 'worker-1', severity: 'error' });
    expect(found.message).toMatch(/^Pod default\/pod-1 \(192\.168\.\d+\.\d+\) has MTU 1500 on eth0, more than the 1480 that IP-in-IP's 20-byte header leaves of the host's 1500/);
    expect(code).toBe(1);
    await heal(fault);
    await expectClean('pod-mtu healed', 20_000);
  }, 120_000);

  it("worker-1's agent hung (SIGSTOP), a block's route deleted and a vxlan.calico made by hand meanwhile: agent-not-running, route-missing and leftover-device on worker-1, nothing else; clean once the agent runs again and repairs both", async () => {
    const fault = await inject('agent-freeze', { node: 'worker-1' });
    // A route the agent made to another node's block over tunl0 (IP-in-IP Always).
    const victim = (await routesOf('worker-1')).find((r) => r.dev === 'tunl0' && r.protocol === '71' && r.dst.endsWith('/26'));
    expect(victim, 'worker-1 has a Gingham route over tunl0 to another block').toBeDefined();
    const byHand = async (command: string[]) => {
      const done = await labExec('worker-1', command);
      expect(done.code, `${command.join(' ')}: ${done.stderr}`).toBe(0);
    };
    await byHand(['ip', 'route', 'del', victim!.dst]);
    await byHand(['ip', 'link', 'add', 'vxlan.calico', 'type', 'vxlan', 'id', '4096', 'dstport', '4789', 'nolearning']);
    await byHand(['ip', 'link', 'set', 'vxlan.calico', 'up']);
    // The block's node: with its route gone, the tunnel between the two carries nothing either way
    // (worker-1 cannot send to it, and its replies to worker-1's probes have no way back).
    const owner = context.state.topology.nodes.find((n) => n.address === victim!.gateway)!.name;
    const { code, result } = await scan('agent-freeze worker-1, a route deleted, vxlan.calico added');
    expect(result.findings.map((f) => f.id).sort(), listed(result)).toEqual(
      ['agent-not-running@worker-1:agent', `route-missing@worker-1:${victim!.dst}`, 'leftover-device@worker-1:vxlan.calico', `peer-unreachable@worker-1:ipip>${owner}`, `peer-unreachable@${owner}:ipip>worker-1`].sort(),
    );
    expect(byId(result, 'leftover-device@worker-1:vxlan.calico')!.fix).toMatchObject({ safe: true, commands: ['ip link del vxlan.calico'] });
    expect(byId(result, `route-missing@worker-1:${victim!.dst}`)!.severity).toBe('error');
    expect(code).toBe(1);
    // The agent, running again, puts the route back and removes the device no pool asks for.
    await heal(fault);
    await expectClean('agent-freeze healed', 30_000);
    expect((await routesOf('worker-1')).some((r) => r.dst === victim!.dst && r.dev === 'tunl0')).toBe(true);
  }, 180_000);

  it(`the clean scans of the four nodes: median under ${cleanScanBoundMs} ms (goal 5 s)`, () => {
    const sorted = [...cleanScanMs].sort((a, b) => a - b);
    expect(sorted.length).toBeGreaterThanOrEqual(5);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    console.log(`clean scan median ${median} ms over ${sorted.length} scans (${sorted[0]}-${sorted.at(-1)} ms)`);
    expect(median).toBeLessThan(cleanScanBoundMs);
  });
});

describe('doctor scan on the lab in vxlanMode Always', () => {
  const felixDefault = { apiVersion: 'crd.projectcalico.org/v1', kind: 'FelixConfiguration', metadata: { name: 'default' }, spec: { featureDetectOverride: 'ChecksumOffloadBroken=true' } };
  afterAll(async () => {
    await kubectlOk(kubeconfigOf(context), ['delete', 'felixconfigurations.crd.projectcalico.org', 'default', '--ignore-not-found']).catch(() => undefined);
    await setLabMode(context, 'ipip-always');
  }, 300_000);

  it("names no offload on the lab in VXLAN (vxlan.calico's checksum offload is on, as Felix leaves it on this 6.18 kernel); with FelixConfiguration's ChecksumOffloadBroken=true, every node's vxlan.calico is named, and none once the override goes", async () => {
    await setLabMode(context, 'vxlan-always');
    // The pods were made under IP-in-IP and keep MTU 1480, more than VXLAN's 1450 (calico#1709:
    // Calico's pods too keep theirs until they are made again): the scan says so, and only that.
    const stalePods = ['worker-1:default/pod-1', 'worker-2:default/pod-2', 'worker-3:default/pod-3'].map((s) => `pod-mtu-too-large@${s}`);
    const offload = ['master', 'worker-1', 'worker-2', 'worker-3'].map((n) => `vxlan-checksum-offload-on@${n}:vxlan.calico`);
    const ids = (r: ScanResult) => r.findings.map((f) => f.id).sort();
    const settled = await scanUntil('lab in VXLAN Always', (r) => JSON.stringify(ids(r)) === JSON.stringify([...stalePods].sort()), 240_000);
    expect(ids(settled.result)).toEqual([...stalePods].sort());
    await applyObjects(kubeconfigOf(context), [felixDefault]);
    const { code, result } = await scan('VXLAN Always, ChecksumOffloadBroken=true');
    expect(ids(result), listed(result)).toEqual([...stalePods, ...offload].sort());
    const named = byId(result, 'vxlan-checksum-offload-on@worker-1:vxlan.calico')!;
    expect(named.evidence).toContain('FelixConfiguration default sets ChecksumOffloadBroken=true');
    expect(named.fix).toMatchObject({ safe: true, commands: ['ethtool -K vxlan.calico tx-checksum-ip-generic off'] });
    expect(code).toBe(1);
    await kubectlOk(kubeconfigOf(context), ['delete', 'felixconfigurations.crd.projectcalico.org', 'default']);
    const after = await scan('VXLAN Always, override removed');
    expect(ids(after.result), listed(after.result)).toEqual([...stalePods].sort());
  }, 420_000);
});
