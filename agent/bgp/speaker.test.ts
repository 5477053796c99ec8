// Two and three Gingham speakers over loopback (127.0.0.x, no root): sessions, routes both ways,
// withdrawal, route reflection, graceful restart as helper. Real daemons are in *.int.test.ts.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from './config.ts';
import { MessageType } from './codec/constants.ts';
import { Speaker } from './speaker.ts';
import { RawConnection, rawListener } from './testing/raw-peer.ts';

const log = pino({ level: 'silent' });
const running: Speaker[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop({ withdraw: true })));
});

let basePort = 20000 + Math.floor(Math.random() * 20000);

async function speaker(doc: Record<string, unknown>): Promise<Speaker> {
  const s = new Speaker(validateConfig({ connectRetryTime: 1, ...doc }), log);
  await s.start();
  running.push(s);
  return s;
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function bestFrom(s: Speaker, prefix: string): string | undefined {
  return s.routes().routes.find((r) => r.prefix === prefix)?.paths[0]?.from;
}

describe('Gingham speaker over loopback', () => {
  it('establishes, exchanges routes both ways, withdraws them when the session goes', async () => {
    const pa = basePort++, pb = basePort++;
    const a = await speaker({ routerId: '127.0.0.1', listen: `127.0.0.1:${pa}`, peers: [{ address: '127.0.0.2', port: pb, passive: false }], announce: ['192.168.1.0/26'] });
    const b = await speaker({ routerId: '127.0.0.2', listen: `127.0.0.2:${pb}`, peers: [{ address: '127.0.0.1', port: pa }], announce: ['192.168.2.0/26', '10.9.0.0/16'] });
    await until('routes at a', () => a.rib.prefixCount === 3);
    await until('routes at b', () => b.rib.prefixCount === 3);
    expect(bestFrom(a, '192.168.2.0/26')).toBe(`127.0.0.2:${pb}`);
    const route = a.routes().routes.find((r) => r.prefix === '10.9.0.0/16')!.paths[0]!;
    expect(route).toMatchObject({ nextHop: '127.0.0.2', asPath: '', origin: 'IGP', localPref: 100 });
    const status = a.status().peers[0]!;
    expect(status).toMatchObject({ state: 'up', info: 'Established', received: 2, accepted: 2, advertised: 1 });
    expect(status.capabilities!.negotiated).toEqual(expect.arrayContaining(['4-octet-as', 'route-refresh', 'enhanced-route-refresh', 'extended-message', 'graceful-restart']));
    await b.stop({ withdraw: true });
    running.splice(running.indexOf(b), 1);
    await until('withdrawal at a', () => a.rib.prefixCount === 1);
  });

  it('graceful restart: when the peer goes quietly its routes stay as stale, then are refreshed', async () => {
    const pa = basePort++, pb = basePort++;
    const a = await speaker({ routerId: '127.0.0.1', listen: `127.0.0.1:${pa}`, peers: [{ address: '127.0.0.2', port: pb }] });
    const bDoc = { routerId: '127.0.0.2', listen: `127.0.0.2:${pb}`, peers: [{ address: '127.0.0.1', port: pa }], announce: ['192.168.2.0/26', '192.168.3.0/26'] };
    let b = await speaker(bDoc);
    await until('routes at a', () => a.rib.prefixCount === 2);
    await b.stop();
    running.splice(running.indexOf(b), 1);
    await until('stale routes', () => a.status().peers[0]!.stale === 2);
    expect(a.rib.prefixCount).toBe(2);
    b = await speaker({ ...bDoc, announce: ['192.168.2.0/26'] });
    await until('End-of-RIB sweeps the route not announced again', () => a.rib.prefixCount === 1 && a.status().peers[0]!.stale === 0);
    expect(a.routes().routes[0]!.paths[0]!.stale).toBe(false);
  });

  it('reflects routes between clients (ORIGINATOR_ID, CLUSTER_LIST), and not between plain iBGP peers', async () => {
    const [p1, p2, p3] = [basePort++, basePort++, basePort++];
    const rr = await speaker({ routerId: '127.0.0.1', listen: `127.0.0.1:${p1}`, peers: [
      { address: '127.0.0.2', port: p2, routeReflectorClient: true, passive: true },
      { address: '127.0.0.3', port: p3, routeReflectorClient: true, passive: true },
    ] });
    const c2 = await speaker({ routerId: '127.0.0.2', listen: `127.0.0.2:${p2}`, peers: [{ address: '127.0.0.1', port: p1, passive: false }], announce: ['192.168.2.0/26'] });
    const c3 = await speaker({ routerId: '127.0.0.3', listen: `127.0.0.3:${p3}`, peers: [{ address: '127.0.0.1', port: p1, passive: false }], announce: ['192.168.3.0/26'] });
    await until('reflected to c3', () => c3.rib.prefixCount === 2);
    await until('reflected to c2', () => c2.rib.prefixCount === 2);
    const reflected = c3.routes().routes.find((r) => r.prefix === '192.168.2.0/26')!.paths[0]!;
    expect(reflected).toMatchObject({ nextHop: '127.0.0.2', originatorId: '127.0.0.2', clusterList: ['127.0.0.1'] });
    expect(rr.rib.prefixCount).toBe(2);
  });

  it('collision: both sides connect actively, one session survives', async () => {
    const pa = basePort++, pb = basePort++;
    const a = await speaker({ routerId: '127.0.0.1', listen: `127.0.0.1:${pa}`, peers: [{ address: '127.0.0.2', port: pb, passive: false }], announce: ['192.168.1.0/26'] });
    const b = await speaker({ routerId: '127.0.0.2', listen: `127.0.0.2:${pb}`, peers: [{ address: '127.0.0.1', port: pa, passive: false }], announce: ['192.168.2.0/26'] });
    await until('both established', () => a.status().peers[0]!.state === 'up' && b.status().peers[0]!.state === 'up');
    await new Promise((r) => setTimeout(r, 300));
    expect(a.peers[0]!.connections.size).toBe(1);
    expect(b.peers[0]!.connections.size).toBe(1);
    await until('routes', () => a.rib.prefixCount === 2 && b.rib.prefixCount === 2);
  });

  it('collision between eBGP speakers with the same BGP identifier (RFC 6286 2.3): the connection the larger AS opened survives', async () => {
    const pa = basePort++, pb = basePort++;
    const listener = await rawListener('127.0.0.2', pb);
    try {
      // We are the larger AS: our own (outgoing) connection must win, on both sides alike.
      const a = await speaker({ routerId: '127.0.0.9', asn: 65001, listen: `127.0.0.1:${pa}`, peers: [{ address: '127.0.0.2', port: pb, asn: 64512, passive: false }] });
      const outgoing = await listener.accepted();
      await outgoing.expect(MessageType.Open);
      const incoming = await RawConnection.dial('127.0.0.1', pa, '127.0.0.2');
      incoming.sendOpen('127.0.0.9', 64512);
      await incoming.expect(MessageType.Open);
      outgoing.sendOpen('127.0.0.9', 64512);
      expect((await incoming.notification()).slice(0, 2)).toEqual([6, 7]); // Cease / Connection Collision Resolution
      await outgoing.expect(MessageType.Keepalive);
      outgoing.sendKeepalive();
      await until('established on our connection', () => a.peers[0]!.established?.direction === 'outgoing');
      outgoing.close();
      incoming.close();
    } finally {
      listener.server.close();
    }
  });

  it('eBGP carries nothing without an explicit policy (RFC 8212), and prepends the AS with one', async () => {
    const pa = basePort++, pb = basePort++;
    const a = await speaker({ routerId: '127.0.0.1', asn: 64512, listen: `127.0.0.1:${pa}`, peers: [{ address: '127.0.0.2', port: pb, asn: 65001, passive: false }], announce: ['192.168.1.0/26'] });
    const b = await speaker({ routerId: '127.0.0.2', asn: 65001, listen: `127.0.0.2:${pb}`, peers: [{ address: '127.0.0.1', port: pa, asn: 64512, import: 'all', export: 'all' }], announce: ['10.20.0.0/16'] });
    await until('eBGP session', () => a.status().peers[0]!.state === 'up' && b.status().peers[0]!.state === 'up');
    await until('b\'s route received but refused by a', () => a.status().peers[0]!.received === 1);
    expect(a.status().peers[0]).toMatchObject({ ebgp: true, type: 'global', received: 1, accepted: 0, advertised: 0 });
    expect(b.rib.prefixCount).toBe(1);

    const pc = basePort++;
    const c = await speaker({ routerId: '127.0.0.3', asn: 64512, listen: `127.0.0.3:${pc}`, peers: [{ address: '127.0.0.2', port: pb, asn: 65001, passive: false, import: 'all', export: 'announced' }], announce: ['192.168.3.0/26'] });
    await b.stop({ withdraw: true });
    running.splice(running.indexOf(b), 1);
    const b2 = await speaker({ routerId: '127.0.0.2', asn: 65001, listen: `127.0.0.2:${pb}`, peers: [{ address: '127.0.0.3', port: pc, asn: 64512, import: 'all', export: 'all' }], announce: ['10.20.0.0/16'] });
    await until('routes both ways', () => c.rib.prefixCount === 2 && b2.rib.prefixCount === 2);
    expect(c.routes().routes.find((r) => r.prefix === '10.20.0.0/16')!.paths[0]).toMatchObject({ asPath: '65001', nextHop: '127.0.0.2' });
    expect(b2.routes().routes.find((r) => r.prefix === '192.168.3.0/26')!.paths[0]).toMatchObject({ asPath: '64512', nextHop: '127.0.0.3', localPref: 100 });
  });

  it('reports why a peer is not up, in the words BIRD uses', async () => {
    const pa = basePort++, nobody = basePort++;
    const a = await speaker({ routerId: '127.0.0.1', listen: `127.0.0.1:${pa}`, peers: [{ address: '127.0.0.6', port: nobody, passive: false }] });
    await until('connection refused', () => /Socket: Connection refused/.test(a.status().peers[0]!.info));
    expect(a.status().peers[0]).toMatchObject({ state: 'start', lastError: 'Socket: Connection refused' });
  });
});
