// The capture plan from the doctor's evidence as the lab's nodes gave it (shared/doctor/testdata/):
// which interfaces a flow crosses in each mode, in the order its packets meet them each way, and
// the BPF filters that keep only the two pods' packets (inside the outer header on the underlay).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TraceEvidence } from '../doctor/evidence.ts';
import { ipipFilter, planFlowCapture, plainFilter, vxlanFilter } from './flow-hops.ts';

const testdata = path.join(path.dirname(fileURLToPath(import.meta.url)), '../doctor/testdata');
const evidence = (name: string) => TraceEvidence.parse(JSON.parse(readFileSync(path.join(testdata, `${name}.json`), 'utf8')));
const names = (name: string) => planFlowCapture(evidence(name)).points.map((p) => `${p.name} ${p.role}`);

describe('planFlowCapture', () => {
  it('ipipMode Always across subnets: veth, tunl0 and ens5 on each node, the way back reversed', () => {
    const plan = planFlowCapture(evidence('always-pod1-pod3'));
    expect(plan.points.map((p) => `${p.name} ${p.role}`)).toEqual([
      'worker-1/cali83dbd022cd5 pod',
      'worker-1/tunl0 tunnel',
      'worker-1/ens5 underlay',
      'worker-3/ens5 underlay',
      'worker-3/tunl0 tunnel',
      'worker-3/cali87081bf6f89 pod',
    ]);
    expect(plan.forward).toMatchObject({ from: '192.168.0.129', to: '192.168.0.65', label: 'pod-1 -> pod-3', encap: 'ipip', hops: [0, 1, 2, 3, 4, 5], outerSrc: '10.240.1.11', outerDst: '10.240.2.13' });
    expect(plan.reverse).toMatchObject({ label: 'pod-3 -> pod-1', encap: 'ipip', hops: [5, 4, 3, 2, 1, 0] });
    expect(plan.points[0]!.title).toBe("pod-1's veth (cali83dbd022cd5) on worker-1");
    expect(plan.points[1]!.filter).toBe('ip and host 192.168.0.129 and host 192.168.0.65');
    // The inner addresses at their offsets behind the outer header, either way round.
    expect(plan.points[2]!.filter).toBe('ip proto 4 and host 10.240.1.11 and host 10.240.2.13 and ((ip[32:4] = 0xc0a80081 and ip[36:4] = 0xc0a80041) or (ip[32:4] = 0xc0a80041 and ip[36:4] = 0xc0a80081))');
    expect(plan.notes).toEqual([]);
    expect(plan.vni).toBeUndefined();
  });

  it('vxlanMode Always: vxlan.calico, and the VNI and inner frame in the underlay filter', () => {
    const plan = planFlowCapture(evidence('vxlan-pod1-pod3'), { protocol: 'tcp', port: 80 });
    expect(plan.points.map((p) => p.name)).toEqual(['worker-1/cali83dbd022cd5', 'worker-1/vxlan.calico', 'worker-1/ens5', 'worker-3/ens5', 'worker-3/vxlan.calico', 'worker-3/cali87081bf6f89']);
    expect(plan.vni).toBe(4096);
    expect(plan.points[0]!.filter).toBe('ip and host 192.168.0.129 and host 192.168.0.65 and tcp port 80');
    expect(plan.points[2]!.filter).toBe(
      'udp dst port 4789 and host 10.240.1.11 and host 10.240.2.13 and (udp[12:4] & 0xffffff00) = 0x100000 and udp[28:2] = 0x0800 and ((udp[42:4] = 0xc0a80081 and udp[46:4] = 0xc0a80041) or (udp[42:4] = 0xc0a80041 and udp[46:4] = 0xc0a80081)) and udp[39] = 6 and (udp[50:2] = 80 or udp[52:2] = 80)',
    );
  });

  it('direct (CrossSubnet in one subnet, or Never): no tunnel device, pod addresses on ens5', () => {
    expect(names('crosssubnet-pod1-pod2')).toEqual(['worker-1/cali83dbd022cd5 pod', 'worker-1/ens5 underlay', 'worker-2/ens5 underlay', 'worker-2/califbd243bfedd pod']);
    const plan = planFlowCapture(evidence('never-pod1-pod3'));
    expect(plan.forward.encap).toBe('direct');
    expect(plan.points[1]!.filter).toBe('ip and host 192.168.0.129 and host 192.168.0.65');
    // CrossSubnet across the subnets is IP-in-IP again.
    expect(names('crosssubnet-pod1-pod3')).toContain('worker-1/tunl0 tunnel');
  });

  it('refuses an end that is not a pod', () => {
    expect(() => planFlowCapture(evidence('always-pod1-worker3'))).toThrow(/10\.240\.2\.13 is not a pod/);
  });

  it('filters by protocol and port where asked, and never by port for ICMP', () => {
    expect(plainFilter('10.0.0.1', '10.0.0.2', { protocol: 'icmp', port: 80 })).toBe('ip and host 10.0.0.1 and host 10.0.0.2 and icmp');
    expect(plainFilter('10.0.0.1', '10.0.0.2', { port: 53 })).toBe('ip and host 10.0.0.1 and host 10.0.0.2 and port 53');
    expect(ipipFilter('1.1.1.1', '2.2.2.2', '10.0.0.1', '10.0.0.2', { protocol: 'icmp' })).toMatch(/ and ip\[29\] = 1$/);
    expect(vxlanFilter('1.1.1.1', '2.2.2.2', '10.0.0.1', '10.0.0.2', undefined, 8472)).toMatch(/^udp dst port 8472 and host 1\.1\.1\.1 and host 2\.2\.2\.2 and udp\[28:2\] = 0x0800/);
  });
});
