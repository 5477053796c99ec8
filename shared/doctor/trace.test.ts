// The trace's core on evidence read from the real lab (shared/doctor/testdata/*.json, written by
// electron/backend/doctor/doctor-lab.int.test.ts with GINGHAM_DOCTOR_SAVE_FIXTURES=1: the lab's
// nodes over SSH and its API server, one file per mode and pair), and on that evidence with one
// fact changed, as a node in trouble would say it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConsoleError } from '../api/errors.ts';
import { TraceEvidence } from './evidence.ts';
import { judgeProbe } from './probe.ts';
import { resolveEndpoint } from './endpoints.ts';
import { reasonCodes } from './reason-codes.ts';
import { traceFromEvidence } from './trace.ts';
import type { TraceResult } from './trace-result.ts';

const fixture = (name: string): TraceEvidence => TraceEvidence.parse(JSON.parse(readFileSync(new URL(`./testdata/${name}.json`, import.meta.url), 'utf8')));
const kinds = (result: TraceResult) => result.hops.map((h) => `${h.kind}:${h.verdict.status}:${h.verdict.code}`);
const hop = (result: TraceResult, kind: string) => result.hops.find((h) => h.kind === kind)!;
const ip = (evidence: TraceEvidence, pod: string) => evidence.cluster.pods.find((p) => p.name === pod)!.ip;

describe('traces of the lab in each mode', () => {
  it('ipipMode Always, pod-1 -> pod-3: reachable by IP-in-IP both ways, each hop with its evidence', () => {
    const evidence = fixture('always-pod1-pod3');
    const result = traceFromEvidence(evidence);
    expect(result.verdict).toEqual({ ok: true, code: 'reachable', message: 'pod-1 reaches pod-3: IP-in-IP both ways.' });
    expect(kinds(result)).toEqual([
      'source-pod:ok:route-ok',
      'source-node:ok:route-ok',
      'underlay:ok:underlay-ok',
      'destination-node:ok:route-ok',
      'destination-pod:ok:endpoint-ok',
      'return-node:ok:route-ok',
      'return-underlay:ok:underlay-ok',
      'return-arrival:ok:route-ok',
    ]);
    const [p1, p3] = [ip(evidence, 'pod-1'), ip(evidence, 'pod-3')];
    expect(hop(result, 'source-pod').evidence).toContain(`pod-1's routes: default via 169.254.1.1 dev eth0; 169.254.1.1 dev eth0 scope link`);
    const route = hop(result, 'source-node');
    expect(route.evidence[0]).toMatch(new RegExp(`^worker-1: ip route get ${p3} from ${p1} iif cali\\w+ -> ${p3} via 10\\.240\\.2\\.13 dev tunl0$`));
    expect(route.evidence).toContain('pool default-ipv4-ippool (192.168.0.0/16): ipipMode Always, vxlanMode Never: always IP-in-IP');
    expect(route.evidence.some((e) => /^worker-1: the table's route: 192\.168\.\d+\.\d+\/26 via 10\.240\.2\.13 dev tunl0 proto 71 \(Gingham\)/.test(e))).toBe(true);
    expect(route.evidence.some((e) => /^BGP \(agent\): 192\.168\.\d+\.\d+\/26 from 10\.240\.2\.13 next hop 10\.240\.2\.13, best/.test(e))).toBe(true);
    expect(hop(result, 'underlay').evidence[0]).toBe(`on the wire: outer 10.240.1.11 -> 10.240.2.13 protocol 4 (IP-in-IP), inner ${p1} -> ${p3}`);
    expect(hop(result, 'underlay').verdict.message).toBe('The fabric sees only node addresses (10.240.1.11 -> 10.240.2.13), routed by the gateway 10.240.1.1, which knows the host subnets: source/destination checks pass.');
    expect(hop(result, 'destination-pod').evidence.some((e) => /ss -ltn -> LISTEN 0 \d+ 0\.0\.0\.0:80 /.test(e))).toBe(true);
  });

  it('ipipMode Always, pod-1 -> pod-2 on the same subnet: IP-in-IP too, with no gateway', () => {
    const result = traceFromEvidence(fixture('always-pod1-pod2'));
    expect(result.verdict.code).toBe('reachable');
    expect(hop(result, 'underlay').verdict.message).toBe('The fabric sees only node addresses (10.240.1.11 -> 10.240.1.12), on one subnet: source/destination checks pass.');
  });

  it("ipipMode Never, pod-1 -> pod-3 across subnets: the seed's failure, named at the gateway", () => {
    const result = traceFromEvidence(fixture('never-pod1-pod3'));
    expect(result.verdict).toEqual({
      ok: false,
      code: 'gateway-cannot-route-pods',
      message:
        "worker-1 sends pod-3's packets unencapsulated to the gateway 10.240.1.1 because the pool's ipipMode is Never; the gateway cannot route 192.168.0.0/16 (it is no cluster node and no BGPPeer): set ipipMode CrossSubnet or Always, or peer the gateway by BGP.",
    });
    expect(hop(result, 'source-node').verdict.code).toBe('route-ok');
    expect(hop(result, 'source-node').evidence).toContain('pool default-ipv4-ippool (192.168.0.0/16): ipipMode Never, vxlanMode Never: no encapsulation');
    expect(hop(result, 'underlay').evidence[0]).toMatch(/^on the wire: 192\.168\.\S+ -> 192\.168\.\S+ \(pod addresses, unencapsulated\) to next hop 10\.240\.1\.1 on ens5$/);
    expect(hop(result, 'source-node').evidence).toContain("BGP's next hop 10.240.2.13 is not on worker-1's link: the kernel resolves it through 10.240.1.1");
  });

  it('ipipMode Never with the gateway peered by BGP: the gateway is no longer the reason', () => {
    const evidence = fixture('never-pod1-pod3');
    evidence.cluster.bgpPeers = [{ name: 'vpc-router', peerIP: '10.240.1.1' }];
    const result = traceFromEvidence(evidence);
    expect(hop(result, 'underlay').verdict).toMatchObject({ status: 'ok', code: 'gateway-peers-by-bgp' });
  });

  it('ipipMode Never, pod-1 -> pod-2 on one subnet: pod addresses on the fabric, which checks may drop', () => {
    const result = traceFromEvidence(fixture('never-pod1-pod2'));
    expect(result.verdict.ok).toBe(false);
    expect(result.verdict.code).toBe('fabric-may-drop-pod-addresses');
    expect(result.verdict.message).toMatch(/^worker-1 puts pod addresses on the fabric unencapsulated \(\S+ -> \S+, to worker-2\) because the pool's ipipMode is Never: a fabric with source\/destination checks/);
  });

  it('ipipMode CrossSubnet: IP-in-IP to worker-3 (another subnet), direct to worker-2, the subnets compared as evidence', () => {
    const far = traceFromEvidence(fixture('crosssubnet-pod1-pod3'));
    expect(far.verdict.code).toBe('reachable');
    expect(far.encapsulation).toBe('IP-in-IP');
    expect(hop(far, 'source-node').evidence).toContain(
      'pool default-ipv4-ippool (192.168.0.0/16): ipipMode CrossSubnet, vxlanMode Never; subnets compared: worker-1 10.240.1.11/24 and worker-3 10.240.2.13: different subnets -> IP-in-IP',
    );
    const near = traceFromEvidence(fixture('crosssubnet-pod1-pod2'));
    expect(near.encapsulation).toBe('direct (unencapsulated)');
    expect(hop(near, 'source-node').verdict.code).toBe('route-ok');
  });

  it('vxlanMode Always: the VTEP from its neighbour and FDB entries, UDP 4789 on the wire', () => {
    const result = traceFromEvidence(fixture('vxlan-pod1-pod3'));
    expect(result.verdict.code).toBe('reachable');
    const route = hop(result, 'source-node');
    expect(route.evidence.some((e) => /^worker-1: neighbour \S+ dev vxlan\.calico lladdr [0-9a-f:]{17} PERMANENT$/.test(e))).toBe(true);
    expect(route.evidence.some((e) => /^worker-1: fdb [0-9a-f:]{17} dev vxlan\.calico dst 10\.240\.2\.13/.test(e))).toBe(true);
    expect(route.evidence).toContain('worker-1: vxlan.calico VNI 4096 port 4789 local 10.240.1.11');
    expect(route.evidence.some((e) => e.startsWith('BGP (agent): no path for'))).toBe(true);
    expect(hop(result, 'underlay').evidence[0]).toMatch(/^on the wire: outer 10\.240\.1\.11 -> 10\.240\.2\.13 UDP 4789 \(VXLAN\), inner /);
  });
});

describe('destinations that are no pod', () => {
  it("a node's address: traced to where the packet leaves the source's node, then said to be beyond the trace", () => {
    const result = traceFromEvidence(fixture('always-pod1-worker3'));
    expect(kinds(result)).toEqual(['source-pod:ok:route-ok', 'source-node:ok:route-ok', 'underlay:unknown:destination-outside-cluster']);
    expect(result.verdict.message).toBe("10.240.2.13 is not a pod of the cluster (it is worker-3's address): the trace ends where the packet leaves worker-1, masqueraded; what the fabric does next is not known.");
  });

  it('an address outside the cluster: the default route, and natOutgoing masquerading it', () => {
    const result = traceFromEvidence(fixture('always-pod1-outside'));
    expect(hop(result, 'source-node').evidence[0]).toMatch(/-> 198\.51\.100\.7 via 10\.240\.1\.1 dev ens5/);
    expect(hop(result, 'underlay').evidence).toContain('pool default-ipv4-ippool: natOutgoing true: worker-1 masquerades the source to its own address');
    expect(result.verdict).toMatchObject({ ok: false, code: 'destination-outside-cluster' });
  });

  it('an IPv6 address is refused, saying that IPv6 is not traced yet', () => {
    const evidence = fixture('always-pod1-pod3');
    expect(() => resolveEndpoint(evidence.cluster, 'fd00:10::5', 'destination')).toThrow(/is an IPv6 address: the doctor traces IPv4 only for now/);
  });
});

describe('the same evidence with one fact changed', () => {
  it('a node registered as /32 (calico#2375): CrossSubnet encapsulates to every node, so a direct route disagrees', () => {
    const evidence = fixture('crosssubnet-pod1-pod2');
    evidence.cluster.nodes.find((n) => n.name === 'worker-1')!.ipv4Address = '10.240.1.11/32';
    const result = traceFromEvidence(evidence);
    const route = hop(result, 'source-node');
    expect(route.evidence.some((e) => e.includes('worker-1 is registered as 10.240.1.11/32, a subnet of one address (calico#2375)'))).toBe(true);
    expect(route.verdict).toMatchObject({ status: 'warn', code: 'route-disagrees-with-pool' });
  });

  it('worker-2 registered as /32 under CrossSubnet (calico#2375): there direct, back by IP-in-IP, named asymmetric', () => {
    // worker-1's side as read in CrossSubnet (direct to worker-2); worker-2's as read when it
    // tunnelled to worker-1 (ipipMode Always), which is what a /32 worker-2 does under CrossSubnet.
    const evidence = fixture('crosssubnet-pod1-pod2');
    evidence.destination = fixture('always-pod1-pod2').destination!;
    evidence.cluster.nodes.find((n) => n.name === 'worker-2')!.ipv4Address = '10.240.1.12/32';
    const result = traceFromEvidence(evidence);
    expect(hop(result, 'source-node').verdict.code).toBe('route-ok');
    const back = hop(result, 'return-node');
    expect(back.evidence.some((e) => e.includes('worker-2 is registered as 10.240.1.12/32, a subnet of one address'))).toBe(true);
    expect(back.verdict).toMatchObject({ status: 'warn', code: 'asymmetric-path' });
    expect(back.verdict.message).toBe(
      'The way back differs: worker-1 sends by direct (unencapsulated), worker-2 answers by IP-in-IP. Stateful firewalls on the path see only one direction; both nodes should read the pool the same way (check their agents and projectcalico.org/IPv4Address).',
    );
    expect(hop(result, 'return-arrival').evidence[0]).toMatch(/iif tunl0 -> \S+ dev cali/);
  });

  it('a pool changed to Never that the routes do not follow yet: a warning, the path still works', () => {
    const evidence = fixture('always-pod1-pod3');
    evidence.cluster.pools[0]!.ipipMode = 'Never';
    const result = traceFromEvidence(evidence);
    expect(hop(result, 'source-node').verdict.code).toBe('route-disagrees-with-pool');
    expect(result.verdict.ok).toBe(true);
    expect(result.verdict.message).toContain('Warning: worker-1 sends pod-1\'s packets for pod-3 by IP-in-IP via 10.240.2.13 on tunl0, but the pool asks for direct (unencapsulated)');
  });

  it("the kernel's refusals: no route, reverse-path filtering", () => {
    const noRoute = fixture('always-pod1-pod3');
    noRoute.source!.sections['forward'] = 'RTNETLINK answers: No route to host';
    expect(traceFromEvidence(noRoute).verdict.code).toBe('no-route');
    const rp = fixture('always-pod1-pod3');
    rp.destination!.sections['arrive tunl0'] = 'RTNETLINK answers: Invalid cross-device link';
    const result = traceFromEvidence(rp);
    expect(result.verdict.code).toBe('rp-filter-drop');
    expect(hop(result, 'destination-node').verdict.status).toBe('fail');
  });

  it('worker-3 without tunl0 cannot take IP-in-IP', () => {
    const evidence = fixture('always-pod1-pod3');
    delete evidence.destination!.sections['arrive tunl0'];
    expect(traceFromEvidence(evidence).verdict).toMatchObject({ ok: false, code: 'tunnel-device-missing' });
  });

  it('a tunnel to a node that no longer runs the destination', () => {
    const evidence = fixture('always-pod1-pod3');
    evidence.source!.sections['forward'] = evidence.source!.sections['forward']!.replace('"gateway":"10.240.2.13"', '"gateway":"10.240.1.12"');
    expect(traceFromEvidence(evidence).verdict.code).toBe('tunnel-to-wrong-node');
  });

  it("the lab's pods after the switch to VXLAN: their MTU (1480, made under IP-in-IP) leaves no room for VXLAN's header", () => {
    // As read from the lab: the pods keep the MTU they were created with (calico#1709).
    const evidence = fixture('vxlan-pod1-pod3');
    const result = traceFromEvidence(evidence);
    expect(hop(result, 'underlay').evidence).toContain("MTU: pod-1's eth0 1480 + VXLAN 50 = 1530; worker-1's ens5 1500");
    expect(hop(result, 'underlay').verdict).toMatchObject({ status: 'warn', code: 'pod-mtu-exceeds-path' });
    expect(result.verdict.ok).toBe(true);
    expect(result.verdict.message).toContain("pod-1's MTU 1480 leaves no room for VXLAN's 50 bytes on ens5 (MTU 1500)");
    // A pod made under VXLAN (1450) fits.
    evidence.source!.sections['pod-links'] = evidence.source!.sections['pod-links']!.replace('"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1480', '"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1450');
    expect(hop(traceFromEvidence(evidence), 'underlay').verdict.code).toBe('underlay-ok');
  });

  it('IP-in-IP with the pods made for it (1480 + 20 = 1500) fits', () => {
    expect(hop(traceFromEvidence(fixture('always-pod1-pod3')), 'underlay').evidence).toContain("MTU: pod-1's eth0 1480 + IP-in-IP 20 = 1500; worker-1's ens5 1500");
  });

  it('a port nothing listens on', () => {
    const evidence = fixture('always-pod1-pod3');
    evidence.request.port = 8080;
    const result = traceFromEvidence(evidence);
    expect(result.verdict.code).toBe('port-not-listening');
    expect(hop(result, 'destination-pod').evidence).toContain('pod-3: ss -ltn -> nothing listens on TCP 8080');
  });

  it('a VTEP without its FDB entry', () => {
    const evidence = fixture('vxlan-pod1-pod3');
    evidence.source!.sections['fdb'] = '[]';
    expect(traceFromEvidence(evidence).verdict.code).toBe('vxlan-fdb-missing');
  });

  it('a destination node that could not be read is a gap, not a guess', () => {
    const evidence = fixture('always-pod1-pod3');
    delete evidence.destination;
    evidence.gaps = ['worker-3: no SSH node matches worker-3: add one (Nodes) with its name or address'];
    const result = traceFromEvidence(evidence);
    expect(result.verdict).toMatchObject({ ok: false, code: 'evidence-missing' });
    expect(result.hops.at(-1)).toMatchObject({ node: 'worker-3', kind: 'destination-node' });
    expect(result.verdict.message).toContain('no SSH node matches worker-3');
  });

  it('a pod the cluster does not have is refused, with the ones it has', () => {
    const evidence = fixture('always-pod1-pod3');
    evidence.request.destination = 'pod-9';
    expect(() => traceFromEvidence(evidence)).toThrow(ConsoleError);
    expect(() => traceFromEvidence(evidence)).toThrow('No pod pod-9 (the destination) in the cluster: give a pod\'s name, namespace/name or an IPv4 address; pods: pod-1, pod-2, pod-3.');
  });
});

describe('the live probe beside the prediction (pings and tcpdump at each point, on the lab)', () => {
  it('ipipMode Always: the echoes seen at all four points, the probe agrees', () => {
    const evidence = fixture('always-pod1-pod3-probe');
    const result = judgeProbe(traceFromEvidence(evidence), evidence.probe!);
    expect(result.verdict.code).toBe('reachable');
    expect(result.probe).toEqual({ ok: true, replies: 3, where: 'requests and replies were seen at every point' });
    const probe = hop(result, 'probe');
    expect(probe.verdict.code).toBe('probe-agrees');
    expect(probe.evidence.slice(1).map((e) => e.replace(/cali\w+/, 'caliX'))).toEqual([
      'tcpdump on worker-1 caliX (source veth): 3 echo request(s), 3 reply(ies)',
      'tcpdump on worker-1 ens5 (source underlay): 3 echo request(s), 3 reply(ies)',
      'tcpdump on worker-3 ens5 (destination underlay): 3 echo request(s), 3 reply(ies)',
      'tcpdump on worker-3 caliX (destination veth): 3 echo request(s), 3 reply(ies)',
    ]);
  });

  it("ipipMode Never with the checks on, same subnet: the wire settles what the prediction could not", () => {
    const evidence = fixture('never-pod1-pod2-probe');
    const predicted = traceFromEvidence(evidence);
    expect(predicted.verdict.code).toBe('fabric-may-drop-pod-addresses');
    const result = judgeProbe(predicted, evidence.probe!);
    expect(result.verdict).toMatchObject({ ok: false, code: 'fabric-drops-pod-addresses' });
    expect(result.probe?.where).toBe('the requests were seen on worker-1 ens5 (source underlay) but not on worker-2 ens5 (destination underlay)');
  });

  it('a probe that contradicts the prediction says so, and where the packets stopped', () => {
    const evidence = fixture('always-pod1-pod3-probe');
    const probe = evidence.probe!;
    probe.output = probe.output.replace(/3 received/, '0 received');
    const veth = probe.points.find((p) => p.where === 'destination veth')!;
    veth.output = '';
    const result = judgeProbe(traceFromEvidence(evidence), probe);
    expect(result.verdict.code).toBe('probe-disagrees');
    expect(result.verdict.ok).toBe(false);
    expect(result.verdict.message).toContain(`Prediction and probe disagree: the doctor predicted reachable, the probe got no reply (the requests were seen on worker-3 ens5 (destination underlay) but not on worker-3 ${veth.dev} (destination veth))`);
  });
});

describe('docs/doctor.md', () => {
  it('documents every reason code', () => {
    const whole = readFileSync(new URL('../../docs/doctor.md', import.meta.url), 'utf8');
    // The trace's codes; the scan's have their own section (scan.test.ts checks those).
    const doc = whole.slice(whole.indexOf('## Reason codes'), whole.indexOf('## Scan codes'));
    const documented = new Set([...doc.matchAll(/^### (\S+)$/gm)].map((m) => m[1]));
    expect(reasonCodes.filter((c) => !documented.has(c))).toEqual([]);
    expect([...documented].filter((c) => !(reasonCodes as readonly string[]).includes(c!))).toEqual([]);
  });
});
