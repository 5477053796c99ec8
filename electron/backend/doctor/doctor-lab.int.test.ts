// The doctor on the lab, from the command line as a script calls it (`doctor --lab trace ...`):
// in ipipMode Always pod-1 -> pod-3 is reachable through the tunnel; in Never with the fabric's
// source/destination checks on (the lab's default), pod-1 -> pod-3 across the subnets is predicted
// unreachable with the gateway's code, and curl from pod-1 times out as predicted; CrossSubnet
// makes it reachable again (IP-in-IP to worker-3), and curl answers. With
// GINGHAM_DOCTOR_SAVE_FIXTURES=1 the evidence of each trace is written to shared/doctor/testdata/,
// the unit tests' fixtures (how they were made).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodePairTable } from '../../../shared/doctor/pairs.ts';
import type { TraceResult } from '../../../shared/doctor/trace-result.ts';
import { kubectlOk, poolName } from '../../../lab/cluster/objects.ts';
import { labSrcdst } from '../../../lab/lab.ts';
import { runResult, sleep } from '../../../lab/sh.ts';
import { useLab, type LabLease } from '../../../lab/testing/lab-fixture.ts';
import { curlFrom } from '../../../lab/testing/probes.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const fixtures = path.join(repo, 'shared/doctor/testdata');
const save = process.env.GINGHAM_DOCTOR_SAVE_FIXTURES === '1';

let lab: LabLease;
let kubeconfig: string;
const figures: string[] = [];

async function doctor(fixture: string, ...args: string[]): Promise<{ code: number; result: TraceResult }> {
  const extra = save ? ['--save-evidence', path.join(fixtures, `${fixture}.json`)] : [];
  const started = Date.now();
  const out = await runResult(process.execPath, ['--import', 'tsx', path.join(repo, 'electron/backend/doctor/cli.ts'), '--lab', 'trace', ...args, '--json', ...extra], { timeoutMs: 60_000 });
  if (out.code === 2 || !out.stdout.trim().startsWith('{')) throw new Error(`doctor ${args.join(' ')}: exit ${out.code}: ${out.stderr}`);
  const result = JSON.parse(out.stdout) as TraceResult;
  figures.push(`${fixture}: trace ${result.ms} ms (command ${Date.now() - started} ms with tsx start and \`lab status\`), ${result.verdict.code}`);
  return { code: out.code, result };
}

/** Traces until the route lookup on worker-1 shows `encapsulation` (the agents converge after a pool patch). */
async function traceOnceConverged(fixture: string, encapsulation: string, ...args: string[]): Promise<{ code: number; result: TraceResult }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const traced = await doctor(fixture, ...args);
    if (traced.result.encapsulation === encapsulation && !traced.result.hops.some((h) => h.verdict.code === 'route-disagrees-with-pool')) return traced;
    if (Date.now() > deadline) throw new Error(`the trace still says ${traced.result.encapsulation}: ${traced.result.verdict.message}`);
    await sleep(1000);
  }
}

async function patchPool(spec: Record<string, unknown>): Promise<void> {
  await kubectlOk(kubeconfig, ['patch', 'ippools.crd.projectcalico.org', poolName, '--type=merge', '-p', JSON.stringify({ spec })]);
}

const podIp = (name: string) => lab.status.pods.find((p) => p.name === name)!.ip;
const hop = (result: TraceResult, kind: string) => result.hops.find((h) => h.kind === kind)!;

beforeAll(async () => {
  lab = await useLab({ exclusive: true, waitMs: 1_200_000, progress: (line) => console.log(`[lab] ${line}`) });
  kubeconfig = lab.status.kubeconfig!;
  await labSrcdst('all', true);
  await patchPool({ ipipMode: 'Always', vxlanMode: 'Never' });
}, 1_800_000);

afterAll(async () => {
  if (lab) {
    await patchPool({ ipipMode: 'Always', vxlanMode: 'Never' }).catch(() => {});
    await labSrcdst('all', true).catch(() => {});
    await lab.release();
  }
  console.log(`doctor figures:\n  ${figures.join('\n  ')}`);
}, 300_000);

describe('doctor trace on the lab', () => {
  it('ipipMode Always: pod-1 -> pod-3 reachable through tunl0, node addresses outside, both ways', async () => {
    const { code, result } = await traceOnceConverged('always-pod1-pod3', 'IP-in-IP', 'pod-1', 'pod-3', '--port', '80');
    expect(result.verdict, JSON.stringify(result.hops, null, 1)).toMatchObject({ ok: true, code: 'reachable' });
    expect(code).toBe(0);
    expect(hop(result, 'source-node').evidence.join('\n')).toMatch(new RegExp(`ip route get ${podIp('pod-3')} from ${podIp('pod-1')} iif cali\\w+ -> ${podIp('pod-3')} .*via 10\\.240\\.2\\.13 dev tunl0`));
    expect(hop(result, 'underlay').evidence[0]).toBe(`on the wire: outer 10.240.1.11 -> 10.240.2.13 protocol 4 (IP-in-IP), inner ${podIp('pod-1')} -> ${podIp('pod-3')}`);
    expect(hop(result, 'destination-node').evidence[0]).toMatch(/iif tunl0 -> .* dev cali/);
    expect(hop(result, 'destination-pod').evidence.join('\n')).toMatch(/ss -ltn -> LISTEN .*:80 /);
    expect(result.ms).toBeLessThan(2000);
    const same = await doctor('always-pod1-pod2', 'pod-1', 'pod-2');
    expect(same.result.verdict.code).toBe('reachable');
    // Not a pod: the trace ends where the packet leaves worker-1, and says so.
    const host = await doctor('always-pod1-worker3', 'pod-1', '10.240.2.13');
    expect(host.result.verdict.code).toBe('destination-outside-cluster');
    expect(host.code).toBe(1);
    const outside = await doctor('always-pod1-outside', 'pod-1', '198.51.100.7');
    expect(outside.result.verdict.code).toBe('destination-outside-cluster');
    expect(hop(outside.result, 'underlay').evidence).toContain('pool default-ipv4-ippool: natOutgoing true: worker-1 masquerades the source to its own address');
    // The live probe agrees: the echoes seen at every capture point, inner addresses inside protocol 4.
    const probed = await doctor('always-pod1-pod3-probe', 'pod-1', 'pod-3', '--probe');
    expect(probed.result.probe, JSON.stringify(probed.result.hops.at(-1))).toMatchObject({ ok: true, where: 'requests and replies were seen at every point' });
    expect(hop(probed.result, 'probe').verdict.code).toBe('probe-agrees');
    expect(hop(probed.result, 'probe').evidence.filter((e) => /^tcpdump on .*: [1-9]\d* echo request\(s\), [1-9]\d* reply\(ies\)$/.test(e))).toHaveLength(4);
  }, 120_000);

  it('ipipMode Never, checks on: pod-1 -> pod-3 predicted unreachable at the gateway, and curl times out', async () => {
    await patchPool({ ipipMode: 'Never' });
    const { code, result } = await traceOnceConverged('never-pod1-pod3', 'direct (unencapsulated)', 'pod-1', 'pod-3');
    expect(code).toBe(1);
    expect(result.verdict.code).toBe('gateway-cannot-route-pods');
    expect(result.verdict.message).toBe(
      "worker-1 sends pod-3's packets unencapsulated to the gateway 10.240.1.1 because the pool's ipipMode is Never; the gateway cannot route 192.168.0.0/16 (it is no cluster node and no BGPPeer): set ipipMode CrossSubnet or Always, or peer the gateway by BGP.",
    );
    expect(hop(result, 'underlay').verdict.status).toBe('fail');
    // The live probe: the seed's curl, which times out as predicted.
    const curl = await curlFrom('pod-1', podIp('pod-3'), 3);
    expect(curl.code).toBe(28);
    // Same subnet: pod addresses on the fabric; the doctor cannot see the checks without a probe.
    const near = await doctor('never-pod1-pod2', 'pod-1', 'pod-2');
    expect(near.result.verdict.code).toBe('fabric-may-drop-pod-addresses');
    // ...which the probe settles: seen leaving worker-1, never reaching worker-2.
    const probed = await doctor('never-pod1-pod2-probe', 'pod-1', 'pod-2', '--probe');
    expect(probed.result.verdict.code, JSON.stringify(probed.result.hops.at(-1))).toBe('fabric-drops-pod-addresses');
    expect(probed.result.probe?.where).toBe(
      'the requests were seen on worker-1 ens5 (source underlay) but not on worker-2 ens5 (destination underlay)',
    );
    expect(probed.code).toBe(1);
  }, 180_000);

  it('ipipMode CrossSubnet: pod-1 -> pod-3 reachable again by IP-in-IP, pod-1 -> pod-2 direct; curl answers', async () => {
    await patchPool({ ipipMode: 'CrossSubnet' });
    const { code, result } = await traceOnceConverged('crosssubnet-pod1-pod3', 'IP-in-IP', 'pod-1', 'pod-3');
    expect(result.verdict.code).toBe('reachable');
    expect(code).toBe(0);
    expect(hop(result, 'source-node').evidence.join('\n')).toContain('subnets compared: worker-1 10.240.1.11/24 and worker-3 10.240.2.13: different subnets -> IP-in-IP');
    expect((await curlFrom('pod-1', podIp('pod-3'), 5)).code).toBe(0);
    const near = await traceOnceConverged('crosssubnet-pod1-pod2', 'direct (unencapsulated)', 'pod-1', 'pod-2');
    expect(hop(near.result, 'source-node').evidence.join('\n')).toContain('worker-1 10.240.1.11/24 and worker-2 10.240.1.12: same subnet -> direct');
    // The node-pair table agrees with what the traces found on the wire side.
    const out = await runResult(process.execPath, ['--import', 'tsx', path.join(repo, 'electron/backend/doctor/cli.ts'), '--lab', 'pairs', '--json'], { timeoutMs: 60_000 });
    const table = JSON.parse(out.stdout) as NodePairTable;
    const encap = (from: string, to: string) => table.pairs.find((p) => p.from === from && p.to === to)?.encapsulation;
    expect([encap('worker-1', 'worker-2'), encap('worker-2', 'worker-1'), encap('worker-1', 'worker-3'), encap('worker-3', 'worker-1')]).toEqual(['direct', 'direct', 'ipip', 'ipip']);
    expect(table.pairs.find((p) => p.from === 'worker-1' && p.to === 'worker-3')?.crossesSubnet).toBe(true);
    expect(out.code, out.stdout).toBe(0);
  }, 180_000);

  it('vxlanMode Always: pod-1 -> pod-3 through vxlan.calico, the VTEP found by its neighbour and FDB entries', async () => {
    await patchPool({ ipipMode: 'Never', vxlanMode: 'Always' });
    const { code, result } = await traceOnceConverged('vxlan-pod1-pod3', 'VXLAN', 'pod-1', 'pod-3');
    expect(result.verdict.code, result.verdict.message).toBe('reachable');
    expect(code).toBe(0);
    expect(hop(result, 'source-node').evidence.join('\n')).toMatch(/fdb [0-9a-f:]+ dev vxlan.calico dst 10\.240\.2\.13/);
    expect(hop(result, 'underlay').evidence[0]).toMatch(/^on the wire: outer 10\.240\.1\.11 -> 10\.240\.2\.13 UDP 4789 \(VXLAN\)/);
  }, 180_000);
});
