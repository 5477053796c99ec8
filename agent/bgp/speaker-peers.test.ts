// Peers added, changed and removed while the speaker runs (Speaker.addPeer / updatePeer /
// removePeer / setPeers), the per-peer settings Calico's BGPPeer carries (keepaliveTime,
// maxRestartTime, sourceAddress, nextHopMode), and the connect-retry backoff, all between real
// speakers over loopback (127.0.0.x, no root).
import { type Server, createServer } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, type PeerConfigInput, validateConfig } from './config.ts';
import { Speaker } from './speaker.ts';

const log = pino({ level: 'silent' });
const running: Speaker[] = [];
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop({ withdraw: true })));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

let basePort = 20000 + Math.floor(Math.random() * 20000);

async function speaker(doc: Record<string, unknown>): Promise<Speaker> {
  const s = new Speaker(validateConfig({ connectRetryTime: 1, connectRetryMax: 1, ...doc }), log);
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

const peerOf = (s: Speaker, address: string) => s.status().peers.find((p) => p.address === address);
const up = (s: Speaker, address: string) => peerOf(s, address)?.state === 'up';
const prefixes = (s: Speaker) => s.routes().routes.map((r) => r.prefix).sort();

describe('peers at runtime', () => {
  it('shows the configured PEER TYPE (calicoctl\'s words), and a change of it does not touch the session', async () => {
    const [pa, pb] = [basePort++, basePort++];
    const a = await speaker({ routerId: '127.0.0.1', listen: `127.0.0.1:${pa}`, peers: [{ address: '127.0.0.2', port: pb, passive: false, peerType: 'global' }, { address: '127.0.0.4', port: pb }] });
    const b = await speaker({ routerId: '127.0.0.2', listen: `127.0.0.2:${pb}`, peers: [{ address: '127.0.0.1', port: pa }] });
    await until('a-b up', () => up(a, '127.0.0.2') && up(b, '127.0.0.1'));
    expect(peerOf(a, '127.0.0.2')!.type).toBe('global');
    expect(peerOf(a, '127.0.0.4')!.type).toBe('node-to-node mesh'); // unset: from the session (iBGP)
    const session = a.peers[0]!.established;
    expect(a.updatePeer({ address: '127.0.0.2', port: pb, passive: false, peerType: 'node specific' })).toBe('updated');
    expect(peerOf(a, '127.0.0.2')!.type).toBe('node specific');
    expect(a.peers[0]!.established).toBe(session);
    expect(() => a.addPeer({ address: '127.0.0.5', peerType: 'mesh' } as unknown as PeerConfigInput)).toThrow(/peerType/);
  });

  it('adds and removes a peer without touching the other session', async () => {
    const [pa, pb, pc] = [basePort++, basePort++, basePort++];
    const a = await speaker({ routerId: '127.0.0.1', listen: `127.0.0.1:${pa}`, peers: [{ address: '127.0.0.2', port: pb, passive: false }], announce: ['192.168.1.0/26'] });
    const b = await speaker({ routerId: '127.0.0.2', listen: `127.0.0.2:${pb}`, peers: [{ address: '127.0.0.1', port: pa }], announce: ['192.168.2.0/26'] });
    await until('a-b up', () => up(a, '127.0.0.2') && up(b, '127.0.0.1'));
    const sessionAB = a.peers[0]!.established;
    const sinceAB = peerOf(a, '127.0.0.2')!.since;

    const c = await speaker({ routerId: '127.0.0.3', listen: `127.0.0.3:${pc}`, peers: [{ address: '127.0.0.1', port: pa }], announce: ['192.168.3.0/26'] });
    const added = a.addPeer({ address: '127.0.0.3', port: pc, passive: false, description: 'node c' });
    expect(added).toMatchObject({ address: '127.0.0.3', description: 'node c' });
    await until('c learned at a, a\'s route at c', () => prefixes(a).includes('192.168.3.0/26') && prefixes(c).includes('192.168.1.0/26'));
    // iBGP without reflection: b's route does not go on to c.
    expect(prefixes(c)).toEqual(['192.168.1.0/26', '192.168.3.0/26']);
    expect(() => a.addPeer({ address: '127.0.0.3', port: pc })).toThrow(/already configured/);
    expect(() => a.addPeer({ address: '127.0.0.300' })).toThrow(ConfigError);

    expect(a.removePeer('127.0.0.3', pc)).toBe(true);
    // Its routes leave at once (a removed peer's routes are not kept as stale).
    expect(prefixes(a)).toEqual(['192.168.1.0/26', '192.168.2.0/26']);
    await until('c told why', () => /Cease \/ peer de-?configured/i.test(peerOf(c, '127.0.0.1')!.lastError));
    await until('c dropped a\'s route', () => !prefixes(c).includes('192.168.1.0/26'));
    expect(a.removePeer('127.0.0.3', pc)).toBe(false);
    expect(a.status().peers.map((p) => p.address)).toEqual(['127.0.0.2']);

    // The session with b was never disturbed.
    expect(a.peers[0]!.established).toBe(sessionAB);
    expect(peerOf(a, '127.0.0.2')!.since).toBe(sinceAB);
    expect(peerOf(b, '127.0.0.1')!.statistics.updatesReceived).toBeGreaterThan(0);
    expect(b.peers[0]!.lastError).toBe('');
  });

  it('updates export and import policy in place (route refresh), and resets the session for other changes', async () => {
    const [pa, pb] = [basePort++, basePort++];
    const a = await speaker({ routerId: '127.0.0.1', asn: 64512, listen: `127.0.0.1:${pa}`, peers: [{ address: '127.0.0.2', port: pb, asn: 65001, passive: false }], announce: ['192.168.1.0/26'] });
    const b = await speaker({ routerId: '127.0.0.2', asn: 65001, listen: `127.0.0.2:${pb}`, peers: [{ address: '127.0.0.1', port: pa, asn: 64512, import: 'all', export: 'all' }], announce: ['10.20.0.0/16'] });
    await until('eBGP up, b\'s route refused by policy', () => up(a, '127.0.0.2') && peerOf(a, '127.0.0.2')!.received === 1);
    const session = a.peers[0]!.established;
    const bSession = b.peers[0]!.established!;
    expect(a.rib.prefixCount).toBe(1);
    expect(b.rib.prefixCount).toBe(1);

    expect(a.updatePeer({ address: '127.0.0.2', port: pb, asn: 65001, passive: false, export: 'announced' })).toBe('updated');
    await until('b receives a\'s route', () => prefixes(b).includes('192.168.1.0/26'));
    expect(a.updatePeer({ address: '127.0.0.2', port: pb, asn: 65001, passive: false, export: 'announced', import: 'all' })).toBe('updated');
    await until('a asked for b\'s routes again and now accepts them', () => prefixes(a).includes('10.20.0.0/16'));
    expect(peerOf(a, '127.0.0.2')).toMatchObject({ received: 1, accepted: 1 });
    expect(a.updatePeer({ address: '127.0.0.2', port: pb, asn: 65001, passive: false, export: 'none', import: 'all' })).toBe('updated');
    await until('withdrawn from b', () => !prefixes(b).includes('192.168.1.0/26'));
    expect(a.peers[0]!.established).toBe(session);
    expect(a.updatePeer({ address: '127.0.0.2', port: pb, asn: 65001, passive: false, export: 'none', import: 'all' })).toBe('unchanged');

    // A new hold time needs a new OPEN: Cease / other configuration change, then a new session.
    expect(a.updatePeer({ address: '127.0.0.2', port: pb, asn: 65001, passive: false, export: 'all', import: 'all', holdTime: 30 })).toBe('reset');
    // (b hears Cease / Other Configuration Change; a connects again at once, so b's last error is
    // cleared by the new session before a test could read it: the old session being gone is checked.)
    await until('b\'s old session closed', () => bSession.closed);
    await until('new session with hold time 30', () => up(a, '127.0.0.2') && peerOf(a, '127.0.0.2')!.holdTime === 30);
    expect(a.peers[0]!.established).not.toBe(session);
    await until('routes back both ways', () => prefixes(a).includes('10.20.0.0/16') && prefixes(b).includes('192.168.1.0/26'));
    expect(() => a.updatePeer({ address: '127.0.0.9' })).toThrow(/not configured/);
  }, 20_000);

  it('setPeers adds, removes, updates and leaves alone', async () => {
    const [pa, pb, pc] = [basePort++, basePort++, basePort++];
    const a = await speaker({ routerId: '127.0.0.1', listen: `127.0.0.1:${pa}`, peers: [{ address: '127.0.0.2', port: pb, passive: false }] });
    const b = await speaker({ routerId: '127.0.0.2', listen: `127.0.0.2:${pb}`, peers: [{ address: '127.0.0.1', port: pa }], announce: ['192.168.2.0/26'] });
    const c = await speaker({ routerId: '127.0.0.3', listen: `127.0.0.3:${pc}`, peers: [{ address: '127.0.0.1', port: pa }], announce: ['192.168.3.0/26'] });
    await until('a-b up', () => up(a, '127.0.0.2'));
    const session = a.peers[0]!.established;
    const bPeer = { address: '127.0.0.2', port: pb, passive: false };
    expect(a.setPeers([bPeer, { address: '127.0.0.3', port: pc, passive: false }])).toEqual({ added: [`127.0.0.3:${pc}`], removed: [], updated: [], reset: [], unchanged: [`127.0.0.2:${pb}`] });
    await until('c\'s route at a', () => prefixes(a).includes('192.168.3.0/26'));
    expect(() => a.setPeers([bPeer, bPeer])).toThrow(/listed twice/);
    expect(() => a.setPeers([bPeer, { address: 'nonsense' }])).toThrow(ConfigError);
    expect(a.status().peers).toHaveLength(2);
    expect(a.setPeers([{ ...bPeer, description: 'node b' }])).toEqual({ added: [], removed: [`127.0.0.3:${pc}`], updated: [`127.0.0.2:${pb}`], reset: [], unchanged: [] });
    expect(prefixes(a)).toEqual(['192.168.2.0/26']);
    expect(a.peers[0]!.established).toBe(session);
    void c;
    void b;
  });
});

describe('per-peer settings (Calico BGPPeer)', () => {
  it('keepaliveTime and restart time (maxRestartTime) reach the wire', async () => {
    const [pa, pb] = [basePort++, basePort++];
    const a = await speaker({ routerId: '127.0.0.1', listen: `127.0.0.1:${pa}`, peers: [{ address: '127.0.0.2', port: pb, passive: false, holdTime: 9, keepaliveTime: 2, restartTime: 77 }] });
    const b = await speaker({ routerId: '127.0.0.2', listen: `127.0.0.2:${pb}`, peers: [{ address: '127.0.0.1', port: pa }] });
    await until('up', () => up(a, '127.0.0.2') && up(b, '127.0.0.1'));
    expect(peerOf(a, '127.0.0.2')).toMatchObject({ holdTime: 9, keepaliveTime: 2 });
    // b proposes 90, a 9: b keeps the default third of the negotiated 9 s.
    expect(peerOf(b, '127.0.0.1')).toMatchObject({ holdTime: 9, keepaliveTime: 3 });
    expect(peerOf(b, '127.0.0.1')!.capabilities!.peer).toContain('graceful-restart(77s)');
    expect(peerOf(a, '127.0.0.2')!.capabilities!.local).toContain('graceful-restart(77s)');
    // a's KEEPALIVEs every 2 s: in 4.5 s b gets at least two more messages than the session start.
    const conn = b.peers[0]!.established!;
    const before = conn.messagesIn;
    await new Promise((r) => setTimeout(r, 4500));
    expect(conn.messagesIn - before).toBeGreaterThanOrEqual(2);
  });

  it('sourceAddress: an address of our choice, or none (the kernel picks)', async () => {
    const [pa, pb] = [basePort++, basePort++];
    // b only knows a as 127.0.0.5: the session comes up only if a connects from there.
    const b = await speaker({ routerId: '127.0.0.2', listen: `127.0.0.2:${pb}`, peers: [{ address: '127.0.0.5', port: pa, passive: true }] });
    const a = await speaker({ routerId: '127.0.0.1', listen: `127.0.0.1:${pa}`, peers: [{ address: '127.0.0.2', port: pb, passive: false, sourceAddress: '127.0.0.5' }] });
    await until('up from 127.0.0.5', () => up(b, '127.0.0.5') && up(a, '127.0.0.2'));
    expect(a.peers[0]!.established!.socket!.localAddress).toBe('127.0.0.5');
    expect(a.updatePeer({ address: '127.0.0.2', port: pb, passive: false, sourceAddress: 'none' })).toBe('reset');
    await until('b refuses the kernel\'s choice of source', () => !up(a, '127.0.0.2') && !up(b, '127.0.0.5'));
    await new Promise((r) => setTimeout(r, 1500));
    expect(up(a, '127.0.0.2')).toBe(false);
    expect(a.peers[0]!.settings.localAddress).toBeUndefined();
  });

  it('nextHop: auto keeps an eBGP-learned next hop towards iBGP, self replaces it, keep keeps it towards eBGP', async () => {
    const [pa, pb, pc] = [basePort++, basePort++, basePort++];
    // a (AS 65001) --eBGP-- b (AS 64512) --iBGP-- c (AS 64512)
    const a = await speaker({ routerId: '127.0.0.1', asn: 65001, listen: `127.0.0.1:${pa}`, peers: [{ address: '127.0.0.2', port: pb, asn: 64512, passive: false, import: 'all', export: 'all' }], announce: ['10.1.0.0/16'] });
    const b = await speaker({ routerId: '127.0.0.2', listen: `127.0.0.2:${pb}`, peers: [
      { address: '127.0.0.1', port: pa, asn: 65001, import: 'all', export: 'all' },
      { address: '127.0.0.3', port: pc, passive: true },
    ] });
    const c = await speaker({ routerId: '127.0.0.3', listen: `127.0.0.3:${pc}`, peers: [{ address: '127.0.0.2', port: pb, passive: false }] });
    const nextHopAtC = () => c.routes().routes.find((r) => r.prefix === '10.1.0.0/16')?.paths[0]?.nextHop;
    await until('auto: a\'s address', () => nextHopAtC() === '127.0.0.1');
    expect(b.updatePeer({ address: '127.0.0.3', port: pc, passive: true, nextHop: 'self' })).toBe('updated');
    await until('self: b\'s address', () => nextHopAtC() === '127.0.0.2');
    expect(b.updatePeer({ address: '127.0.0.3', port: pc, passive: true, nextHop: 'auto' })).toBe('updated');
    await until('auto again', () => nextHopAtC() === '127.0.0.1');
    // Towards eBGP, keep passes on c's own next hop instead of b's address.
    c.announce(0x0a030000, 16);
    await until('c\'s route at a via b', () => a.routes().routes.find((r) => r.prefix === '10.3.0.0/16')?.paths[0]?.nextHop === '127.0.0.2');
    b.updatePeer({ address: '127.0.0.1', port: pa, asn: 65001, import: 'all', export: 'all', nextHop: 'keep' });
    await until('keep: c\'s address', () => a.routes().routes.find((r) => r.prefix === '10.3.0.0/16')?.paths[0]?.nextHop === '127.0.0.3');
  });
});

describe('connect retry backoff', () => {
  it('doubles the wait per failed attempt up to the cap, and tells status', async () => {
    const pa = basePort++, pb = basePort++;
    // A listener that accepts and closes at once: every attempt fails after TCP is up.
    const attempts: number[] = [];
    const server = createServer((socket) => { attempts.push(Date.now()); socket.destroy(); });
    servers.push(server);
    await new Promise<void>((r) => server.listen(pb, '127.0.0.2', r));
    const a = await speaker({ routerId: '127.0.0.1', listen: `127.0.0.1:${pa}`, connectRetryTime: 1, connectRetryMax: 2, peers: [{ address: '127.0.0.2', port: pb, passive: false }] });
    await until('five attempts', () => attempts.length >= 5, 20_000);
    const gaps = attempts.slice(1).map((t, i) => (t - attempts[i]!) / 1000);
    console.log(`connect retry gaps (s): ${gaps.map((g) => g.toFixed(2)).join(', ')}`);
    // 1, 2, 2, 2 s (capped; without the cap 4 and 8), each times a jitter factor of 0.75 to 1
    // (RFC 4271 section 10); late timers on a loaded machine only lengthen a gap, hence the slack above.
    const expected = [1, 2, 2, 2];
    gaps.slice(0, 4).forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(expected[i]! * 0.75 - 0.05);
      expect(gap).toBeLessThan(expected[i]! + 1.5);
    });
    expect(peerOf(a, '127.0.0.2')!.connectRetry.failures).toBeGreaterThanOrEqual(4);
    expect(peerOf(a, '127.0.0.2')!.connectRetry.lastDelayMs).toBeGreaterThanOrEqual(1500);
  }, 30_000);
});
