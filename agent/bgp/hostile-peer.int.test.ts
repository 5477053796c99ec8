// A hostile peer (this test, speaking raw BGP from the root namespace) sends what the RFCs call
// errors. Each gets the RFC's answer (RFC 4271 section 6, RFC 7606), the speaker stays up, and its
// session with BIRD stays Established throughout. Also: connection collision, resolved both ways.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageType } from './codec/constants.ts';
import { BirdDaemon, GinghamDaemon } from './testing/daemons.ts';
import { type LabNode, NetnsLab, waitFor } from '../../lab/testing/netns-lab.ts';
import { RawConnection, rawFrame, rawListener } from './testing/raw-peer.ts';

let lab: NetnsLab;
let gNode: LabNode, bNode: LabNode, cNode: LabNode;
let gingham: GinghamDaemon, collider: GinghamDaemon;
let bird: BirdDaemon;
const HOSTILE_ID = '10.177.14.200';

const ORIGIN = [0x40, 1, 1, 0];
const AS_PATH = [0x40, 2, 0];
const NEXT_HOP = (host: string) => [0x40, 3, 4, ...host.split('.').map(Number)];
const P1 = [26, 192, 168, 99, 0];

function update(attrs: number[], nlri: number[], withdrawn: number[] = []): Buffer {
  return rawFrame(MessageType.Update, [withdrawn.length >> 8, withdrawn.length & 255, ...withdrawn, attrs.length >> 8, attrs.length & 255, ...attrs, ...nlri]);
}

async function hostile(): Promise<RawConnection> {
  // A connection while the previous session is still Established is refused (collision with an
  // established session): wait until the speaker has seen the last one go.
  await waitFor('previous hostile session gone', async () => (await gingham.peerState(lab.hostAddress)) !== 'Established', 10_000, 50);
  const c = await RawConnection.dial(gNode.address, 179, lab.hostAddress);
  await c.establish(HOSTILE_ID);
  return c;
}

async function birdStillUp(): Promise<void> {
  expect(gingham.process!.exitCode).toBeNull();
  expect(await gingham.peerState(bNode.address)).toBe('Established');
}

beforeAll(async () => {
  lab = await NetnsLab.create(14);
  gNode = await lab.node('gingham', 3);
  bNode = await lab.node('bird', 2);
  cNode = await lab.node('collider', 5);
  bird = new BirdDaemon(bNode);
  await bird.start(`
router id ${bNode.address};
log stderr { warning, error, fatal };
protocol device {}
protocol static { ipv4; route 192.168.20.0/26 blackhole; }
protocol bgp gingham { local ${bNode.address} as 64512; neighbor ${gNode.address} as 64512; ipv4 { import all; export all; next hop self; }; connect delay time 1; connect retry time 2; }
`);
  gingham = new GinghamDaemon(gNode);
  await gingham.start({
    routerId: gNode.address, listen: gNode.address, connectRetryTime: 1,
    peers: [{ address: bNode.address, passive: false }, { address: lab.hostAddress, passive: true }],
  });
  await waitFor('BIRD session', async () => (await gingham.peerState(bNode.address)) === 'Established');
  await waitFor('BIRD route', async () => (await gingham.prefixes()).includes('192.168.20.0/26'));
});

afterAll(async () => {
  await lab?.destroy();
});

describe('hostile peer', () => {
  it('a broken marker gets Connection Not Synchronized', async () => {
    const c = await hostile();
    const ka = rawFrame(MessageType.Keepalive, []);
    ka[5] = 0;
    c.send(ka);
    expect((await c.notification()).slice(0, 2)).toEqual([1, 1]);
    await birdStillUp();
  });

  it('a bad length gets Bad Message Length carrying the length', async () => {
    const c = await hostile();
    const ka = rawFrame(MessageType.Keepalive, []);
    ka.writeUInt16BE(5000, 16);
    c.send(ka);
    const [code, sub, data] = await c.notification();
    expect([code, sub, data.readUInt16BE(0)]).toEqual([1, 2, 5000]);
    await birdStillUp();
  });

  it('a truncated UPDATE (shorter than its minimum) gets Bad Message Length', async () => {
    const c = await hostile();
    c.send(rawFrame(MessageType.Update, [0, 0]));
    expect((await c.notification()).slice(0, 2)).toEqual([1, 2]);
    await birdStillUp();
  });

  it('an unknown message type gets Bad Message Type carrying the type', async () => {
    const c = await hostile();
    c.send(rawFrame(42, []));
    const [code, sub, data] = await c.notification();
    expect([code, sub, [...data]]).toEqual([1, 3, [42]]);
    await birdStillUp();
  });

  it('an UPDATE before OPEN gets an FSM error', async () => {
    const c = await RawConnection.dial(gNode.address, 179, lab.hostAddress);
    await c.expect(MessageType.Open);
    c.send(update([...ORIGIN, ...AS_PATH, ...NEXT_HOP(lab.hostAddress)], P1));
    expect((await c.notification()).slice(0, 2)).toEqual([5, 1]);
    await birdStillUp();
  });

  it('wrong attribute flags and a malformed AS_PATH are treated as withdraw: the session stays up', async () => {
    const c = await hostile();
    c.send(update([...ORIGIN, ...AS_PATH, ...NEXT_HOP(lab.hostAddress)], P1));
    await waitFor('valid route', async () => (await gingham.prefixes()).includes('192.168.99.0/26'));
    c.send(update([0xc0, 1, 1, 0, ...AS_PATH, ...NEXT_HOP(lab.hostAddress)], P1));
    await waitFor('withdrawn by wrong ORIGIN flags', async () => !(await gingham.prefixes()).includes('192.168.99.0/26'));
    c.send(update([...ORIGIN, ...AS_PATH, ...NEXT_HOP(lab.hostAddress)], P1));
    await waitFor('valid again', async () => (await gingham.prefixes()).includes('192.168.99.0/26'));
    c.send(update([...ORIGIN, 0x40, 2, 4, 2, 5, 0, 1, ...NEXT_HOP(lab.hostAddress)], P1));
    await waitFor('withdrawn by malformed AS_PATH', async () => !(await gingham.prefixes()).includes('192.168.99.0/26'));
    expect(await gingham.peerState(lab.hostAddress)).toBe('Established');
    const stats = (await gingham.status()).peers.find((p) => p.address === lab.hostAddress)!.statistics;
    expect(stats.treatAsWithdraw).toBe(2);
    c.close();
    await birdStillUp();
  });

  it('enhanced route refresh: routes not re-sent between BoRR and EoRR are removed (RFC 7313)', async () => {
    const c = await hostile();
    const P2 = [26, 192, 168, 98, 0];
    c.send(update([...ORIGIN, ...AS_PATH, ...NEXT_HOP(lab.hostAddress)], [...P1, ...P2]));
    await waitFor('both routes', async () => (await gingham.prefixes()).includes('192.168.98.0/26'));
    c.send(rawFrame(MessageType.RouteRefresh, [0, 1, 1, 1]));
    c.send(update([...ORIGIN, ...AS_PATH, ...NEXT_HOP(lab.hostAddress)], P1));
    c.send(rawFrame(MessageType.RouteRefresh, [0, 1, 2, 1]));
    await waitFor('the route not re-sent is gone', async () => !(await gingham.prefixes()).includes('192.168.98.0/26'));
    expect(await gingham.prefixes()).toContain('192.168.99.0/26');
    expect(await gingham.peerState(lab.hostAddress)).toBe('Established');
    c.close();
  });

  it('a bad AGGREGATOR is discarded and the route kept', async () => {
    const c = await hostile();
    c.send(update([...ORIGIN, ...AS_PATH, ...NEXT_HOP(lab.hostAddress), 0xc0, 7, 2, 1, 2], P1));
    await waitFor('route with the attribute dropped', async () => (await gingham.prefixes()).includes('192.168.99.0/26'));
    expect((await gingham.status()).peers.find((p) => p.address === lab.hostAddress)!.statistics.attributesDiscarded).toBe(1);
    c.close();
  });

  it('an unknown well-known attribute gets Unrecognized Well-known Attribute with the attribute as data', async () => {
    const c = await hostile();
    c.send(update([...ORIGIN, ...AS_PATH, ...NEXT_HOP(lab.hostAddress), 0x40, 99, 2, 7, 7], P1));
    const [code, sub, data] = await c.notification();
    expect([code, sub, [...data]]).toEqual([3, 2, [0x40, 99, 2, 7, 7]]);
    await birdStillUp();
  });

  it('malformed NLRI gets Invalid Network Field', async () => {
    const c = await hostile();
    c.send(update([...ORIGIN, ...AS_PATH, ...NEXT_HOP(lab.hostAddress)], [40, 10, 0, 0, 0, 0]));
    expect((await c.notification()).slice(0, 2)).toEqual([3, 10]);
    await birdStillUp();
  });

  it('an attribute list overrunning the message gets Malformed Attribute List', async () => {
    const c = await hostile();
    c.send(rawFrame(MessageType.Update, [0, 0, 0, 50, ...ORIGIN]));
    expect((await c.notification()).slice(0, 2)).toEqual([3, 1]);
    await birdStillUp();
  });

  it('a malformed MP_REACH_NLRI gets Optional Attribute Error (session reset per RFC 7606)', async () => {
    const c = await hostile();
    c.send(update([...ORIGIN, ...AS_PATH, 0x80, 14, 8, 0, 1, 1, 4, 10, 0, 0, 1], []));
    expect((await c.notification()).slice(0, 2)).toEqual([3, 9]);
    await birdStillUp();
  });

  it('a wrong AS in OPEN gets Bad Peer AS', async () => {
    const c = await RawConnection.dial(gNode.address, 179, lab.hostAddress);
    c.sendOpen(HOSTILE_ID, 65001);
    expect((await c.notification()).slice(0, 2)).toEqual([2, 2]);
    await birdStillUp();
    // The hostile peer's routes went with its sessions; BIRD's stayed.
    expect(await gingham.prefixes()).toEqual(['192.168.20.0/26']);
  });
});

describe('connection collision (RFC 4271 6.8)', () => {
  it('keeps the connection opened by the higher BGP identifier, closing the other with Cease / Collision', async () => {
    const listener = await rawListener(lab.hostAddress, 179);
    try {
      collider = new GinghamDaemon(cNode);
      await collider.start({ routerId: cNode.address, listen: cNode.address, connectRetryTime: 1, peers: [{ address: lab.hostAddress, passive: false }] });

      // Round 1: our identifier (.200) is higher than the speaker's (.5): the connection we opened wins.
      let outgoing = await listener.accepted();
      await outgoing.expect(MessageType.Open);
      let incoming = await RawConnection.dial(cNode.address, 179, lab.hostAddress);
      incoming.sendOpen(lab.address(200));
      await incoming.expect(MessageType.Open);
      await incoming.expect(MessageType.Keepalive);
      outgoing.sendOpen(lab.address(200));
      expect((await outgoing.notification()).slice(0, 2)).toEqual([6, 7]);
      incoming.sendKeepalive();
      await waitFor('established on our connection', async () => (await collider.peerState(lab.hostAddress)) === 'Established');
      incoming.close();
      outgoing.close();

      // Round 2: our identifier (.1) is lower: the speaker's own connection wins.
      await waitFor('session down', async () => (await collider.peerState(lab.hostAddress)) !== 'Established');
      outgoing = await listener.accepted();
      await outgoing.expect(MessageType.Open);
      incoming = await RawConnection.dial(cNode.address, 179, lab.hostAddress);
      incoming.sendOpen(lab.address(1));
      await incoming.expect(MessageType.Open);
      outgoing.sendOpen(lab.address(1));
      expect((await incoming.notification()).slice(0, 2)).toEqual([6, 7]);
      await outgoing.expect(MessageType.Keepalive);
      outgoing.sendKeepalive();
      await waitFor('established on the speaker\'s connection', async () => (await collider.peerState(lab.hostAddress)) === 'Established');
      outgoing.close();
    } finally {
      listener.server.close();
    }
  });
});
