// RFC 6793 end to end, through an "old" speaker: BIRD with 4-octet AS support switched off.
// g0 (AS 4200000001) -> g1 (AS 64700) -> BIRD (AS 65010, no 4-octet AS) -> g2 (AS 64600).
// g1 writes AS_TRANS into the 2-octet AS_PATH and the real path into AS4_PATH; BIRD passes AS4_PATH
// on untouched; g2 rebuilds the real path from the two.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdDaemon, GinghamDaemon } from './testing/daemons.ts';
import { type LabNode, NetnsLab, waitFor } from '../../lab/testing/netns-lab.ts';

let lab: NetnsLab;
let birdNode: LabNode, g0Node: LabNode, g1Node: LabNode, g2Node: LabNode;
let bird: BirdDaemon, g0: GinghamDaemon, g1: GinghamDaemon, g2: GinghamDaemon;
const BIG_AS = 4200000001;

beforeAll(async () => {
  lab = await NetnsLab.create(16);
  birdNode = await lab.node('bird', 2);
  g1Node = await lab.node('g1', 3);
  g2Node = await lab.node('g2', 4);
  g0Node = await lab.node('g0', 5);
  bird = new BirdDaemon(birdNode);
  const session = (name: string, peer: LabNode, asn: number) => `
protocol bgp ${name} {
  local ${birdNode.address} as 65010;
  neighbor ${peer.address} as ${asn};
  enable as4 off;
  ipv4 { import all; export all; };
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 2;
}`;
  await bird.start(`
router id ${birdNode.address};
log stderr { warning, error, fatal };
protocol device {}
protocol direct { ipv4; interface "eth0"; }
protocol static { ipv4; route 192.168.60.0/26 blackhole; }
${session('g1', g1Node, 64700)}
${session('g2', g2Node, 64600)}
`);
  const ebgp = (peer: LabNode, asn: number) => ({ address: peer.address, asn, import: 'all', export: 'all', passive: false });
  g0 = new GinghamDaemon(g0Node);
  g1 = new GinghamDaemon(g1Node);
  g2 = new GinghamDaemon(g2Node);
  await Promise.all([
    g0.start({ routerId: g0Node.address, asn: BIG_AS, listen: g0Node.address, connectRetryTime: 1, peers: [{ ...ebgp(g1Node, 64700), passive: true }], announce: ['192.168.61.0/26'] }),
    g1.start({ routerId: g1Node.address, asn: 64700, listen: g1Node.address, connectRetryTime: 1, peers: [ebgp(g0Node, BIG_AS), ebgp(birdNode, 65010)] }),
    g2.start({ routerId: g2Node.address, asn: 64600, listen: g2Node.address, connectRetryTime: 1, peers: [ebgp(birdNode, 65010)] }),
  ]);
});

afterAll(async () => {
  await lab?.destroy();
});

describe('4-octet AS through a speaker without it (RFC 6793)', () => {
  it('negotiates 4-octet AS with the new speaker and not with the old one', async () => {
    await waitFor('sessions', async () => (await g1.status()).peers.every((p) => p.info === 'Established'));
    const [toG0, toBird] = (await g1.status()).peers;
    expect(toG0!.capabilities!.negotiated).toContain('4-octet-as');
    expect(toBird!.capabilities!.negotiated).not.toContain('4-octet-as');
  });

  it('the real path crosses the 2-octet sessions in AS4_PATH and is rebuilt on the far side', async () => {
    await waitFor('route at BIRD', async () => (await bird.prefixes('g1')).includes('192.168.61.0/26'));
    // The session is 2-octet: BIRD can know 4200000001 only from the AS4_PATH g1 sent beside
    // AS_TRANS (BIRD merges the two as RFC 6793 4.2.3 says).
    expect(await bird.birdc('show route 192.168.61.0/26 all')).toMatch(new RegExp(`BGP\\.as_path: 64700 ${BIG_AS}\\s*$`, 'm'));
    await waitFor('route at g2', async () => (await g2.prefixes()).includes('192.168.61.0/26'));
    const path = (await g2.routes()).find((r) => r.prefix === '192.168.61.0/26')!.paths[0]!;
    expect(path.asPath).toBe(`65010 64700 ${BIG_AS}`);
  });

  it('routes from the old speaker arrive with their 2-octet path, and the 4-octet speaker gets them', async () => {
    await waitFor('BIRD route at g0', async () => (await g0.prefixes()).includes('192.168.60.0/26'));
    expect((await g0.routes()).find((r) => r.prefix === '192.168.60.0/26')!.paths[0]!.asPath).toBe('64700 65010');
  });
});
