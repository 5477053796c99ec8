// The doctor's evidence from a node without the Gingham agent, as a stock calico-node host: a
// real sshd, BIRD 2 with Calico's protocol names and its socket in /run/calico (a second BIRD, the
// mesh peer, announces 192.168.2.0/26), a pod in its own network namespace behind a cali veth.
// Everything but the BGP paths is read with plain iproute2; the paths come from BIRD's socket.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listOf, type IpRoute } from '../../../shared/doctor/ip-json.ts';
import { startSshdNode, type SshdNode } from '../../../lab/testing/sshd-node.ts';
import { connectTo } from '../installer/testing/install-fixture.ts';
import { nodeEvidence } from './collect-evidence.ts';

let dir: string;
let node: SshdNode;
let client: Client;
let podNs: string;
let removePod: (() => void) | undefined;
const birds: ChildProcess[] = [];
const socket = '/run/calico/bird.ctl';
const peerAddress = '10.240.1.12';
const podIp = '192.168.1.5';
const veth = `cali${process.pid.toString(16).slice(-6)}a`;

function birdConfig(local: string, peers: { name: string; address: string }[], route: string): string {
  return [
    `router id ${local};`,
    'protocol device {}',
    `protocol static { ipv4; route ${route} blackhole; }`,
    ...peers.map((p) => `protocol bgp ${p.name} { local ${local} as 64512; neighbor ${p.address} as 64512; strict bind yes; connect retry time 1; ipv4 { import all; export all; }; }`),
    '',
  ].join('\n');
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gdoc-'));
  node = await startSshdNode(0, { prefix: 'gdoc', subnet: '100.64.223', privateDirs: ['/run/calico'] });
  execFileSync('ip', ['-n', node.netns, 'addr', 'add', `${peerAddress}/32`, 'dev', 'lo']);
  const sshdPid = execFileSync('ip', ['netns', 'pids', node.netns], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .find((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sshd')!;
  // The pod: its own namespace, made where the node's runtime makes it (its /var/run/netns, in
  // the node's mount namespace), a veth whose host end is named as Calico names it, a /32 to it.
  podNs = `gdocp-${process.pid.toString(36)}`;
  const onNode = (...args: string[]) => execFileSync('nsenter', ['-t', sshdPid, '-m', '-n', '--', 'ip', ...args]);
  onNode('netns', 'add', podNs);
  onNode('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', podNs);
  onNode('link', 'set', veth, 'up');
  onNode('-n', podNs, 'addr', 'add', `${podIp}/32`, 'dev', 'eth0');
  onNode('-n', podNs, 'link', 'set', 'eth0', 'up');
  onNode('-n', podNs, 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link');
  onNode('-n', podNs, 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0');
  onNode('route', 'add', `${podIp}/32`, 'dev', veth, 'scope', 'link');
  removePod = () => onNode('netns', 'del', podNs);
  writeFileSync(path.join(dir, 'node.conf'), birdConfig(node.address, [{ name: 'Mesh_10_240_1_12', address: peerAddress }], '192.168.1.0/26'));
  writeFileSync(path.join(dir, 'peer.conf'), birdConfig(peerAddress, [{ name: 'Mesh_node', address: node.address }], '192.168.2.0/26'));
  const start = (argv: string[]) => birds.push(spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' }));
  start(['nsenter', '-t', sshdPid, '-m', '-n', '--', 'bird', '-f', '-c', path.join(dir, 'node.conf'), '-s', socket]);
  start(['ip', 'netns', 'exec', node.netns, 'bird', '-f', '-c', path.join(dir, 'peer.conf'), '-s', path.join(dir, 'peer.ctl')]);
  client = await connectTo(node);
}, 120_000);

afterAll(async () => {
  client?.end();
  for (const bird of birds) bird.kill('SIGTERM');
  removePod?.();
  await node?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('doctor evidence from a stock Calico node (BIRD, no Gingham agent)', () => {
  it("reads the pod's namespace and veth with iproute2, and the BGP path and its peer from BIRD's socket", async () => {
    const deadline = Date.now() + 60_000;
    let evidence = await nodeEvidence(client, 'stock-1', podIp, '192.168.2.10', peerAddress, 80);
    while (evidence.bgp.paths.length === 0) {
      if (Date.now() > deadline) throw new Error(`BIRD never had the peer's route: ${JSON.stringify(evidence.bgp)}`);
      await new Promise((r) => setTimeout(r, 500));
      evidence = await nodeEvidence(client, 'stock-1', podIp, '192.168.2.10', peerAddress, 80);
    }
    expect(evidence.bgp).toEqual({
      source: 'bird',
      // /var/run is /run: the first of the sockets Calico uses answers.
      note: `read from BIRD at /var/run/calico/bird.ctl`,
      paths: [{ prefix: '192.168.2.0/26', from: peerAddress, nextHop: peerAddress, best: true, asPath: '', protocol: 'Mesh_10_240_1_12' }],
    });
    const s = evidence.sections;
    // A path nsenter enters: the runtime's name under /var/run/netns (or /run/netns), found by its veth's peer.
    expect(s['podns']).toMatch(new RegExp(`^(/var)?/run/netns/${podNs}$`));
    expect(s['local-dev']).toBe(veth);
    expect(listOf<IpRoute>(s['pod-routes']).map((r) => `${r.dst} ${r.gateway ?? ''} ${r.dev}`)).toEqual(['default 169.254.1.1 eth0', '169.254.1.1  eth0']);
    expect(listOf<IpRoute>(s['pod-get'])[0]).toMatchObject({ dst: '192.168.2.10', gateway: '169.254.1.1', dev: 'eth0' });
    expect(s['forward']).toBeDefined();
    expect(s['pod-listen']).toBe('');
    expect(listOf<{ ifname: string }>(s['links']).map((l) => l.ifname)).toContain(veth);
  }, 90_000);
});
