// The user-space tunl0 (and the tunnel admission table) on the seed's cluster in namespaces, over
// a 9001-byte underlay as AWS has: bulk TCP between pods through the helper's kernel fast path
// (BPF) and through its pump alone, with jumbo segments; a host outside the cluster that sends
// crafted IP-in-IP and VXLAN to a node gets no inner packet to a pod while cluster nodes still do;
// the helper alone (no nftables) drops IP-in-IP from hosts outside its set and counts it, on both
// paths; and a `kill -9` of the agents loses no ping.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vxlanMacForNode } from '../../shared/net/index.ts';
import { converged } from './testing/convergence.ts';
import { runSync } from '../../lab/sh.ts';
import { SeedTopology, inNs, waitFor, type PoolMode } from '../../lab/testing/seed-topology.ts';
import { helperPath } from './userspace-tunnel.ts';

const topology = new SeedTopology('u', { mtu: 9001 });
const [worker1, , worker3] = topology.nodes as [typeof topology.nodes[0], typeof topology.nodes[0], typeof topology.nodes[0]];
const outsider = { netns: `${topology.prefix}-out`, port: `${topology.prefix.slice(0, 6)}ou`, address: '10.240.1.99' };
const children: ChildProcess[] = [];

function background(netns: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess & { output: () => string } {
  const child = spawn('ip', ['netns', 'exec', netns, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  children.push(child);
  return Object.assign(child, { output: () => out });
}

/**
 * Python (no raw sockets in Node) that sends crafted IP-in-IP: argv outer source and destination,
 * inner source and destination, UDP port. The kernel fills in the outer length and checksum.
 */
const craftedIpip = `
import socket, struct, sys
osrc, odst, isrc, idst, port = sys.argv[1:6]
def checksum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
def ip(src, dst, proto, payload, version=4, total=None, options=b''):
    ihl = 5 + len(options) // 4
    h = struct.pack('!BBHHHBBH4s4s', (version << 4) | ihl, 0, total or ihl * 4 + len(payload), 1, 0, 64, proto, 0, socket.inet_aton(src), socket.inet_aton(dst)) + options
    return h[:10] + struct.pack('!H', checksum(h)) + h[12:] + payload
def udp(text):
    return struct.pack('!HHHH', 40000, int(port), 8 + len(text), 0) + text
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for outer in [
    ip(osrc, odst, 4, b'\\x45\\x00\\x00'),
    ip(osrc, odst, 4, ip(isrc, idst, 17, udp(b'inner-ipv6'), version=6)),
    ip(osrc, odst, 4, ip(isrc, idst, 17, udp(b'bad-length'), total=1400)),
    ip(osrc, odst, 4, ip(isrc, idst, 17, udp(b'with-options')), options=b'\\x01\\x01\\x01\\x00'),
]:
    raw.sendto(outer, (odst, 0))
`;

/** A UDP listener in `netns` that prints each datagram's text. */
async function udpListener(netns: string, port: number): Promise<() => string> {
  const script = `require('node:dgram').createSocket('udp4').on('message', (m) => console.log(m.toString())).bind(${port}, () => console.log('bound'))`;
  const child = background(netns, [process.execPath, '-e', script]);
  await waitFor('the UDP listener', () => child.output().includes('bound'), 20_000);
  return child.output;
}

function sendUdp(netns: string, to: string, port: number, text: string, times = 5): void {
  for (let i = 0; i < times; i++) inNs(netns, ['bash', '-c', `echo ${text} > /dev/udp/${to}/${port}`], { allowFail: true });
}

function helperPids(netns: string): number[] {
  return runSync('ip', ['netns', 'pids', netns]).split('\n').filter(Boolean).map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('gingham-tunl0');
      } catch {
        return false;
      }
    });
}

function helperFile(netns: string, extension: string): string {
  const inode = /\[(\d+)\]/.exec(inNs(netns, ['readlink', '/proc/self/ns/net']))![1];
  return path.join(topology.dir, 'run', 'dataplane', `tunl0-${inode}.${extension}`);
}

function helperLog(netns: string): string {
  try {
    return readFileSync(helperFile(netns, 'log'), 'utf8');
  } catch {
    return '';
  }
}

/** The node's helper's counters, asked on its control socket as the agent asks them. */
function helperStats(netns: string): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(helperFile(netns, 'sock'), () => socket.write('stats\n'));
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (!text.includes('\n')) return;
      socket.destroy();
      const words = text.trim().split(' ').slice(1);
      resolve(Object.fromEntries(words.flatMap((w, i) => (i % 2 === 0 ? [[w, words[i + 1]!]] : []))));
    });
    socket.on('error', reject);
  });
}

/** Restarts the agents with the helper's kernel fast path on or off (the helper goes with tunl0). */
async function restartAgents(fastPath: 'on' | 'off'): Promise<void> {
  await topology.stopAgents();
  if (fastPath === 'off') process.env.GINGHAM_TUNL0_FASTPATH = 'off';
  else delete process.env.GINGHAM_TUNL0_FASTPATH;
  for (const node of topology.nodes) topology.startAgent(node, ['--userspace-ipip']);
  await converged(topology, 'IPIP Always', 120_000);
}

async function inMode(mode: PoolMode): Promise<void> {
  topology.setMode(mode);
  await converged(topology, mode, 60_000);
}

beforeAll(async () => {
  topology.up();
  // Source/destination checks off: the outsider is an ordinary host on worker-1's subnet.
  topology.setSrcDstChecks(new Set());
  runSync('ip', ['netns', 'add', outsider.netns]);
  runSync('ip', ['link', 'add', outsider.port, 'netns', topology.fabric, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outsider.netns]);
  inNs(topology.fabric, ['ip', 'link', 'set', outsider.port, 'master', 'br1', 'mtu', '9001', 'up']);
  const o = (...args: string[]) => inNs(outsider.netns, args);
  o('ip', 'link', 'set', 'lo', 'up');
  o('ip', 'addr', 'add', `${outsider.address}/24`, 'dev', 'eth0');
  o('ip', 'link', 'set', 'eth0', 'mtu', '9001', 'up');
  o('ip', 'route', 'add', 'default', 'via', '10.240.1.1');
  topology.setMode('IPIP Always');
  for (const node of topology.nodes) topology.startAgent(node, ['--userspace-ipip']);
  await converged(topology, 'IPIP Always', 180_000);
}, 240_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await topology.stopAgents();
  runSync('ip', ['netns', 'del', outsider.netns], { allowFail: true });
  topology.cleanup();
});

describe('jumbo frames (9001-byte underlay)', () => {
  /** iperf3 pod-1 -> pod-3 for 3 s; bits per second as the receiver counted them. */
  async function iperf(port: number): Promise<number> {
    const server = background(worker3.pod.netns, ['iperf3', '-s', '-1', '-p', String(port), '--forceflush']);
    await waitFor('iperf3 to listen', () => server.output().includes('listening'), 20_000);
    const report = JSON.parse(inNs(worker1.pod.netns, ['iperf3', '-c', worker3.pod.ip, '-p', String(port), '-t', '3', '-J'])) as {
      end: { sum_received: { bits_per_second: number } };
    };
    return report.end.sum_received.bits_per_second;
  }
  const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

  it('carries bulk TCP between pods in the kernel fast path: super-packets encapsulated by BPF, none through the pump (kernel VXLAN alongside)', async () => {
    await inMode('IPIP Always');
    expect(inNs(worker1.netns, ['ip', '-o', 'link', 'show', 'tunl0'])).toContain('mtu 8981');
    expect(helperLog(worker1.netns)).toContain('kernel fast path on');
    const before = await helperStats(worker1.netns);
    const userspace = await iperf(5202);
    const after = await helperStats(worker1.netns);
    const [sentFast, receivedFast] = [Number(after['encapsulated-fast']) - Number(before['encapsulated-fast']), Number(after['decapsulated-fast']) - Number(before['decapsulated-fast'])];
    await inMode('VXLAN Always');
    const vxlan = await iperf(5203);
    const line = `iperf3 pod-1 -> pod-3, 3 s, 9001 MTU underlay (pods at 8981): tunl0 helper (kernel fast path) ${(userspace / 1e9).toFixed(2)} Gbit/s, kernel VXLAN ${(vxlan / 1e9).toFixed(2)} Gbit/s (ratio ${(userspace / vxlan).toFixed(2)}; load ${load()})`;
    console.log(`${line}; worker-1's BPF encapsulated ${sentFast} packets and decapsulated ${receivedFast} (the ACKs)`);
    expect(after.fastpath).toBe('bpf');
    // BPF takes the kernel's TCP super-packets whole (up to 64 KiB): on average each carries more
    // than one 8941-byte wire segment, which is all the pump could send at a time.
    expect(sentFast, line).toBeGreaterThan(1000);
    expect((userspace * 3) / 8 / sentFast, line).toBeGreaterThan(8941);
    expect(receivedFast, line).toBeGreaterThan(100);
    expect(after.unrouted).toBe(before.unrouted);
    expect(userspace, line).toBeGreaterThan(100e6);
  });

  it('a capture on tunl0 sees its outgoing packets, as on the kernel device: they take the pump while it runs, the fast path again after', async () => {
    await inMode('IPIP Always');
    const capture = background(worker1.netns, ['tcpdump', '-n', '-l', '-i', 'tunl0', '-c', '3', `icmp and dst ${worker3.pod.ip}`]);
    await waitFor(() => `tcpdump on tunl0: ${capture.output()}`, () => capture.output().includes('listening'), 10_000);
    await waitFor(() => `the helper to see the capture: ${helperLog(worker1.netns)}`, () => helperLog(worker1.netns).includes('a packet capture watches tunl0'), 5_000);
    inNs(worker1.pod.netns, ['ping', '-c', '3', '-i', '0.2', '-W', '1', worker3.pod.ip]);
    await waitFor(() => `three echo requests seen on tunl0: ${capture.output()}`, () => (capture.output().match(/ICMP echo request/g) ?? []).length === 3, 10_000);
    await waitFor(() => `the fast path back: ${helperLog(worker1.netns)}`, () => helperLog(worker1.netns).includes('no packet capture watches tunl0 any more'), 5_000);
    const before = Number((await helperStats(worker1.netns))['encapsulated-fast']);
    inNs(worker1.pod.netns, ['ping', '-c', '3', '-i', '0.2', '-W', '1', worker3.pod.ip]);
    expect(Number((await helperStats(worker1.netns))['encapsulated-fast'])).toBeGreaterThanOrEqual(before + 3);
  });

  it('carries bulk TCP between pods through the pump alone (GINGHAM_TUNL0_FASTPATH=off) in 8941-byte segments', async () => {
    await inMode('IPIP Always');
    await restartAgents('off');
    try {
      expect(helperLog(worker1.netns)).toContain('kernel fast path off (GINGHAM_TUNL0_FASTPATH=off)');
      const userspace = await iperf(5204);
      const stats = await helperStats(worker1.netns);
      const line = `iperf3 pod-1 -> pod-3, 3 s, 9001 MTU underlay: tunl0 helper, pump alone ${(userspace / 1e9).toFixed(2)} Gbit/s (load ${load()})`;
      console.log(line);
      expect(stats.fastpath).toBe('off');
      expect(Number(stats['encapsulated-fast'])).toBe(0);
      // A pump that drops every super-packet larger than its buffer moves next to nothing (a
      // few retransmitted segments); a working one moves hundreds of megabytes here.
      expect(userspace, line).toBeGreaterThan(100e6);
    } finally {
      await restartAgents('on');
    }
  });
});

describe('tunnel packets only from cluster hosts', () => {
  it('IP-in-IP: an outside host gets no inner packet to a pod; a cluster node still does', async () => {
    await inMode('IPIP Always');
    const heard = await udpListener(worker1.pod.netns, 9999);
    // The outsider encapsulates as any IP-in-IP host would (here with the same helper, in its
    // plain stdin mode), with an inner source in worker-3's block.
    const attacker = background(outsider.netns, [helperPath, 'tunl0', outsider.address]);
    await waitFor('the outsider tunnel', () => attacker.output().includes('ready'), 10_000);
    attacker.stdin!.write(`set 1\n${worker1.block} ${worker1.address.split('/')[0]}\n`);
    const o = (...args: string[]) => inNs(outsider.netns, args);
    o('ip', 'link', 'set', 'tunl0', 'mtu', '1480', 'up');
    o('ip', 'addr', 'add', '192.168.3.130/32', 'dev', 'tunl0');
    o('ip', 'route', 'add', worker1.block, 'dev', 'tunl0', 'src', '192.168.3.130');
    const wire = background(topology.fabric, ['tcpdump', '-n', '-l', '-i', outsider.port, 'ip proto 4']);
    await waitFor('tcpdump', () => wire.output().includes('listening on'), 10_000);
    sendUdp(outsider.netns, worker1.pod.ip, 9999, 'from-outsider-ipip');
    sendUdp(worker3.pod.netns, worker1.pod.ip, 9999, 'from-pod-3-ipip');
    await waitFor(() => `pod-3's datagrams: ${heard()}`, () => heard().includes('from-pod-3-ipip'), 10_000);
    await waitFor('the outsider packets on the wire', () => wire.output().includes(`${outsider.address} > 10.240.1.11: IP 192.168.3.130.`), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(heard()).not.toContain('from-outsider-ipip');
    const table = inNs(worker1.netns, ['nft', 'list', 'table', 'inet', 'gingham-tunnels']);
    expect(table).toContain('10.240.1.11');
    expect(table).toMatch(/ip protocol ipencap ip saddr != @cluster-hosts counter packets [1-9]/);
    attacker.kill('SIGKILL');
  });

  it('VXLAN: an outside host gets no inner frame to a pod; a cluster node still does', async () => {
    await inMode('VXLAN Always');
    const heard = await udpListener(worker1.pod.netns, 9998);
    const o = (...args: string[]) => inNs(outsider.netns, args);
    o('ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '4096', 'dstport', '4789', 'local', outsider.address, 'dev', 'eth0', 'nolearning');
    o('ip', 'link', 'set', 'vx0', 'mtu', '1450', 'up');
    o('ip', 'addr', 'add', '192.168.3.131/32', 'dev', 'vx0');
    const mac = vxlanMacForNode(worker1.name);
    o('ip', 'neigh', 'add', worker1.pod.ip, 'lladdr', mac, 'dev', 'vx0', 'nud', 'permanent');
    o('bridge', 'fdb', 'add', mac, 'dev', 'vx0', 'dst', worker1.address.split('/')[0]!, 'self', 'permanent');
    o('ip', 'route', 'add', `${worker1.pod.ip}/32`, 'dev', 'vx0', 'src', '192.168.3.131');
    const wire = background(topology.fabric, ['tcpdump', '-n', '-l', '-i', outsider.port, 'udp port 4789']);
    await waitFor('tcpdump', () => wire.output().includes('listening on'), 10_000);
    sendUdp(outsider.netns, worker1.pod.ip, 9998, 'from-outsider-vxlan');
    sendUdp(worker3.pod.netns, worker1.pod.ip, 9998, 'from-pod-3-vxlan');
    await waitFor(() => `pod-3's datagrams: ${heard()}`, () => heard().includes('from-pod-3-vxlan'), 10_000);
    await waitFor('the outsider frames on the wire', () => wire.output().includes(`${outsider.address}.`) && wire.output().includes('10.240.1.11.4789: VXLAN'), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(heard()).not.toContain('from-outsider-vxlan');
    expect(inNs(worker1.netns, ['nft', 'list', 'table', 'inet', 'gingham-tunnels'])).toMatch(/udp dport 4789 ip saddr != @cluster-hosts counter packets [1-9]/);
    o('ip', 'link', 'del', 'vx0');
  });

  it('the table follows the nodes: a node that leaves the state is no longer admitted; none is left once no tunnel is wanted', async () => {
    await inMode('VXLAN Always');
    const hostsOf = () => inNs(worker1.netns, ['nft', 'list', 'set', 'inet', 'gingham-tunnels', 'cluster-hosts']);
    expect(hostsOf()).toContain('10.240.2.13');
    const state = topology.stateFor(worker1, 'VXLAN Always') as { peers: Array<{ name: string }> };
    topology.writeState(worker1, { ...state, peers: state.peers.filter((p) => p.name !== 'worker-3') });
    await waitFor(() => `worker-3 out of the set: ${hostsOf()}`, () => !hostsOf().includes('10.240.2.13'), 15_000);
    await inMode('Never');
    await waitFor('the admission table to go', () => !inNs(worker1.netns, ['nft', 'list', 'tables']).includes('gingham-tunnels'), 15_000);
  });
});

describe.each([['in the kernel fast path', 'on'], ['through the pump alone', 'off']] as const)('the helper on its own (no nftables), %s', (_, fastPath) => {
  const tag = fastPath === 'on' ? 'f' : 'p';
  const ns = { a: `${topology.prefix}-h${tag}a`, b: `${topology.prefix}-h${tag}b`, c: `${topology.prefix}-h${tag}c` };
  const env = fastPath === 'on' ? process.env : { ...process.env, GINGHAM_TUNL0_FASTPATH: 'off' };
  afterAll(() => {
    for (const name of Object.values(ns)) runSync('ip', ['netns', 'del', name], { allowFail: true });
  });

  it('drops IP-in-IP whose outer source is not in its host set and counts it; counts malformed tunnel packets; takes outer IP options; outlives its underlay link made anew', async () => {
    for (const name of Object.values(ns)) {
      runSync('ip', ['netns', 'add', name]);
      inNs(name, ['ip', 'link', 'set', 'lo', 'up']);
    }
    // a <-> b (10.99.1.0/24): cluster hosts; a <-> c (10.99.2.0/24): c is not.
    for (const [peer, subnet, dev] of [[ns.b, 1, 'ethb'], [ns.c, 2, 'ethc']] as const) {
      runSync('ip', ['link', 'add', dev, 'netns', ns.a, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer]);
      inNs(ns.a, ['ip', 'addr', 'add', `10.99.${subnet}.1/24`, 'dev', dev]);
      inNs(ns.a, ['ip', 'link', 'set', dev, 'up']);
      inNs(peer, ['ip', 'addr', 'add', `10.99.${subnet}.2/24`, 'dev', 'eth0']);
      inNs(peer, ['ip', 'link', 'set', 'eth0', 'up']);
    }
    inNs(ns.c, ['ip', 'route', 'add', '10.99.1.0/24', 'via', '10.99.2.1']);
    const helpers = new Map<string, ReturnType<typeof background>>();
    for (const [name, local, inner, remoteBlock, gateway, hosts] of [
      [ns.a, '10.99.1.1', '192.168.10.1', '192.168.20.0/24', '10.99.1.2', ['10.99.1.2']],
      [ns.b, '10.99.1.2', '192.168.20.1', '192.168.10.0/24', '10.99.1.1', ['10.99.1.1']],
      // c aims at a's node address, as an outsider would, through a's other interface.
      [ns.c, '10.99.2.2', '192.168.20.2', '192.168.10.0/24', '10.99.1.1', []],
    ] as const) {
      const helper = background(name, [helperPath, 'tunl0', local], env);
      await waitFor(`the helper in ${name}`, () => helper.output().includes('ready'), 10_000);
      await waitFor(() => `the helper in ${name} to say whether its fast path is on: ${helper.output()}`, () => helper.output().includes(`kernel fast path ${fastPath}`), 10_000);
      helper.stdin!.write(`set 1\n${remoteBlock} ${gateway}\nhosts ${hosts.length}\n${hosts.map((h) => `${h}\n`).join('')}`);
      await waitFor(`the helper in ${name} to take its tables`, () => (helper.output().match(/^ok /gm) ?? []).length === 2, 10_000);
      inNs(name, ['ip', 'link', 'set', 'tunl0', 'mtu', '1480', 'up']);
      inNs(name, ['ip', 'addr', 'add', `${inner}/32`, 'dev', 'tunl0']);
      inNs(name, ['ip', 'route', 'add', remoteBlock, 'dev', 'tunl0', 'src', inner]);
      helpers.set(name, helper);
    }
    const heard = await udpListener(ns.a, 9997);
    sendUdp(ns.c, '192.168.10.1', 9997, 'from-c');
    sendUdp(ns.b, '192.168.10.1', 9997, 'from-b');
    await waitFor(() => `b's datagrams: ${heard()}`, () => heard().includes('from-b'), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(heard()).not.toContain('from-c');
    const a = helpers.get(ns.a)!;
    a.stdin!.write('stats\n');
    await waitFor('stats', () => /stats decapsulated \d+ foreign \d+/.test(a.output()), 5_000);
    const [, decapsulated, foreign] = /stats decapsulated (\d+) foreign (\d+)/.exec(a.output())!;
    const [, fast] = /decapsulated-fast (\d+)/.exec(a.output())!;
    expect(Number(foreign)).toBeGreaterThanOrEqual(5);
    expect(Number(decapsulated)).toBeGreaterThanOrEqual(5);
    // b's packets come in on the underlay that holds a's address: BPF takes them there, or the
    // pump when the fast path is off. c's come in elsewhere: the pump, which refuses them.
    if (fastPath === 'on') expect(Number(fast)).toBeGreaterThanOrEqual(5);
    else expect(Number(fast)).toBe(0);

    // Crafted IP-in-IP from b, a cluster host: an inner packet cut short, an inner IPv6 header, an
    // inner IPv4 header claiming more bytes than it has, and a well-formed one behind outer IP
    // options. The first two are counted malformed, the third dies in the kernel's own checks,
    // the fourth reaches its listener (options are legal; the pump takes what BPF leaves).
    const malformedBefore = Number(/malformed (\d+)/.exec(a.output())![1]);
    inNs(ns.b, ['python3', '-c', craftedIpip, '10.99.1.2', '10.99.1.1', '192.168.20.1', '192.168.10.1', '9997']);
    await waitFor(() => `the datagram behind outer options: ${heard()}`, () => heard().includes('with-options'), 10_000);
    a.stdin!.write('stats\n');
    await waitFor('stats again', () => (a.output().match(/^stats /gm) ?? []).length === 2, 5_000);
    const malformed = Number([...a.output().matchAll(/malformed (\d+)/g)].at(-1)![1]);
    expect(malformed - malformedBefore).toBe(2);
    expect(heard()).not.toContain('bad-length');

    if (fastPath === 'on') {
      // The link between a and b deleted and made again (new interfaces, the same addresses): the
      // programs went with the old ones, so both helpers send through the pump from then on.
      inNs(ns.a, ['ip', 'link', 'del', 'ethb']);
      runSync('ip', ['link', 'add', 'ethb', 'netns', ns.a, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.b]);
      for (const [name, address, dev] of [[ns.a, '10.99.1.1/24', 'ethb'], [ns.b, '10.99.1.2/24', 'eth0']] as const) {
        inNs(name, ['ip', 'addr', 'add', address, 'dev', dev]);
        inNs(name, ['ip', 'link', 'set', dev, 'up']);
      }
      for (const name of [ns.a, ns.b]) {
        await waitFor(() => `the helper in ${name} to see its underlay gone: ${helpers.get(name)!.output()}`, () => helpers.get(name)!.output().includes('fast path was attached to is gone'), 5_000);
      }
      sendUdp(ns.b, '192.168.10.1', 9997, 'from-b-again');
      await waitFor(() => `b's datagrams over the new link: ${heard()}`, () => heard().includes('from-b-again'), 10_000);
    }
    for (const helper of helpers.values()) helper.kill('SIGKILL');
  });
});

describe('the tunnel outlives the agent', () => {
  it('kill -9 of both ends\' agents and their restart lose no ping at 100 pps', async () => {
    await inMode('IPIP Always');
    const before = [helperPids(worker1.netns), helperPids(worker3.netns)];
    expect(before.map((p) => p.length)).toEqual([1, 1]);
    const ping = background(worker1.pod.netns, ['ping', '-i', '0.01', '-W', '1', worker3.pod.ip]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const agents = [worker1, worker3];
    for (const node of agents) {
      const pid = Number(execFileSync('ip', ['netns', 'pids', node.netns], { encoding: 'utf8' }).split('\n').filter(Boolean)
        .find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('agent/cli/bin.ts')));
      process.kill(pid, 'SIGKILL');
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const restarted = agents.map((node) => topology.startAgent(node, ['--userspace-ipip']));
    // Each new agent connects to its node's helper (the helper logs the pid of each connection).
    await Promise.all(agents.map((node, i) => waitFor(() => `the new agent on ${node.name} to take the helper over: ${helperLog(node.netns)}\n${topology.agentLog(node)}`,
      () => helperLog(node.netns).includes(`pid ${restarted[i]!.pid} connected`), 120_000, 100)));
    await converged(topology, 'IPIP Always', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const exited = new Promise<void>((resolve) => ping.once('exit', () => resolve()));
    ping.kill('SIGINT');
    await exited;
    const stats = /(\d+) packets transmitted, (\d+) received/.exec(ping.output());
    expect(stats, ping.output().slice(-500)).not.toBeNull();
    const [sent, received] = [Number(stats![1]), Number(stats![2])];
    console.log(`kill -9 of the agents on worker-1 and worker-3, restarted 1.5 s later: ${sent - received} of ${sent} pings lost (10 ms apart)`);
    expect([helperPids(worker1.netns), helperPids(worker3.netns)]).toEqual(before); // the same helpers, taken over
    expect(sent).toBeGreaterThan(250);
    expect(sent - received).toBe(0);
  }, 300_000);

  it('SIGTERM of `dataplane apply --watch` removes the helper and tunl0 with the rest', async () => {
    await topology.stopAgent(worker1);
    expect(helperPids(worker1.netns)).toEqual([]);
    expect(inNs(worker1.netns, ['ip', '-o', 'link', 'show'])).not.toContain('tunl0');
    expect(inNs(worker1.netns, ['nft', 'list', 'tables'])).not.toContain('gingham');
  });
});
