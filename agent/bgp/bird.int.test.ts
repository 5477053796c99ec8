// Gingham with BIRD 2 (what calico-node runs), each in its own network namespace: session,
// routes both ways with kernel installation, withdrawals, hold timer expiry, graceful restart in
// both directions, and TCP-MD5 passwords through the native addon.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRpc } from '../rpc/client.ts';
import { BirdDaemon, GinghamDaemon, kernelRoutes } from './testing/daemons.ts';
import { type LabNode, NetnsLab, waitFor } from '../../lab/testing/netns-lab.ts';

const PROTO = 72;
let lab: NetnsLab;
let gNode: LabNode;
let bNode: LabNode;
let mNode: LabNode;
let gingham: GinghamDaemon;
let bird: BirdDaemon;
let birdMd5: BirdDaemon;

function birdConfig(node: LabNode, peer: string, routes: string[], extra = ''): string {
  return `
router id ${node.address};
log stderr { warning, error, fatal };
protocol device { scan time 2; }
# Resolves the iBGP next hops (gateway recursive), as Calico's 'protocol direct' does.
protocol direct { ipv4; interface "eth0"; }
protocol static announced {
  ipv4;
${routes.map((r) => `  route ${r} blackhole;`).join('\n')}
}
protocol bgp gingham {
  local ${node.address} as 64512;
  neighbor ${peer} as 64512;
  ipv4 { import all; export where source = RTS_STATIC; next hop self; };
  hold time 9;
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 2;
  graceful restart on;
  graceful restart time 30;
${extra}
}
`;
}

function ginghamConfig() {
  return {
    routerId: gNode.address,
    listen: `${gNode.address}:179`,
    connectRetryTime: 1,
    gracefulRestart: { restartTime: 30 },
    peers: [
      { address: bNode.address, passive: false, holdTime: 3 },
      { address: mNode.address, password: 'gingham-md5-secret', passive: false },
    ],
    announce: ['192.168.10.0/26', '192.168.11.0/26'],
    kernel: true,
  };
}

async function kernelPrefixes(): Promise<string[]> {
  return (await kernelRoutes(gNode, PROTO)).map((r) => r.dst).sort();
}

beforeAll(async () => {
  lab = await NetnsLab.create(11);
  gNode = await lab.node('gingham', 3);
  bNode = await lab.node('bird', 2);
  mNode = await lab.node('birdmd5', 4);
  bird = new BirdDaemon(bNode);
  await bird.start(birdConfig(bNode, gNode.address, ['192.168.20.0/26', '192.168.21.0/26']));
  birdMd5 = new BirdDaemon(mNode);
  await birdMd5.start(birdConfig(mNode, gNode.address, ['192.168.40.0/26'], '  password "gingham-md5-secret";'));
  gingham = new GinghamDaemon(gNode);
  await gingham.start(ginghamConfig());
});

afterAll(async () => {
  await lab?.destroy();
});

describe('Gingham with BIRD 2', () => {
  it('establishes and routes flow both ways; best routes are installed in the kernel with our protocol number', async () => {
    await waitFor('session with BIRD', async () => (await gingham.peerState(bNode.address)) === 'Established');
    await waitFor('BIRD routes at Gingham', async () => (await gingham.prefixes()).includes('192.168.21.0/26'));
    await waitFor('Gingham routes at BIRD', async () => (await bird.prefixes('gingham')).length === 2);
    expect((await bird.prefixes('gingham')).sort()).toEqual(['192.168.10.0/26', '192.168.11.0/26']);
    const route = (await gingham.routes()).find((r) => r.prefix === '192.168.20.0/26')!.paths[0]!;
    expect(route).toMatchObject({ from: bNode.address, nextHop: bNode.address, origin: 'IGP', localPref: 100, best: true });
    await waitFor('kernel routes', async () => (await kernelPrefixes()).includes('192.168.21.0/26'));
    const kernel = await kernelRoutes(gNode, PROTO);
    expect(kernel.find((r) => r.dst === '192.168.20.0/26')?.gateway).toBe(bNode.address);
    // BIRD sees our next hop and AS path.
    const birdView = await bird.birdc('show route 192.168.10.0/26 all');
    expect(birdView).toContain(`BGP.next_hop: ${gNode.address}`);
    expect(birdView).toMatch(/^192\.168\.10\.0\/26\s+unicast/m);
    expect(birdView).toMatch(/BGP.as_path:\s*$/m);
  });

  it('`gingham-agent status` prints calicoctl node status; --json adds counts and capabilities', async () => {
    const run = promisify(execFile);
    const bin = path.resolve(import.meta.dirname, '../cli/bin.ts');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', bin, 'status', '--control', gingham.control]);
    expect(stdout).toMatch(/^Calico process is running\.\n\nIPv4 BGP status\n\+-+\+/);
    expect(stdout).toMatch(new RegExp(`\\| ${bNode.address.replaceAll('.', '\\.')} +\\| node-to-node mesh \\| up +\\| \\d\\d:\\d\\d:\\d\\d \\| Established \\|`));
    expect(stdout).toContain('IPv6 BGP status\nNo IPv6 peers found.\n');
    const json = JSON.parse((await run(process.execPath, ['--import', 'tsx', bin, 'status', '--json', '--control', gingham.control])).stdout);
    const peer = json.peers.find((p: { address: string }) => p.address === bNode.address);
    expect(peer).toMatchObject({ received: 2, accepted: 2, advertised: 2, holdTime: 3, lastError: '' });
    expect(peer.capabilities.negotiated).toEqual(expect.arrayContaining(['4-octet-as', 'route-refresh', 'graceful-restart']));
    const rib = (await run(process.execPath, ['--import', 'tsx', bin, 'rib', '--control', gingham.control])).stdout;
    const b = bNode.address.replaceAll('.', '\\.');
    expect(rib).toMatch(new RegExp(`192\\.168\\.20\\.0/26\\s+\\* via ${b}\\s+from ${b}, as-path \\[\\], origin IGP, local-pref 100`));
  });

  it('withdrawals flow both ways and remove kernel routes', async () => {
    await bird.reconfigure(birdConfig(bNode, gNode.address, ['192.168.20.0/26']));
    await waitFor('withdrawal at Gingham', async () => !(await gingham.prefixes()).includes('192.168.21.0/26'));
    await waitFor('kernel route removed', async () => !(await kernelPrefixes()).includes('192.168.21.0/26'));
    await callRpc(gingham.control, 'bgp.withdraw', { prefix: '192.168.11.0/26' });
    await waitFor('withdrawal at BIRD', async () => (await bird.prefixes('gingham')).join() === '192.168.10.0/26');
    await callRpc(gingham.control, 'bgp.announce', { prefix: '192.168.11.0/26' });
    await waitFor('announced again', async () => (await bird.prefixes('gingham')).length === 2);
  });

  it('TCP-MD5: a BIRD peer with a password establishes (BIRD drops unsigned segments)', async () => {
    await waitFor('MD5 session', async () => (await gingham.peerState(mNode.address)) === 'Established', 30_000);
    await waitFor('route over the MD5 session', async () => (await gingham.prefixes()).includes('192.168.40.0/26'));
    expect(await birdMd5.protocolState('gingham')).toMatch(/up .*Established/);
  });

  it('graceful restart, BIRD restarts: its routes stay (stale) and the kernel routes never flap', async () => {
    await waitFor('kernel has BIRD route', async () => (await kernelPrefixes()).includes('192.168.20.0/26'));
    let flapped = false;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        if (!(await kernelPrefixes()).includes('192.168.20.0/26')) flapped = true;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await bird.stop('SIGKILL');
    await waitFor('stale routes', async () => (await gingham.status()).peers.find((p) => p.address === bNode.address)!.stale === 1, 20_000);
    expect((await gingham.routes()).find((r) => r.prefix === '192.168.20.0/26')!.paths[0]!.stale).toBe(true);
    await bird.start(birdConfig(bNode, gNode.address, ['192.168.20.0/26']), { recovery: true });
    await waitFor('re-established', async () => (await gingham.peerState(bNode.address)) === 'Established', 30_000);
    await waitFor('routes refreshed', async () => {
      const r = (await gingham.routes()).find((x) => x.prefix === '192.168.20.0/26');
      return r && !r.paths[0]!.stale;
    }, 30_000);
    watching = false;
    await watcher;
    expect(flapped).toBe(false);
  });

  it('graceful restart, Gingham restarts: BIRD keeps our routes, and our kernel routes stay', async () => {
    await waitFor('BIRD has our routes', async () => (await bird.prefixes('gingham')).length === 2, 30_000);
    await gingham.stop('SIGTERM');
    // BIRD holds our routes as stale while we are away; our kernel routes are still there.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await bird.prefixes('gingham')).sort()).toEqual(['192.168.10.0/26', '192.168.11.0/26']);
    expect(await kernelPrefixes()).toContain('192.168.20.0/26');
    // A route of ours from the previous run that no peer sends again: it goes at the end of the restart.
    await gNode.exec('ip', ['route', 'add', '192.168.99.0/24', 'via', bNode.address, 'proto', String(PROTO)]);
    await gingham.start(ginghamConfig());
    // It found its routes from before in the kernel, and kept them.
    expect((await gingham.status()).adoptedKernelRoutes).toBeGreaterThanOrEqual(3);
    await waitFor('re-established after our restart', async () => (await gingham.peerState(bNode.address)) === 'Established', 30_000);
    await waitFor('restart complete', async () => !(await gingham.status()).restarting, 30_000);
    await waitFor('the stale route swept', async () => !(await kernelPrefixes()).includes('192.168.99.0/24'), 10_000);
    expect(await kernelPrefixes()).toContain('192.168.20.0/26');
    expect((await bird.prefixes('gingham')).sort()).toEqual(['192.168.10.0/26', '192.168.11.0/26']);
  });

  it('hold timer expiry: when BIRD goes silent the session drops with Hold Timer Expired, then recovers', async () => {
    await waitFor('established', async () => (await gingham.peerState(bNode.address)) === 'Established', 30_000);
    const pid = bird.process!.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      await waitFor('hold timer expiry', async () => {
        const p = (await gingham.status()).peers.find((x) => x.address === bNode.address)!;
        return p.info !== 'Established' && p.lastError === 'hold timer expired';
      }, 15_000, 100);
      // A NOTIFICATION was sent, so this is not a graceful restart: BIRD's routes are gone.
      await waitFor('routes flushed', async () => !(await gingham.prefixes()).includes('192.168.20.0/26'), 5000);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor('re-established', async () => (await gingham.peerState(bNode.address)) === 'Established', 30_000);
    await waitFor('routes back', async () => (await gingham.prefixes()).includes('192.168.20.0/26'), 15_000);
  });

  it('a withdrawing stop (SIGUSR2) removes every kernel route of ours, and no other route', async () => {
    await waitFor('kernel routes', async () => (await kernelPrefixes()).includes('192.168.20.0/26'), 15_000);
    expect((await gingham.status()).kernel?.installed).toBe((await kernelPrefixes()).length);
    await gNode.exec('ip', ['route', 'add', '192.168.98.0/24', 'via', bNode.address, 'proto', '73']);
    await gingham.stop('SIGUSR2');
    expect(await kernelPrefixes()).toEqual([]);
    expect((await kernelRoutes(gNode, 73)).map((r) => r.dst)).toEqual(['192.168.98.0/24']);
  });
});
