// Real traffic through the seed's cluster in every routing mode, with what docs/lab.md's table says must work
// and fail, and tcpdump on worker-1's wire showing the encapsulation each mode must have. Also:
// nat-outgoing, the user-space tunl0's throughput against kernel VXLAN, and the packets a mode
// switch loses.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { converged } from './testing/convergence.ts';
import { SeedTopology, inNs, waitFor, type PoolMode } from '../../lab/testing/seed-topology.ts';

const topology = new SeedTopology('t');
const [worker1, worker2, worker3] = topology.nodes as [typeof topology.nodes[0], typeof topology.nodes[0], typeof topology.nodes[0]];
const servers: ChildProcess[] = [];

function ping(from: string, to: string): boolean {
  return inNs(from, ['ping', '-c', '1', '-W', '2', to], { allowFail: true }).includes(' 0% packet loss');
}

/** HTTP over TCP to the pod's web server, as the seed does with curl. */
function tcp(from: string, to: string): boolean {
  const pod = topology.nodes.find((n) => n.pod.ip === to)?.pod.name ?? '?';
  return inNs(from, ['curl', '-s', '--max-time', '3', `http://${to}/`], { allowFail: true }) === pod;
}

/** Reachability with a retry: the first packet of a flow may wait for ARP on a cold path. */
function reachable(from: string, to: string): { ping: boolean; tcp: boolean } {
  const icmp = ping(from, to) || ping(from, to);
  return { ping: icmp, tcp: tcp(from, to) };
}

/** tcpdump on worker-1's bridge port (the wire) while `traffic` runs; returns what it printed. */
async function onTheWire(filter: string, traffic: () => void, packets = 2): Promise<string> {
  const child = spawn('ip', ['netns', 'exec', topology.fabric, 'tcpdump', '-n', '-l', '-i', worker1.port, '-c', String(packets), filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(() => `tcpdump to start: ${err}`, () => err.includes('listening on'), 10_000);
  traffic();
  const timer = setTimeout(() => child.kill(), 5_000);
  await exited;
  clearTimeout(timer);
  return out;
}

async function switchTo(mode: PoolMode, checks: 'on' | 'off'): Promise<void> {
  topology.setSrcDstChecks(new Set(checks === 'on' ? topology.nodes.map((n) => n.name) : []));
  topology.setMode(mode);
  await converged(topology, mode);
}

beforeAll(async () => {
  topology.up();
  for (const node of topology.nodes) {
    // Each pod serves HTTP on port 80 (the seed uses curl), answering its own name.
    const script = `require('node:http').createServer((q, r) => r.end(${JSON.stringify(node.pod.name)})).listen(80)`;
    servers.push(spawn('ip', ['netns', 'exec', node.pod.netns, process.execPath, '-e', script], { stdio: 'ignore' }));
    servers.push(spawn('ip', ['netns', 'exec', node.pod.netns, 'iperf3', '-s', '-p', '5201'], { stdio: 'ignore' }));
    await waitFor(`${node.pod.name}'s web server`, () => inNs(node.pod.netns, ['curl', '-s', '--max-time', '2', 'http://127.0.0.1/'], { allowFail: true }) === node.pod.name, 30_000, 100);
  }
  topology.setMode('IPIP Always');
  for (const node of topology.nodes) topology.startAgent(node);
  await converged(topology, 'IPIP Always', 180_000); // the agents' start (tsx) is slow on a busy machine
});

afterAll(async () => {
  for (const server of servers) server.kill();
  await topology.stopAgents();
  topology.cleanup();
});

const p1 = () => worker1.pod.netns;
const pod2 = () => worker2.pod.ip;
const pod3 = () => worker3.pod.ip;

describe('traffic in every routing mode (docs/lab.md)', () => {
  it('IPIP Always: pod-1 reaches pod-2 and pod-3; the wire carries protocol 4 between node addresses, the inner packet unchanged', async () => {
    await switchTo('IPIP Always', 'on');
    expect(reachable(p1(), pod2())).toEqual({ ping: true, tcp: true });
    expect(reachable(p1(), pod3())).toEqual({ ping: true, tcp: true });
    const wire = await onTheWire('icmp or ip proto 4', () => ping(p1(), pod3()));
    expect(wire).toContain(`IP 10.240.1.11 > 10.240.2.13: IP ${worker1.pod.ip} > ${pod3()}: ICMP echo request`);
    expect(wire).toContain(`IP 10.240.2.13 > 10.240.1.11: IP ${pod3()} > ${worker1.pod.ip}: ICMP echo reply`);
  });

  it('Never with source/destination checks on: pod addresses leave the node bare and are dropped', async () => {
    await switchTo('Never', 'on');
    expect(reachable(p1(), pod2())).toEqual({ ping: false, tcp: false });
    expect(reachable(p1(), pod3())).toEqual({ ping: false, tcp: false });
  });

  it('Never with checks off: the same subnet works direct, the other subnet fails at the router', async () => {
    await switchTo('Never', 'off');
    expect(reachable(p1(), pod2())).toEqual({ ping: true, tcp: true });
    expect(reachable(p1(), pod3())).toEqual({ ping: false, tcp: false });
    const wire = await onTheWire('icmp', () => ping(p1(), pod2()));
    expect(wire).toContain(`IP ${worker1.pod.ip} > ${pod2()}: ICMP echo request`);
  });

  it('IPIP CrossSubnet with checks off: direct inside subnet 1, IP-in-IP to worker-3', async () => {
    await switchTo('IPIP CrossSubnet', 'off');
    expect(reachable(p1(), pod2())).toEqual({ ping: true, tcp: true });
    expect(reachable(p1(), pod3())).toEqual({ ping: true, tcp: true });
    const direct = await onTheWire('icmp or ip proto 4', () => ping(p1(), pod2()));
    expect(direct).toContain(`IP ${worker1.pod.ip} > ${pod2()}: ICMP echo request`);
    expect(direct).not.toContain('10.240.1.12: IP');
    const tunnelled = await onTheWire('icmp or ip proto 4', () => ping(p1(), pod3()));
    expect(tunnelled).toContain(`IP 10.240.1.11 > 10.240.2.13: IP ${worker1.pod.ip} > ${pod3()}: ICMP echo request`);
  });

  it('VXLAN Always (checks on): both work; the wire carries UDP 4789, VNI 4096, inner Ethernet and pod addresses', async () => {
    await switchTo('VXLAN Always', 'on');
    expect(reachable(p1(), pod2())).toEqual({ ping: true, tcp: true });
    expect(reachable(p1(), pod3())).toEqual({ ping: true, tcp: true });
    const wire = await onTheWire('icmp or udp port 4789', () => ping(p1(), pod3()));
    expect(wire).toMatch(/IP 10\.240\.1\.11\.\d+ > 10\.240\.2\.13\.4789: VXLAN, flags \[I\] \(0x08\), vni 4096/);
    expect(wire).toContain(`IP ${worker1.pod.ip} > ${pod3()}: ICMP echo request`);
  });

  it('VXLAN CrossSubnet with checks off: direct inside subnet 1, VXLAN to worker-3', async () => {
    await switchTo('VXLAN CrossSubnet', 'off');
    expect(reachable(p1(), pod2())).toEqual({ ping: true, tcp: true });
    expect(reachable(p1(), pod3())).toEqual({ ping: true, tcp: true });
    const direct = await onTheWire('icmp or udp port 4789', () => ping(p1(), pod2()));
    expect(direct).toContain(`IP ${worker1.pod.ip} > ${pod2()}: ICMP echo request`);
    expect(direct).not.toContain('VXLAN');
    const tunnelled = await onTheWire('icmp or udp port 4789', () => ping(p1(), pod3()));
    expect(tunnelled).toMatch(/IP 10\.240\.1\.11\.\d+ > 10\.240\.2\.13\.4789: VXLAN, flags \[I\] \(0x08\), vni 4096/);
  });
});

describe('nat-outgoing', () => {
  it('masquerades pod traffic to addresses outside every pool, so it passes the source checks', async () => {
    await switchTo('IPIP Always', 'on');
    const wire = await onTheWire('icmp', () => ping(p1(), '10.240.2.1'));
    expect(wire).toContain('IP 10.240.1.11 > 10.240.2.1: ICMP echo request');
    expect(ping(p1(), '10.240.2.1')).toBe(true);
    // natOutgoing off: the pod's own address leaves the node and the source check drops it.
    topology.writeState(worker1, topology.stateFor(worker1, 'IPIP Always', { natOutgoing: false }));
    await waitFor('the nat table to go', () => !inNs(worker1.netns, ['nft', 'list', 'ruleset']).includes('masquerade'), 10_000);
    expect(ping(p1(), '10.240.2.1')).toBe(false);
    topology.setMode('IPIP Always');
    await waitFor('the nat table to return', () => inNs(worker1.netns, ['nft', 'list', 'ruleset']).includes('masquerade'), 10_000);
  });
});

/** iperf3 from pod-1 to pod-3 for `seconds`; bits per second as the receiver counted them. */
function iperf(seconds: number): number {
  const report = JSON.parse(inNs(p1(), ['iperf3', '-c', pod3(), '-t', String(seconds), '-J'])) as { end: { sum_received: { bits_per_second: number } } };
  return report.end.sum_received.bits_per_second;
}

describe('throughput', () => {
  it('the user-space tunl0 carries TCP between pods; measured against kernel VXLAN in the same run', async () => {
    await switchTo('IPIP Always', 'on');
    const userspace = iperf(4);
    await switchTo('VXLAN Always', 'on');
    const vxlan = iperf(4);
    const line = `iperf3 pod-1 -> pod-3, 4 s: user-space IP-in-IP ${(userspace / 1e9).toFixed(2)} Gbit/s, kernel VXLAN ${(vxlan / 1e9).toFixed(2)} Gbit/s (ratio ${(userspace / vxlan).toFixed(2)})`;
    console.log(line);
    // Measured 0.14-0.19x kernel VXLAN in the same run, loaded or not (docs/dataplane.md). A
    // ratio survives load where an absolute figure does not; losing TSO or the batching (one
    // packet per syscall, about 0.05x) fails it.
    expect(userspace / vxlan, line).toBeGreaterThan(0.12);
  });
});

/** Pings pod-3 and pod-2 every 10 ms while `during` runs; returns the replies lost. */
async function lossDuring(during: () => Promise<void>): Promise<{ sent: number; lost: number }> {
  const pings = [pod2(), pod3()].map((target) => {
    const child = spawn('ip', ['netns', 'exec', p1(), 'ping', '-i', '0.01', '-W', '1', target], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    return { child, output: () => out };
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  await during();
  await new Promise((resolve) => setTimeout(resolve, 500));
  let sent = 0;
  let lost = 0;
  for (const ping of pings) {
    const exited = new Promise<void>((resolve) => ping.child.once('exit', () => resolve()));
    ping.child.kill('SIGINT');
    await exited;
    const stats = /(\d+) packets transmitted, (\d+) received/.exec(ping.output());
    if (!stats) throw new Error(`ping printed no statistics: ${ping.output().slice(-300)}`);
    sent += Number(stats[1]);
    lost += Number(stats[1]) - Number(stats[2]);
  }
  return { sent, lost };
}

describe('mode switches under traffic', () => {
  it('measures the packets lost while all three nodes switch modes', async () => {
    const switches: Array<[PoolMode, PoolMode]> = [
      ['IPIP Always', 'IPIP CrossSubnet'],
      ['IPIP CrossSubnet', 'IPIP Always'],
      ['IPIP Always', 'VXLAN Always'],
      ['VXLAN Always', 'VXLAN CrossSubnet'],
      ['VXLAN CrossSubnet', 'IPIP Always'],
    ];
    const lines: string[] = [];
    for (const [from, to] of switches) {
      await switchTo(from, 'off');
      const { sent, lost } = await lossDuring(async () => {
        topology.setMode(to);
        await converged(topology, to);
      });
      lines.push(`${from} -> ${to}: ${lost} of ${sent} pings lost (10 ms apart, to pod-2 and pod-3)`);
      // Measured 0-77 lost per switch (docs/dataplane.md): how far apart the three agents act.
      // 100 is half a second without either pod; the goal of 0 is a safe switch's.
      expect(lost, lines.at(-1)).toBeLessThanOrEqual(100);
    }
    console.log(lines.join('\n'));
  });
});
