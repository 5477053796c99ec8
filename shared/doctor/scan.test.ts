import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { caliInterfaceName } from '../net/index.ts';
import { scanCodes } from './scan-codes.ts';
import type { ScanEvidence, ScanNodeEvidence } from './scan-evidence.ts';
import { probeTargets, scanFromEvidence } from './scan.ts';
import { snapshotFromObjects } from './scan-evidence.ts';
import { sessionAge } from './scan-bgp.ts';
import { addr, block, link, node, nodeEvidence, objects, pool, type KernelFacts } from './testing/scan-fixture.ts';

const web = caliInterfaceName('default', 'web');
const cluster = (ipipMode = 'Always', vxlanMode = 'Never', extraPools: unknown[] = []) =>
  objects({
    pools: [pool('default-ipv4-ippool', '192.168.0.0/16', ipipMode, vxlanMode), ...extraPools],
    blocks: [block('192.168.1.0/26', 'worker-1', { 5: 'default/web' }), block('192.168.2.0/26', 'worker-2'), block('192.168.3.0/26', 'worker-3')],
    nodes: [
      node('worker-1', '10.240.1.11/24', { 'projectcalico.org/IPv4IPIPTunnelAddr': '192.168.1.0', 'projectcalico.org/IPv4VXLANTunnelAddr': '192.168.1.1', 'projectcalico.org/VXLANTunnelMACAddr': '66:00:00:00:00:01' }),
      node('worker-2', '10.240.1.12/24', { 'projectcalico.org/IPv4IPIPTunnelAddr': '192.168.2.0', 'projectcalico.org/IPv4VXLANTunnelAddr': '192.168.2.1', 'projectcalico.org/VXLANTunnelMACAddr': '66:00:00:00:00:02' }),
      node('worker-3', '10.240.2.13/24', { 'projectcalico.org/IPv4IPIPTunnelAddr': '192.168.3.0', 'projectcalico.org/IPv4VXLANTunnelAddr': '192.168.3.1', 'projectcalico.org/VXLANTunnelMACAddr': '66:00:00:00:00:03' }),
    ],
  });

/** worker-1 as a healthy Gingham node in IPIP Always: its routes, devices, the pod, BGP up with both peers. */
function healthyKernel(): Required<Pick<KernelFacts, 'routes' | 'links' | 'addrs' | 'netns'>> & KernelFacts {
  return {
    routes: [
      { dst: 'default', gateway: '10.240.1.1', dev: 'ens5' },
      { dst: '10.240.1.0/24', dev: 'ens5', protocol: 'kernel', scope: 'link', prefsrc: '10.240.1.11' },
      { type: 'blackhole', dst: '192.168.1.0/26', protocol: '71' },
      { dst: '192.168.1.5', dev: web, protocol: '71', scope: 'link' },
      { dst: '192.168.2.0/26', gateway: '10.240.1.12', dev: 'tunl0', protocol: '71', flags: ['onlink'] },
      { dst: '192.168.3.0/26', gateway: '10.240.2.13', dev: 'tunl0', protocol: '71', flags: ['onlink'] },
    ],
    links: [link('lo', 65536), link('ens5', 1500, 'veth'), link('tunl0', 1480, 'ipip'), link(web, 1480, 'veth')],
    addrs: [addr('lo', 65536, '127.0.0.1/8'), addr('ens5', 1500, '10.240.1.11/24'), addr('tunl0', 1480, '192.168.1.0/32')],
    netns: { '/proc/4242/ns/net': [addr('lo', 65536, '127.0.0.1/8'), addr('eth0', 1480, '192.168.1.5/32')] },
  };
}

// As BIRD's `show protocols` and the agent's bgp.status word an established session: state up, info Established.
const sessions = [
  { address: '10.240.1.12', state: 'up', since: '07:00:00', info: 'Established' },
  { address: '10.240.2.13', state: 'up', since: '07:00:00', info: 'Established' },
];
const rib = [
  { prefix: '192.168.2.0/26', from: '10.240.1.12', nextHop: '10.240.1.12', best: true },
  { prefix: '192.168.3.0/26', from: '10.240.2.13', nextHop: '10.240.2.13', best: true },
];

function scan(kernel: KernelFacts, objectsOf = cluster(), bgp: Partial<ScanNodeEvidence['bgp']> = {}, rest: Partial<ScanNodeEvidence> = {}, extra: Partial<ScanEvidence> = {}) {
  const evidence: ScanEvidence = { collectedAt: '2026-12-03T08:20:00Z', objects: objectsOf, nodes: [nodeEvidence('worker-1', kernel, { sessions, routes: rib, ...bgp }, { sessionsAgain: sessions, ...rest })], unreachable: [], gaps: [], ...extra };
  return scanFromEvidence(evidence);
}
const offloadOn = 'Features for vxlan.calico:\ntx-checksumming: on\n\ttx-checksum-ip-generic: on\n';
const codes = (result: ReturnType<typeof scan>) => result.findings.map((f) => `${f.code} ${f.id.split(':').slice(1).join(':')}`);

describe('scan: the plan against the kernel', () => {
  it('finds nothing on a healthy node (routes, tunl0, the pod in a namespace only a process holds, BGP, probes)', () => {
    const kernel = healthyKernel();
    kernel.extra = { probes: ['target underlay 10.240.1.12 ens5 1500 worker-2', 'probe underlay 10.240.1.12 1472 ok', 'probe underlay 10.240.1.12 56 ok', 'target ipip 192.168.2.0 tunl0 1480 worker-2', 'probe ipip 192.168.2.0 1452 ok', 'probe ipip 192.168.2.0 56 ok'].join('\n') };
    const result = scan(kernel);
    expect(result.findings).toEqual([]);
    expect(result.nodes).toEqual([{ name: 'worker-1', read: true, speaker: 'bird' }]);
  });

  it('names a missing route, a route on the wrong device, and a stale blackhole with its safe fix', () => {
    const kernel = healthyKernel();
    kernel.routes = kernel.routes.filter((r) => (r as { dst: string }).dst !== '192.168.3.0/26');
    (kernel.routes[4] as { dev: string }).dev = 'ens5';
    kernel.routes.push({ type: 'blackhole', dst: '192.168.1.64/26', protocol: '71' }, { type: 'blackhole', dst: '192.168.9.0/26', protocol: 'bird' });
    const result = scan(kernel);
    expect(codes(result)).toEqual(['route-missing 192.168.3.0/26', 'route-wrong-device 192.168.2.0/26', 'stale-blackhole 192.168.1.64/26', 'stale-blackhole 192.168.9.0/26']);
    const ours = result.findings.find((f) => f.id === 'stale-blackhole@worker-1:192.168.1.64/26')!;
    expect(ours.fix).toEqual({ safe: true, description: expect.stringContaining("Gingham's protocol"), commands: ['ip route del blackhole 192.168.1.64/26 proto 71'] });
    // BIRD's is not Gingham's to delete: advice only.
    expect(result.findings.find((f) => f.id.endsWith('192.168.9.0/26'))!.fix).toMatchObject({ safe: false, commands: [] });
    expect(ours.evidence).toEqual(['kernel: blackhole 192.168.1.64/26 proto 71 (Gingham)', 'plan: no route for 192.168.1.64/26 on worker-1']);
  });

  it('after a switch to Never: a leftover vxlan.calico and an address left on tunl0 (calico#4856), each with a safe fix', () => {
    const kernel = healthyKernel();
    kernel.routes = kernel.routes.filter((r) => (r as { dev?: string }).dev !== 'tunl0');
    kernel.routes.push({ dst: '192.168.2.0/26', gateway: '10.240.1.12', dev: 'ens5', protocol: '71', flags: ['onlink'] }, { dst: '192.168.3.0/26', gateway: '10.240.1.1', dev: 'ens5', protocol: '71' });
    kernel.links.push(link('vxlan.calico', 1450, 'vxlan', { id: 4096, port: 4789, local: '10.240.1.11' }));
    kernel.addrs.push(addr('vxlan.calico', 1450, '192.168.1.1/32'));
    const result = scan(kernel, cluster('Never'));
    const leftovers = result.findings.filter((f) => f.code.startsWith('leftover'));
    expect(leftovers.map((f) => [f.id, f.fix?.commands])).toEqual([
      ['leftover-device@worker-1:vxlan.calico', ['ip link del vxlan.calico']],
      ['leftover-tunnel-address@worker-1:tunl0', ['ip addr del 192.168.1.0/32 dev tunl0']],
    ]);
    expect(leftovers.every((f) => f.fix?.safe)).toBe(true);
  });

  it('VXLAN: a missing neighbour, a stale FDB entry, the checksum offload on a 5.4 kernel (calico#3145), a tunnel MTU too large', () => {
    const kernel = healthyKernel();
    kernel.routes = kernel.routes.filter((r) => (r as { dev?: string }).dev !== 'tunl0');
    kernel.routes.push({ dst: '192.168.2.0/26', gateway: '192.168.2.1', dev: 'vxlan.calico', protocol: '71', flags: ['onlink'] }, { dst: '192.168.3.0/26', gateway: '192.168.3.1', dev: 'vxlan.calico', protocol: '71', flags: ['onlink'] });
    kernel.links = kernel.links.filter((l) => (l as { ifname: string }).ifname !== 'tunl0');
    kernel.addrs = kernel.addrs.filter((a) => (a as { ifname: string }).ifname !== 'tunl0');
    kernel.links.push(link('vxlan.calico', 1500, 'vxlan', { id: 4096, port: 4789, local: '10.240.1.11' }));
    kernel.addrs.push(addr('vxlan.calico', 1500, '192.168.1.1/32'));
    kernel.netns = { '/var/run/netns/web': [addr('eth0', 1450, '192.168.1.5/32')] };
    kernel.neigh = [{ dst: '192.168.2.1', dev: 'vxlan.calico', lladdr: '66:00:00:00:00:02', state: ['PERMANENT'] }];
    kernel.fdb = [
      { mac: '66:00:00:00:00:02', dst: '10.240.1.12', state: 'permanent' },
      { mac: '66:00:00:00:00:03', dst: '10.240.2.13', state: 'permanent' },
      { mac: '66:00:00:00:00:09', dst: '10.240.9.9', state: 'permanent' },
    ];
    kernel.extra = { kernel: '5.4.0-150-generic', 'offloads vxlan.calico': offloadOn };
    const result = scan(kernel, cluster('Never', 'Always'));
    expect(codes(result)).toEqual([
      'tunnel-mtu-too-large vxlan.calico',
      'vxlan-neighbour-missing 192.168.3.1',
      'stale-fdb 66:00:00:00:00:09>10.240.9.9',
      'vxlan-checksum-offload-on vxlan.calico',
    ]);
    expect(result.findings.find((f) => f.code === 'stale-fdb')!.fix?.commands).toEqual(['bridge fdb del 66:00:00:00:00:09 dev vxlan.calico dst 10.240.9.9']);
    expect(result.findings.find((f) => f.code === 'vxlan-checksum-offload-on')!.fix?.commands).toEqual(['ethtool -K vxlan.calico tx-checksum-ip-generic off']);
  });
});

describe("scan: vxlan.calico's checksum offload, by Felix's rule", () => {
  function vxlanNode(kernelRelease: string) {
    const kernel = healthyKernel();
    kernel.routes = kernel.routes.filter((r) => (r as { dev?: string }).dev !== 'tunl0');
    kernel.routes.push({ dst: '192.168.2.0/26', gateway: '192.168.2.1', dev: 'vxlan.calico', protocol: '71', flags: ['onlink'] }, { dst: '192.168.3.0/26', gateway: '192.168.3.1', dev: 'vxlan.calico', protocol: '71', flags: ['onlink'] });
    kernel.links = kernel.links.filter((l) => (l as { ifname: string }).ifname !== 'tunl0');
    kernel.addrs = kernel.addrs.filter((a) => (a as { ifname: string }).ifname !== 'tunl0');
    kernel.links.push(link('vxlan.calico', 1450, 'vxlan', { id: 4096, port: 4789, local: '10.240.1.11' }));
    kernel.addrs.push(addr('vxlan.calico', 1450, '192.168.1.1/32'));
    kernel.extra = { kernel: kernelRelease, 'offloads vxlan.calico': offloadOn };
    return kernel;
  }
  const felix = (name: string, featureDetectOverride: string) => ({ apiVersion: 'crd.projectcalico.org/v1', kind: 'FelixConfiguration', metadata: { name }, spec: { featureDetectOverride } });
  const offloadCodes = (result: ReturnType<typeof scan>) => codes(result).filter((c) => c.startsWith('vxlan-checksum-offload-on'));

  it('names nothing on a kernel newer than 5.7, where Felix leaves the offload on too (the lab: 6.18)', () => {
    expect(offloadCodes(scan(vxlanNode('6.18.44-fc-v1300'), cluster('Never', 'Always')))).toEqual([]);
  });

  it("names it where the cluster's FelixConfiguration says ChecksumOffloadBroken=true, and says which object", () => {
    const objects = { ...cluster('Never', 'Always'), felixConfigurations: [felix('default', 'ChecksumOffloadBroken=true')] };
    const result = scan(vxlanNode('6.18.44-fc-v1300'), objects);
    expect(offloadCodes(result)).toEqual(['vxlan-checksum-offload-on vxlan.calico']);
    expect(result.findings.find((f) => f.code === 'vxlan-checksum-offload-on')!.evidence).toContain('FelixConfiguration default sets ChecksumOffloadBroken=true');
  });

  it("takes the node's own FelixConfiguration before the cluster's, as Felix does", () => {
    const objects = { ...cluster('Never', 'Always'), felixConfigurations: [felix('default', 'ChecksumOffloadBroken=true'), felix('node.worker-1', 'ChecksumOffloadBroken=false')] };
    expect(offloadCodes(scan(vxlanNode('6.18.44-fc-v1300'), objects))).toEqual([]);
    const old = { ...cluster('Never', 'Always'), felixConfigurations: [felix('default', 'ChecksumOffloadBroken=false')] };
    expect(offloadCodes(scan(vxlanNode('5.4.0-150-generic'), old))).toEqual([]);
  });
});

describe('scan: a calico-node node', () => {
  it("takes Felix's /32 device routes to the other nodes' VTEPs on vxlan.calico as Felix's way, not as extra routes (the mixed lab warned of every one)", () => {
    // As Felix v3.31.0 programs VXLAN Always on the mixed lab: the VTEP reached by a device
    // route (protocol boot), the block via the VTEP with onlink, its own block's blackhole as 80.
    const kernel = healthyKernel();
    kernel.routes = [
      { dst: 'default', gateway: '10.240.1.1', dev: 'ens5' },
      { dst: '10.240.1.0/24', dev: 'ens5', protocol: 'kernel', scope: 'link', prefsrc: '10.240.1.11' },
      { type: 'blackhole', dst: '192.168.1.0/26', protocol: '80' },
      { dst: '192.168.1.5', dev: web, scope: 'link' },
      { dst: '192.168.2.1', dev: 'vxlan.calico', scope: 'link' },
      { dst: '192.168.2.0/26', gateway: '192.168.2.1', dev: 'vxlan.calico', flags: ['onlink'] },
      { dst: '192.168.3.1', dev: 'vxlan.calico', scope: 'link' },
      { dst: '192.168.3.0/26', gateway: '192.168.3.1', dev: 'vxlan.calico', flags: ['onlink'] },
      // A /32 on vxlan.calico to an address that is no node's VTEP is still named.
      { dst: '192.168.9.9', dev: 'vxlan.calico', scope: 'link' },
    ];
    const result = scan(kernel, cluster('Never', 'Always'));
    expect(codes(result).filter((c) => c.startsWith('route-'))).toEqual(['route-extra 192.168.9.9/32']);
  });
});

describe('scan: BGP', () => {
  it('a session blocked by a firewall rule, a missing session, a route a peer did not send', () => {
    const kernel = healthyKernel();
    kernel.extra = { 'nft-bgp': 'tcp dport 179 drop' };
    const result = scan(kernel, cluster(), { sessions: [{ address: '10.240.1.12', state: 'start', info: 'Active Socket: Connection timed out' }], routes: [] }, { sessionsAgain: [{ address: '10.240.1.12', state: 'start', info: 'Active Socket: Connection timed out' }] });
    const down = result.findings.find((f) => f.code === 'bgp-session-down')!;
    expect(down.message).toContain("worker-1's session with 10.240.1.12 (mesh peer worker-2) is Active Socket: Connection timed out, not Established");
    expect(down.message).toContain('A firewall rule on the node matches BGP');
    expect(down.evidence).toContain('nftables on worker-1: tcp dport 179 drop');
    expect(codes(result).filter((c) => c.startsWith('bgp'))).toEqual(['bgp-session-down 10.240.1.12', 'bgp-session-missing 10.240.2.13']);
    const received = scan(healthyKernel(), cluster(), { routes: [rib[0]!] });
    expect(codes(received)).toEqual(['bgp-route-not-received 192.168.3.0/26<worker-3']);
  });

  it('a session that changed between the two readings flaps; one up for seconds is named as recent', () => {
    const flapping = scan(healthyKernel(), cluster(), {}, { sessionsAgain: [{ ...sessions[0]!, state: 'start', info: 'Connect', since: '08:19:59' }, sessions[1]!] });
    expect(flapping.findings.map((f) => [f.code, f.severity])).toEqual([['bgp-session-flapping', 'error']]);
    expect(flapping.findings[0]!.message).toContain('changed while it was read (Established -> Connect)');
    const recent = [{ ...sessions[0]!, since: '08:19:50' }, sessions[1]!];
    const young = scan(healthyKernel(), cluster(), { sessions: recent }, { sessionsAgain: recent });
    expect(young.findings.map((f) => [f.code, f.severity, f.message.includes('10 s ago')])).toEqual([['bgp-session-flapping', 'warning', true]]);
    expect(sessionAge('2026-12-03T08:19:00.000Z', Date.parse('2026-12-03T08:20:00Z') / 1000)).toBe(60);
    expect(sessionAge('23:59:50', Date.parse('2026-12-03T00:00:10Z') / 1000)).toBe(20);
  });

  it("an established session in each speaker's words is up: the agent's and BIRD's `up`/Established, an FSM's Established", () => {
    // The lab's agents report up/Established: every session of the healthy lab was named down before.
    for (const words of [{ state: 'up', info: 'Established' }, { state: 'up' }, { state: 'Established' }]) {
      const up = sessions.map((s) => ({ address: s.address, since: s.since, ...words }));
      expect(scan(healthyKernel(), cluster(), { sessions: up }, { sessionsAgain: up }).findings, JSON.stringify(words)).toEqual([]);
    }
    const starting = sessions.map((s) => ({ ...s, state: 'start', info: 'Passive' }));
    expect(codes(scan(healthyKernel(), cluster(), { sessions: starting }, { sessionsAgain: starting }))).toEqual(['bgp-session-down 10.240.1.12', 'bgp-session-down 10.240.2.13']);
  });

  it('VXLAN-only pools run no BGP: no session is expected', () => {
    const kernel = healthyKernel();
    const result = scan(kernel, cluster('Never', 'Always'), { source: 'none', sessions: [], routes: [] });
    expect(result.findings.filter((f) => f.code.startsWith('bgp'))).toEqual([]);
  });
});

describe('scan: MTU', () => {
  it('a pod whose MTU is larger than the tunnel leaves (calico#1709), found in a namespace only a process holds', () => {
    const kernel = healthyKernel();
    kernel.netns = { '/proc/4242/ns/net': [addr('eth0', 1500, '192.168.1.5/32')] };
    const result = scan(kernel);
    expect(codes(result)).toEqual(['pod-mtu-too-large default/web']);
    expect(result.findings[0]!.evidence[0]).toBe('/proc/4242/ns/net: eth0 mtu 1500');
    expect(result.findings[0]!.message).toContain("more than the 1480 that IP-in-IP's 20-byte header leaves of the host's 1500");
  });

  it('a pod IPAM records that no namespace holds', () => {
    const kernel = healthyKernel();
    kernel.netns = {};
    expect(codes(scan(kernel))).toEqual(['pod-netns-not-found 192.168.1.5']);
  });

  it('DF probes: a path that carries 1300 bytes over the underlay, and a peer that answers nothing', () => {
    const kernel = healthyKernel();
    kernel.extra = {
      probes: [
        'target underlay 10.240.2.13 ens5 1500 worker-3',
        'probe underlay 10.240.2.13 1472 fail',
        'probe underlay 10.240.2.13 56 ok',
        'probe underlay 10.240.2.13 1422 fail',
        'probe underlay 10.240.2.13 1322 fail',
        'probe underlay 10.240.2.13 1272 ok',
        'probe underlay 10.240.2.13 972 ok',
        'target ipip 192.168.3.0 tunl0 1480 worker-3',
        'probe ipip 192.168.3.0 1452 fail',
        'probe ipip 192.168.3.0 56 ok',
        'target underlay 10.240.1.12 ens5 1500 worker-2',
        'probe underlay 10.240.1.12 1472 fail',
        'probe underlay 10.240.1.12 56 fail',
      ].join('\n'),
    };
    const result = scan(kernel);
    expect(codes(result)).toEqual(['path-mtu-too-small underlay>worker-3', 'peer-unreachable underlay>worker-2']);
    expect(result.findings[0]!.message).toContain('carries at most about 1300 bytes, less than ens5\'s MTU 1500');
  });

  it('probes every other node over the underlay, and through the tunnel its pair uses', () => {
    const { snapshot } = snapshotFromObjects(cluster('CrossSubnet'));
    expect(probeTargets(snapshot, 'worker-1')).toEqual([
      { kind: 'underlay', address: '10.240.1.12', dev: '-', peer: 'worker-2' },
      { kind: 'underlay', address: '10.240.2.13', dev: '-', peer: 'worker-3' },
      { kind: 'ipip', address: '192.168.3.0', dev: 'tunl0', peer: 'worker-3' },
    ]);
  });
});

describe('scan: the node and the cluster', () => {
  it('the agent installed but not answering, then restarted moments ago; a full disk', () => {
    const kernel = healthyKernel();
    kernel.extra = { agent: 'installed', df: 'lab-fault-full 1024 1024 0 100% /run/gingham\n/dev/vda1 100000 5000 95000 6% /' };
    const down = scan(kernel, cluster(), { source: 'none', sessions: [], routes: [] }, { agent: { answered: false, note: 'no agent answers on /run/gingham/agent.sock' } });
    expect(codes(down)).toEqual(['agent-not-running agent', 'node-disk-full /run/gingham']);
    kernel.extra = { agent: 'installed\nsocket 1764749990' };
    const restarted = scan(kernel, cluster(), {}, { agent: { answered: true, synced: false, connected: true } });
    expect(restarted.findings.map((f) => [f.code, f.severity, f.message.includes('10 s ago')])).toEqual([['agent-restarted', 'warning', true]]);
    // Synced: an install or an upgrade as much as a crash, so it is told, not warned of.
    const started = scan(kernel, cluster(), {}, { agent: { answered: true, synced: true, connected: true } });
    expect(started.findings.map((f) => [f.code, f.severity])).toEqual([['agent-restarted', 'info']]);
    expect(started.findings[0]!.message).toMatch(/installed, upgraded or restarted/);
  });

  it('an API server that does not answer, a node that cannot be read, an IPv6 pool named as not scanned', () => {
    const refused = scanFromEvidence({ collectedAt: 'now', apiError: 'connect ECONNREFUSED 10.240.1.10:6443', nodes: [], unreachable: [], gaps: [] });
    expect(codes(refused)).toEqual(['api-server-unreachable api']);
    const v6 = scan(healthyKernel(), cluster('Always', 'Never', [pool('default-ipv6-ippool', 'fd00:10::/48', 'Never', 'Never')]), {}, {}, { unreachable: [{ node: 'worker-3', error: 'worker-3\'s SSH did not answer within 8 s' }] });
    expect(codes(v6)).toEqual(['node-unreachable ssh', 'ipv6-not-scanned IPPool/default-ipv6-ippool']);
  });
});

describe('docs/doctor.md', () => {
  it('documents every scan code', () => {
    const doc = readFileSync(new URL('../../docs/doctor.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Scan codes'));
    const documented = new Set([...section.matchAll(/^### (\S+)$/gm)].map((m) => m[1]));
    expect(scanCodes.filter((c) => !documented.has(c))).toEqual([]);
  });
});
