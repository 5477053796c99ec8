// Gingham with GoBGP and FRR, each in its own namespace: sessions, routes both ways, withdrawals,
// iBGP's no-re-advertisement rule, and ADD-PATH receive from GoBGP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRpc } from '../rpc/client.ts';
import { FrrDaemon, GinghamDaemon, GobgpDaemon } from './testing/daemons.ts';
import { type LabNode, NetnsLab, waitFor } from '../../lab/testing/netns-lab.ts';
import { frrConfig, gobgpConfig } from './testing/peer-configs.ts';

let lab: NetnsLab;
let gNode: LabNode;
let goNode: LabNode;
let frrNode: LabNode;
let gingham: GinghamDaemon;
let gobgp: GobgpDaemon;
let frr: FrrDaemon;

beforeAll(async () => {
  lab = await NetnsLab.create(12);
  gNode = await lab.node('gingham', 3);
  goNode = await lab.node('gobgp', 4);
  frrNode = await lab.node('frr', 5);
  gobgp = new GobgpDaemon(goNode);
  await gobgp.start(gobgpConfig(goNode, [{ address: gNode.address, addPathSend: 4 }]));
  frr = new FrrDaemon(frrNode);
  await frr.start(frrConfig(frrNode, [{ address: gNode.address }], ['192.168.50.0/26', '192.168.51.0/26']));
  gingham = new GinghamDaemon(gNode);
  await gingham.start({
    routerId: gNode.address,
    listen: gNode.address,
    connectRetryTime: 1,
    peers: [{ address: goNode.address, passive: false }, { address: frrNode.address, passive: false }],
    announce: ['192.168.10.0/26'],
  });
});

afterAll(async () => {
  await lab?.destroy();
});

describe('Gingham with GoBGP', () => {
  it('establishes and routes flow both ways', async () => {
    await waitFor('session with GoBGP', async () => (await gingham.peerState(goNode.address)) === 'Established');
    await gobgp.cli(['global', 'rib', 'add', '192.168.30.0/26', '-a', 'ipv4']);
    await waitFor('GoBGP route at Gingham', async () => (await gingham.prefixes()).includes('192.168.30.0/26'));
    await waitFor('Gingham route at GoBGP', async () => (await gobgp.prefixes()).includes('192.168.10.0/26'));
    const rib = await gobgp.rib();
    expect(rib['192.168.10.0/26']![0]!.nexthop ?? JSON.stringify(rib['192.168.10.0/26'])).toContain(gNode.address);
    const path = (await gingham.routes()).find((r) => r.prefix === '192.168.30.0/26')!.paths[0]!;
    expect(path).toMatchObject({ from: goNode.address, nextHop: goNode.address });
  });

  it('negotiates ADD-PATH: GoBGP sends path identifiers, Gingham receives them', async () => {
    const peer = (await gingham.status()).peers.find((p) => p.address === goNode.address)!;
    expect(peer.capabilities!.negotiated).toContain('add-path-receive');
    const path = (await gingham.routes()).find((r) => r.prefix === '192.168.30.0/26')!.paths[0]!;
    expect(path.pathId).toBeGreaterThan(0);
  });

  it('withdrawals flow both ways', async () => {
    await gobgp.cli(['global', 'rib', 'del', '192.168.30.0/26', '-a', 'ipv4']);
    await waitFor('withdrawal at Gingham', async () => !(await gingham.prefixes()).includes('192.168.30.0/26'));
    await callRpc(gingham.control, 'bgp.withdraw', { prefix: '192.168.10.0/26' });
    await waitFor('withdrawal at GoBGP', async () => !(await gobgp.prefixes()).includes('192.168.10.0/26'));
    await callRpc(gingham.control, 'bgp.announce', { prefix: '192.168.10.0/26' });
    await waitFor('announced again', async () => (await gobgp.prefixes()).includes('192.168.10.0/26'));
  });
});

describe('Gingham with FRR', () => {
  it('establishes and routes flow both ways', async () => {
    await waitFor('session with FRR', async () => (await gingham.peerState(frrNode.address)) === 'Established');
    await waitFor('FRR routes at Gingham', async () => {
      const p = await gingham.prefixes();
      return p.includes('192.168.50.0/26') && p.includes('192.168.51.0/26');
    });
    await waitFor('Gingham route at FRR', async () => (await frr.prefixes()).includes('192.168.10.0/26'));
    const detail = JSON.parse(await frr.vtysh(['show bgp ipv4 unicast 192.168.10.0/26 json'])) as { paths: Array<{ nexthops: Array<{ ip: string }>; origin: string }> };
    expect(detail.paths[0]!.nexthops[0]!.ip).toBe(gNode.address);
    expect(detail.paths[0]!.origin).toBe('IGP');
  });

  it('does not pass iBGP routes from one iBGP peer to another (no route reflection configured)', async () => {
    await gobgp.cli(['global', 'rib', 'add', '192.168.31.0/26', '-a', 'ipv4']);
    await waitFor('GoBGP route at Gingham', async () => (await gingham.prefixes()).includes('192.168.31.0/26'));
    await new Promise((r) => setTimeout(r, 1000));
    expect(await frr.prefixes()).not.toContain('192.168.31.0/26');
    expect(await gobgp.prefixes()).not.toContain('192.168.50.0/26');
  });

  it('withdrawals flow both ways', async () => {
    await frr.vtysh(['configure terminal', 'router bgp 64512', 'address-family ipv4 unicast', 'no network 192.168.51.0/26']);
    await waitFor('withdrawal at Gingham', async () => !(await gingham.prefixes()).includes('192.168.51.0/26'));
    await callRpc(gingham.control, 'bgp.withdraw', { prefix: '192.168.10.0/26' });
    await waitFor('withdrawal at FRR', async () => !(await frr.prefixes()).includes('192.168.10.0/26'));
  });
});
