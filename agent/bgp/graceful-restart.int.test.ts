// Graceful restart (RFC 4724) corners against BIRD 2, each daemon in its own namespace: a peer
// that restarts while its old session still looks Established (4.2), a peer that is only GR
// "aware" (no IPv4 unicast in its capability: nothing is kept stale), and our own restart as a
// route reflector deferring End-of-RIB until every client is back (4.1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdDaemon, GinghamDaemon, kernelRoutes } from './testing/daemons.ts';
import { type LabNode, NetnsLab, waitFor } from '../../lab/testing/netns-lab.ts';

let lab: NetnsLab;
let gNode: LabNode;
let bNode: LabNode;
let awareNode: LabNode;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function birdConfig(node: LabNode, peer: string, routes: string[], options: { gr?: string; hold?: number } = {}): string {
  return `
router id ${node.address};
log stderr { warning, error, fatal };
protocol device { scan time 2; }
protocol direct { ipv4; interface "eth0"; }
protocol static announced {
  ipv4;
${routes.map((r) => `  route ${r} blackhole;`).join('\n')}
}
protocol bgp gingham {
  local ${node.address} as 64512;
  neighbor ${peer} as 64512;
  ipv4 { import all; export where source = RTS_STATIC; next hop self; };
  hold time ${options.hold ?? 9};
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 2;
  graceful restart ${options.gr ?? 'on'};
  graceful restart time 30;
}
`;
}

const peerOf = async (g: GinghamDaemon, address: string) => (await g.status()).peers.find((p) => p.address === address)!;

beforeAll(async () => {
  lab = await NetnsLab.create(17);
  gNode = await lab.node('gingham', 3);
  bNode = await lab.node('bird', 2);
  awareNode = await lab.node('aware', 4);
});

afterAll(async () => {
  await lab?.destroy();
});

describe('graceful restart against BIRD 2', () => {
  it('a peer that reconnects while its old session still looks Established is accepted at once; its routes stay stale, the kernel route never goes', async () => {
    const gingham = new GinghamDaemon(gNode, 'reconnect');
    const bird = new BirdDaemon(bNode);
    const routes = ['192.168.20.0/26'];
    // Long hold times: nothing but the new connection can end the old session within the test.
    await bird.start(birdConfig(bNode, gNode.address, routes, { hold: 240 }));
    await gingham.start({
      routerId: gNode.address, listen: `${gNode.address}:179`, gracefulRestart: { restartTime: 60 }, kernel: true,
      peers: [{ address: bNode.address, passive: true, holdTime: 240 }],
    });
    let watching = false;
    try {
      await waitFor('session', async () => (await gingham.peerState(bNode.address)) === 'Established');
      await waitFor('kernel route', async () => (await kernelRoutes(gNode, 72)).some((r) => r.dst === '192.168.20.0/26'));
      // The old connection's port on BIRD's side: everything of it is dropped from now on, so
      // that Gingham never hears of its end (a peer whose host rebooted, a cut link).
      const ss = await bNode.exec('ss', ['-tnH', 'state', 'established', `( dport = :179 )`]);
      const port = /\d+\.\d+\.\d+\.\d+:(\d+)\s/.exec(ss)?.[1];
      expect(port, ss).toBeDefined();
      await bNode.exec('nft', ['-f', '-'], { input: `table inet oldsession {
  chain in { type filter hook input priority 0; tcp dport ${port} drop; }
  chain out { type filter hook output priority 0; tcp sport ${port} drop; }
}` });
      let flapped = false;
      watching = true;
      const watcher = (async () => {
        while (watching) {
          if (!(await kernelRoutes(gNode, 72)).some((r) => r.dst === '192.168.20.0/26')) flapped = true;
          await sleep(50);
        }
      })();
      await bird.stop('SIGKILL');
      const restarted = Date.now();
      await bird.start(birdConfig(bNode, gNode.address, routes, { hold: 240 }), { recovery: true });
      await waitFor('BIRD established again (before our hold timer of 240 s)', async () => /Established/.test(await bird.protocolState('gingham')), 20_000);
      expect(Date.now() - restarted).toBeLessThan(20_000);
      await waitFor('Gingham on the new session, the route refreshed', async () => {
        const r = (await gingham.routes()).find((x) => x.prefix === '192.168.20.0/26');
        return (await gingham.peerState(bNode.address)) === 'Established' && r && !r.paths[0]!.stale;
      }, 10_000);
      // The old session is closed: one connection with BIRD is left.
      const left = (await gNode.exec('ss', ['-tnH', 'state', 'established', `( sport = :179 or dport = :179 )`])).trim().split('\n').filter(Boolean);
      expect(left).toHaveLength(1);
      watching = false;
      await watcher;
      expect(flapped).toBe(false);
      expect((await peerOf(gingham, bNode.address)).lastError).toBe('');
    } finally {
      watching = false;
      await bNode.exec('nft', ['delete', 'table', 'inet', 'oldsession'], { allowFail: true });
      await bird.stop('SIGKILL');
      await gingham.stop('SIGUSR2');
    }
  });

  it('a peer that is only GR aware (no IPv4 unicast in its capability) has nothing kept stale when it goes', async () => {
    const gingham = new GinghamDaemon(gNode, 'aware');
    const bird = new BirdDaemon(awareNode);
    await bird.start(birdConfig(awareNode, gNode.address, ['192.168.50.0/26'], { gr: 'aware' }));
    await gingham.start({
      routerId: gNode.address, listen: `${gNode.address}:179`, gracefulRestart: { restartTime: 60 }, kernel: true,
      peers: [{ address: awareNode.address, passive: false }],
    });
    try {
      await waitFor('route from the aware peer', async () => (await gingham.prefixes()).includes('192.168.50.0/26'));
      const peer = await peerOf(gingham, awareNode.address);
      // BIRD offers the capability (it understands End-of-RIB) but lists no address family.
      expect(peer.capabilities!.peer.find((c) => c.startsWith('graceful-restart'))).toBeDefined();
      await bird.stop('SIGKILL');
      await waitFor('its route gone at once, not kept as stale', async () => !(await gingham.prefixes()).includes('192.168.50.0/26'), 5000);
      expect((await peerOf(gingham, awareNode.address)).stale).toBe(0);
      await waitFor('its kernel route gone', async () => !(await kernelRoutes(gNode, 72)).some((r) => r.dst === '192.168.50.0/26'), 5000);
    } finally {
      await bird.stop('SIGKILL');
      await gingham.stop('SIGUSR2');
    }
  });

  it('restarting as a route reflector, we send End-of-RIB only once every client is back: a client keeps the routes of one that is not', async () => {
    const clientA = new BirdDaemon(bNode);
    const clientB = new BirdDaemon(awareNode);
    const gingham = new GinghamDaemon(gNode, 'rr');
    const config = {
      routerId: gNode.address, listen: `${gNode.address}:179`, gracefulRestart: { restartTime: 30 }, kernel: true,
      peers: [{ address: bNode.address, routeReflectorClient: true }, { address: awareNode.address, routeReflectorClient: true }],
    };
    await clientA.start(birdConfig(bNode, gNode.address, ['192.168.30.0/26']));
    await clientB.start(birdConfig(awareNode, gNode.address, ['192.168.31.0/26']));
    await gingham.start(config);
    try {
      await waitFor('A has B\'s route through the reflector', async () => (await clientA.prefixes('gingham')).includes('192.168.31.0/26'));
      await gingham.stop('SIGTERM'); // our graceful restart: kernel routes stay, clients keep ours as stale
      await clientB.stop('SIGKILL'); // and B is away while we come back
      await gingham.start(config);
      expect((await gingham.status()).restarting).toBe(true);
      await waitFor('A back with us', async () => (await gingham.peerState(bNode.address)) === 'Established');
      await waitFor('A has sent its routes', async () => (await gingham.prefixes()).includes('192.168.30.0/26'));
      for (let i = 0; i < 15; i++) {
        // An End-of-RIB from us now would make A sweep B's route, which we have not relearned.
        expect(await clientA.prefixes('gingham')).toContain('192.168.31.0/26');
        await sleep(200);
      }
      expect((await gingham.status()).restarting).toBe(true);
      await clientB.start(birdConfig(awareNode, gNode.address, ['192.168.31.0/26']), { recovery: true });
      await waitFor('restart complete once B sent End-of-RIB', async () => !(await gingham.status()).restarting, 20_000);
      await waitFor('B\'s route at A, fresh', async () => /192\.168\.31\.0\/26[\s\S]*gingham/.test(await clientA.birdc('show route 192.168.31.0/26')));
      expect(await clientA.prefixes('gingham')).toContain('192.168.31.0/26');
    } finally {
      await clientA.stop('SIGKILL');
      await clientB.stop('SIGKILL');
      await gingham.stop('SIGUSR2');
    }
  });
});
