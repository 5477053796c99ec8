// A route the kernel refuses is visible in status and tried again: BIRD 2 sends a route whose
// next hop Gingham's node cannot reach yet (ENETUNREACH); once the node can, the route is
// installed without any BGP change, as BIRD's kernel protocol does on its next scan.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdDaemon, GinghamDaemon, kernelRoutes } from './testing/daemons.ts';
import { type LabNode, NetnsLab, waitFor } from '../../lab/testing/netns-lab.ts';

let lab: NetnsLab;
let gNode: LabNode;
let bNode: LabNode;

beforeAll(async () => {
  lab = await NetnsLab.create(19);
  gNode = await lab.node('gingham', 3);
  bNode = await lab.node('bird', 2);
});

afterAll(async () => {
  await lab?.destroy();
});

describe('kernel refusals', () => {
  it('a refused route is counted in status and installed once the kernel takes it', async () => {
    // BIRD reaches 10.199.0.0/24 on a device of its own; Gingham's node does not, at first.
    await bNode.exec('ip', ['link', 'add', 'far', 'type', 'veth', 'peer', 'name', 'far-end']);
    await bNode.exec('ip', ['addr', 'add', '10.199.0.1/24', 'dev', 'far']);
    await bNode.exec('ip', ['link', 'set', 'far-end', 'up']);
    await bNode.exec('ip', ['link', 'set', 'far', 'up']);
    const bird = new BirdDaemon(bNode);
    await bird.start(`
router id ${bNode.address};
log stderr { warning, error, fatal };
protocol device { scan time 2; }
protocol direct { ipv4; interface "eth0", "far"; }
protocol static announced {
  ipv4;
  route 192.168.77.0/26 via 10.199.0.2;
  route 192.168.78.0/26 blackhole;
}
protocol bgp gingham {
  local ${bNode.address} as 64512;
  neighbor ${gNode.address} as 64512;
  ipv4 { import all; export filter { if source != RTS_STATIC then reject; if net = 192.168.77.0/26 then bgp_next_hop = 10.199.0.2; accept; }; };
  connect delay time 1;
  connect retry time 2;
}
`);
    const gingham = new GinghamDaemon(gNode);
    await gingham.start({ routerId: gNode.address, listen: `${gNode.address}:179`, kernel: true, peers: [{ address: bNode.address, passive: false }] });
    try {
      await waitFor('both routes in the RIB', async () => (await gingham.prefixes()).length === 2);
      await waitFor('the reachable one in the kernel', async () => (await kernelRoutes(gNode, 72)).some((r) => r.dst === '192.168.78.0/26'));
      const refused = await waitFor('the refusal in status', async () => {
        const k = (await gingham.status()).kernel;
        return k && k.refused === 1 ? k : undefined;
      }, 10_000);
      expect(refused.lastError).toMatch(/Network is unreachable: A 192\.168\.77\.0\/26/);
      expect((await kernelRoutes(gNode, 72)).some((r) => r.dst === '192.168.77.0/26')).toBe(false);
      // The node gets onto that network (an address, an interface coming up): no BGP change follows.
      await gNode.exec('ip', ['addr', 'add', '10.199.0.9/24', 'dev', 'eth0']);
      await waitFor('the refused route installed by a retry', async () => (await kernelRoutes(gNode, 72)).some((r) => r.dst === '192.168.77.0/26'), 15_000);
      expect((await gingham.status()).kernel?.refused).toBe(0);
    } finally {
      await bird.stop('SIGKILL');
      await gingham.stop('SIGUSR2');
    }
  });
});
