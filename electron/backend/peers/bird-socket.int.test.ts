// BIRD's peers read through the SSH connection, as the console does for a stock Calico node: a
// real BIRD 2 with Calico's protocol names, its control socket in the node's private /run/calico,
// reached over a real sshd's streamlocal forwarding. One mesh peer (a second BIRD) is Established
// and exchanges a route; the other does not answer.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTo } from '../installer/testing/install-fixture.ts';
import { startSshdNode, type SshdNode } from '../../../lab/testing/sshd-node.ts';
import { readBirdProtocols } from './bird-socket.ts';

let dir: string;
let node: SshdNode;
let client: Client;
const birds: ChildProcess[] = [];
const socket = '/run/calico/bird.ctl';
const peerAddress = '10.240.1.12';

/** BIRD 2 as calico-node configures it, reduced to what the view reads: the mesh protocols' names and states. */
function birdConfig(routerId: string, local: string, peers: { name: string; address: string }[], route: string): string {
  return [
    `router id ${routerId};`,
    'protocol device {}',
    `protocol static { ipv4; route ${route} blackhole; }`,
    // strict bind: two BIRDs share the namespace, each on its own address.
    ...peers.map((p) => `protocol bgp ${p.name} { local ${local} as 64512; neighbor ${p.address} as 64512; strict bind yes; connect retry time 1; ipv4 { import all; export all; }; }`),
    '',
  ].join('\n');
}

function startBird(argv: string[]): ChildProcess {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  birds.push(child);
  return child;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gbrd-'));
  node = await startSshdNode(0, { prefix: 'gbrd', subnet: '100.64.219', privateDirs: ['/run/calico'] });
  execFileSync('ip', ['-n', node.netns, 'addr', 'add', `${peerAddress}/32`, 'dev', 'lo']);
  // The node's BIRD runs in sshd's mount namespace, so that its socket is in the node's private /run/calico.
  const sshdPid = execFileSync('ip', ['netns', 'pids', node.netns], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .find((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sshd')!;
  writeFileSync(
    path.join(dir, 'node.conf'),
    birdConfig(node.address, node.address, [{ name: 'Mesh_10_240_1_12', address: peerAddress }, { name: 'Mesh_10_240_2_13', address: '10.240.2.13' }], '192.168.1.0/26'),
  );
  writeFileSync(path.join(dir, 'peer.conf'), birdConfig(peerAddress, peerAddress, [{ name: 'Mesh_node', address: node.address }], '192.168.2.0/26'));
  startBird(['nsenter', '-t', sshdPid, '-m', '-n', '--', 'bird', '-f', '-c', path.join(dir, 'node.conf'), '-s', socket]);
  startBird(['ip', 'netns', 'exec', node.netns, 'bird', '-f', '-c', path.join(dir, 'peer.conf'), '-s', path.join(dir, 'peer.ctl')]);
  client = await connectTo(node);
}, 120_000);

afterAll(async () => {
  client?.end();
  for (const bird of birds) bird.kill('SIGTERM');
  await node?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("BIRD's peers over SSH", () => {
  it('reads the mesh sessions as calicoctl node status shows them, with route counts and the last error', async () => {
    const deadline = Date.now() + 60_000;
    let peers = await readBirdProtocols(client, socket);
    const settled = () => {
      const up = peers.find((p) => p.address === peerAddress);
      // And BIRD has tried the dead peer once (it records the error of its first attempt).
      return up?.info === 'Established' && up.received === 1 && peers.some((p) => p.lastError);
    };
    while (!settled()) {
      if (Date.now() > deadline) throw new Error(`the mesh session did not come up, or BIRD did not try the other peer: ${JSON.stringify(peers)}`);
      await new Promise((r) => setTimeout(r, 500));
      peers = await readBirdProtocols(client, socket);
    }
    expect(peers).toHaveLength(2);
    expect(peers[0]).toMatchObject({ address: peerAddress, type: 'node-to-node mesh', state: 'up', info: 'Established', received: 1 });
    expect(peers[0]!.advertised).toBeGreaterThanOrEqual(1);
    expect(peers[0]!.since).toMatch(/\d\d:\d\d:\d\d/);
    // Nobody answers at 10.240.2.13: BIRD keeps trying, and says why.
    expect(peers[1]).toMatchObject({ address: '10.240.2.13', type: 'node-to-node mesh', state: 'start' });
    expect(peers[1]!.info).toMatch(/Active|Connect|Idle/);
    expect(peers[1]!.lastError).toMatch(/^Socket: /);
  }, 90_000);

  it('says so when there is no BIRD socket at the path', async () => {
    await expect(readBirdProtocols(client, '/run/calico/none.ctl')).rejects.toThrow('no BIRD socket at /run/calico/none.ctl');
  });
});
