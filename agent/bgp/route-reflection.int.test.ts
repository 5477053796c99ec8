// Route reflection (RFC 4456): Gingham as the reflector for a BIRD client and a GoBGP client, and
// Gingham as a client of a BIRD reflector. Each speaker in its own namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdDaemon, GinghamDaemon, GobgpDaemon } from './testing/daemons.ts';
import { type LabNode, NetnsLab, waitFor } from '../../lab/testing/netns-lab.ts';
import { gobgpConfig } from './testing/peer-configs.ts';

let lab: NetnsLab;
let rrNode: LabNode, birdNode: LabNode, goNode: LabNode;
let birdRrNode: LabNode, clientNode: LabNode, birdClientNode: LabNode;
let rr: GinghamDaemon, client: GinghamDaemon;
let bird: BirdDaemon, gobgp: GobgpDaemon, birdRr: BirdDaemon, birdClient: BirdDaemon;

function birdBase(node: LabNode, routes: string[]): string {
  return `
router id ${node.address};
log stderr { warning, error, fatal };
protocol device { scan time 2; }
protocol direct { ipv4; interface "eth0"; }
protocol static announced {
  ipv4;
${routes.map((r) => `  route ${r} blackhole;`).join('\n')}
}
`;
}

function birdPeer(name: string, node: LabNode, peer: string, extra = ''): string {
  return `
protocol bgp ${name} {
  local ${node.address} as 64512;
  neighbor ${peer} as 64512;
  ipv4 { import all; export all; };
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 2;
${extra}
}
`;
}

beforeAll(async () => {
  lab = await NetnsLab.create(13);
  rrNode = await lab.node('rr', 3);
  birdNode = await lab.node('bird', 2);
  goNode = await lab.node('gobgp', 4);
  birdRrNode = await lab.node('birdrr', 5);
  clientNode = await lab.node('client', 6);
  birdClientNode = await lab.node('birdcl', 7);

  // Gingham as reflector.
  bird = new BirdDaemon(birdNode);
  await bird.start(birdBase(birdNode, ['192.168.20.0/26']) + birdPeer('reflector', birdNode, rrNode.address));
  gobgp = new GobgpDaemon(goNode);
  await gobgp.start(gobgpConfig(goNode, [{ address: rrNode.address }]));
  rr = new GinghamDaemon(rrNode);
  await rr.start({
    routerId: rrNode.address, listen: rrNode.address, connectRetryTime: 1,
    peers: [{ address: birdNode.address, routeReflectorClient: true }, { address: goNode.address, routeReflectorClient: true }],
  });

  // Gingham as client of a BIRD reflector, with a BIRD client beside it.
  birdRr = new BirdDaemon(birdRrNode);
  await birdRr.start(birdBase(birdRrNode, [])
    + birdPeer('gingham', birdRrNode, clientNode.address, '  rr client;\n  rr cluster id 1.1.1.1;')
    + birdPeer('birdcl', birdRrNode, birdClientNode.address, '  rr client;\n  rr cluster id 1.1.1.1;'));
  birdClient = new BirdDaemon(birdClientNode);
  await birdClient.start(birdBase(birdClientNode, ['192.168.70.0/26']) + birdPeer('reflector', birdClientNode, birdRrNode.address));
  client = new GinghamDaemon(clientNode);
  await client.start({
    routerId: clientNode.address, listen: clientNode.address, connectRetryTime: 1,
    peers: [{ address: birdRrNode.address, passive: false }],
    announce: ['192.168.60.0/26'],
  });
});

afterAll(async () => {
  await lab?.destroy();
});

describe('Gingham as route reflector', () => {
  it('reflects a BIRD client\'s route to a GoBGP client and back, with ORIGINATOR_ID and CLUSTER_LIST', async () => {
    await gobgp.cli(['global', 'rib', 'add', '192.168.30.0/26', '-a', 'ipv4']);
    await waitFor('BIRD route reflected to GoBGP', async () => (await gobgp.prefixes()).includes('192.168.20.0/26'), 30_000);
    await waitFor('GoBGP route reflected to BIRD', async () => (await bird.prefixes('reflector')).includes('192.168.30.0/26'), 30_000);
    const atGobgp = JSON.stringify((await gobgp.rib())['192.168.20.0/26']);
    expect(atGobgp).toMatch(new RegExp(`"type":9,"value":"${birdNode.address}"`));
    expect(atGobgp).toMatch(new RegExp(`"type":10,"value":\\["${rrNode.address}"\\]`));
    const atBird = await bird.birdc('show route 192.168.30.0/26 all');
    expect(atBird).toContain(`BGP.originator_id: ${goNode.address}`);
    expect(atBird).toContain(`BGP.cluster_list: ${rrNode.address}`);
    // The reflector does not change the next hop.
    expect(atBird).toContain(`BGP.next_hop: ${goNode.address}`);
  });

  it('honours GoBGP\'s well-known communities (RFC 1997): NO_EXPORT is reflected inside the AS, NO_ADVERTISE goes to no one', async () => {
    await gobgp.cli(['global', 'rib', 'add', '192.168.31.0/26', 'community', 'no-advertise', '-a', 'ipv4']);
    await gobgp.cli(['global', 'rib', 'add', '192.168.32.0/26', 'community', 'no-export', '-a', 'ipv4']);
    await waitFor('both at the reflector', async () => {
      const have = await rr.prefixes();
      return have.includes('192.168.31.0/26') && have.includes('192.168.32.0/26');
    }, 30_000);
    await waitFor('the NO_EXPORT route reflected to BIRD', async () => (await bird.prefixes('reflector')).includes('192.168.32.0/26'), 30_000);
    expect(await bird.birdc('show route 192.168.32.0/26 all')).toMatch(/BGP\.community: \(65535,65281\)/);
    // Sent in the same flush as the other, had it been sent at all.
    await new Promise((r) => setTimeout(r, 500));
    expect(await bird.prefixes('reflector')).not.toContain('192.168.31.0/26');
    expect((await rr.routes()).find((r) => r.prefix === '192.168.31.0/26')!.paths[0]!.communities).toEqual(['65535:65282']);
    await gobgp.cli(['global', 'rib', 'del', '192.168.31.0/26', '-a', 'ipv4']);
    await gobgp.cli(['global', 'rib', 'del', '192.168.32.0/26', '-a', 'ipv4']);
  });

  it('withdrawals are reflected too', async () => {
    await gobgp.cli(['global', 'rib', 'del', '192.168.30.0/26', '-a', 'ipv4']);
    await waitFor('withdrawal reflected to BIRD', async () => !(await bird.prefixes('reflector')).includes('192.168.30.0/26'));
  });
});

describe('Gingham as route reflector client of BIRD', () => {
  it('learns the other client\'s route through the reflector and its own route reaches the other client', async () => {
    await waitFor('session with the BIRD reflector', async () => (await client.peerState(birdRrNode.address)) === 'Established');
    await waitFor('reflected route at Gingham', async () => (await client.prefixes()).includes('192.168.70.0/26'), 30_000);
    const path = (await client.routes()).find((r) => r.prefix === '192.168.70.0/26')!.paths[0]!;
    expect(path).toMatchObject({ originatorId: birdClientNode.address, clusterList: ['1.1.1.1'], nextHop: birdClientNode.address });
    await waitFor('Gingham route at the other client', async () => (await birdClient.prefixes('reflector')).includes('192.168.60.0/26'), 30_000);
    expect(await birdClient.birdc('show route 192.168.60.0/26 all')).toContain(`BGP.originator_id: ${clientNode.address}`);
  });
});
