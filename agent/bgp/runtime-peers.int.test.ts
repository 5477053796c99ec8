// Peers changed while the speaker runs, against real daemons in their own namespaces: a BIRD 2
// peer with a TCP-MD5 password, its own hold, keepalive and graceful restart times is added over
// the control socket (bgp.addPeer), changed in place (bgp.updatePeer) and removed
// (bgp.removePeer), while a GoBGP session beside it is never disturbed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentMethod } from '../../shared/api/agent-contract.ts';
import { callRpc } from '../rpc/client.ts';
import type { PeerStatus } from './speaker.ts';
import { BirdDaemon, GinghamDaemon, GobgpDaemon, kernelRoutes } from './testing/daemons.ts';
import { type LabNode, NetnsLab, waitFor } from '../../lab/testing/netns-lab.ts';
import { gobgpConfig } from './testing/peer-configs.ts';

const PROTO = 72;
const PASSWORD = 'runtime-md5-secret';
let lab: NetnsLab;
let gNode: LabNode;
let bNode: LabNode;
let oNode: LabNode;
let gingham: GinghamDaemon;
let bird: BirdDaemon;
let gobgp: GobgpDaemon;

function birdConfig(node: LabNode, peer: string): string {
  return `
router id ${node.address};
log stderr { warning, error, fatal };
protocol device { scan time 2; }
protocol direct { ipv4; interface "eth0"; }
protocol static announced { ipv4; route 192.168.70.0/26 blackhole; }
protocol bgp gingham {
  local ${node.address} as 64512;
  neighbor ${peer} as 64512;
  ipv4 { import all; export where source = RTS_STATIC; next hop self; };
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 2;
  graceful restart on;
  password "${PASSWORD}";
}
`;
}

const rpc = <T>(method: AgentMethod, params?: unknown) => callRpc<T>(gingham.control, method, params, 10_000);
const birdPeer = () => ({ address: bNode.address, passive: false, password: PASSWORD, holdTime: 30, keepaliveTime: 4, restartTime: 200 });

beforeAll(async () => {
  lab = await NetnsLab.create(12);
  gNode = await lab.node('gingham', 3);
  bNode = await lab.node('bird', 2);
  oNode = await lab.node('gobgp', 4);
  bird = new BirdDaemon(bNode);
  await bird.start(birdConfig(bNode, gNode.address));
  gobgp = new GobgpDaemon(oNode);
  await gobgp.start(gobgpConfig(oNode, [{ address: gNode.address }]));
  gingham = new GinghamDaemon(gNode);
  // Started with the GoBGP peer only; BIRD comes later over the control socket.
  await gingham.start({
    routerId: gNode.address, listen: `${gNode.address}:179`, connectRetryTime: 1, connectRetryMax: 2,
    peers: [{ address: oNode.address, passive: false }], announce: ['192.168.71.0/26'], kernel: true,
  });
  await waitFor('GoBGP session', async () => (await gingham.peerState(oNode.address)) === 'Established', 30_000);
});

afterAll(async () => {
  await gingham?.stop('SIGUSR2').catch(() => undefined);
  await Promise.all([bird?.stop(), gobgp?.stop()].map((p) => p?.catch(() => undefined)));
  await lab?.destroy();
});

describe('peers at runtime, with real daemons', () => {
  let gobgpSince = '';

  it('adds a BIRD peer with a password and its own timers; the GoBGP session is not touched', async () => {
    gobgpSince = (await gingham.status()).peers.find((p) => p.address === oNode.address)!.since;
    const added = await rpc<PeerStatus>('bgp.addPeer', { peer: birdPeer() });
    expect(added).toMatchObject({ address: bNode.address, passive: false });
    await waitFor('BIRD established (TCP-MD5)', async () => (await bird.protocolState('gingham')).includes('Established'), 30_000);
    await waitFor('BIRD\'s route in our kernel', async () => (await kernelRoutes(gNode, PROTO)).some((r) => r.dst === '192.168.70.0/26'), 15_000);
    await waitFor('our route at BIRD', async () => (await bird.prefixes('gingham')).includes('192.168.71.0/26'), 15_000);
    const status = (await gingham.status()).peers.find((p) => p.address === bNode.address)!;
    // BIRD proposes 240 s, we 30: hold 30, our keepalive the configured 4 s.
    expect(status).toMatchObject({ holdTime: 30, keepaliveTime: 4 });
    expect(status.capabilities!.local).toContain('graceful-restart(200s)');
    const shown = await bird.birdc('show protocols all gingham');
    // BIRD's own view: the negotiated hold time, and the restart time we announced (maxRestartTime).
    expect(shown).toMatch(/Hold timer:\s+\S+\/30/);
    expect(shown).toMatch(/Neighbor capabilities[\s\S]*Graceful restart\s+Restart time: 200/);
    expect((await gingham.status()).peers.find((p) => p.address === oNode.address)).toMatchObject({ info: 'Established', since: gobgpSince });
    expect(await gobgp.neighborState(gNode.address)).toMatch(/6|ESTABLISHED/i);
  }, 60_000);

  it('changes the export policy in place: BIRD loses our route, the session stays', async () => {
    const birdSince = (await gingham.status()).peers.find((p) => p.address === bNode.address)!.since;
    expect(await rpc<{ result: string }>('bgp.updatePeer', { peer: { ...birdPeer(), export: 'none' } })).toEqual({ result: 'updated' });
    await waitFor('our route withdrawn at BIRD', async () => !(await bird.prefixes('gingham')).includes('192.168.71.0/26'), 15_000);
    expect((await gingham.status()).peers.find((p) => p.address === bNode.address)).toMatchObject({ info: 'Established', since: birdSince });
    expect(await rpc<{ result: string }>('bgp.updatePeer', { peer: { ...birdPeer(), export: 'all' } })).toEqual({ result: 'updated' });
    await waitFor('our route back at BIRD', async () => (await bird.prefixes('gingham')).includes('192.168.71.0/26'), 15_000);
  }, 40_000);

  it('removes the BIRD peer: Cease / Peer De-configured, its kernel routes go; GoBGP still untouched', async () => {
    expect(await rpc<{ removed: boolean }>('bgp.removePeer', { address: bNode.address })).toEqual({ removed: true });
    await waitFor('BIRD told why', async () => /Peer de-?configured/i.test(await bird.birdc('show protocols all gingham')), 15_000);
    await waitFor('its kernel routes removed', async () => !(await kernelRoutes(gNode, PROTO)).some((r) => r.dst === '192.168.70.0/26'), 10_000);
    const status = await gingham.status();
    expect(status.peers.map((p) => p.address)).toEqual([oNode.address]);
    expect(status.peers[0]).toMatchObject({ info: 'Established', since: gobgpSince });
    // BIRD keeps trying; with the peer gone, its connections are refused.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await bird.protocolState('gingham')).not.toContain('Established');
    await expect(rpc('bgp.removePeer', { address: bNode.address })).resolves.toEqual({ removed: false });
    await expect(rpc('bgp.addPeer', { peer: { address: 'nonsense' } })).rejects.toThrow(/address/);
  }, 40_000);
});
