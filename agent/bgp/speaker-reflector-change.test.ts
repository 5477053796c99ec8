// A mesh turned into a route reflector and its clients while the speakers run, and back, as the
// agent does it when a node gets Calico's routeReflectorClusterID: the peers become clients in
// place, the cluster ID changes at runtime, and no session is reset; the mesh sessions then go and
// no speaker's best path for another's prefix is ever missing. Real speakers over loopback.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type PeerConfigInput, validateConfig } from './config.ts';
import { Speaker } from './speaker.ts';

const log = pino({ level: 'silent' });
const running: Speaker[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop({ withdraw: true })));
});

let basePort = 20000 + Math.floor(Math.random() * 20000);

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const up = (s: Speaker, address: string) => s.status().peers.find((p) => p.address === address)?.state === 'up';
const pathsAt = (s: Speaker, prefix: string) => s.routes().routes.find((r) => r.prefix === prefix)?.paths ?? [];

describe('a mesh made a route reflector and its clients at runtime', () => {
  it('keeps every session and every best path from mesh to reflector and back', async () => {
    const ports = { a: basePort++, b: basePort++, c: basePort++ };
    const address = { a: '127.0.0.1', b: '127.0.0.2', c: '127.0.0.3' } as const;
    const prefix = { a: '192.168.1.0/26', b: '192.168.2.0/26', c: '192.168.3.0/26' } as const;
    type Name = keyof typeof address;
    const names: Name[] = ['a', 'b', 'c'];
    const peer = (to: Name, extra: Partial<PeerConfigInput> = {}): PeerConfigInput => ({ address: address[to], port: ports[to], ...extra });
    const speakers = {} as Record<Name, Speaker>;
    for (const n of names) {
      const s = new Speaker(validateConfig({
        routerId: address[n], listen: `${address[n]}:${ports[n]}`, connectRetryTime: 1, connectRetryMax: 1,
        peers: names.filter((o) => o !== n).map((o) => peer(o)), announce: [prefix[n]],
      }), log);
      await s.start();
      running.push(s);
      speakers[n] = s;
    }
    const { a, b, c } = speakers;
    /** How a path's `from` names a peer. */
    const from = (n: Name) => `${address[n]}:${ports[n]}`;
    await until('the mesh up', () => names.every((n) => names.every((o) => o === n || up(speakers[n], address[o]))));
    await until('every prefix everywhere', () => names.every((n) => names.every((o) => pathsAt(speakers[n], prefix[o]).length > 0)));

    // Every change event of every speaker: is any other speaker's prefix without a best path?
    const gaps: string[] = [];
    const unsubscribe = names.map((n) => speakers[n].onChange(() => {
      const learned = new Set(speakers[n].learnedRoutes().map((r) => r.cidr));
      for (const o of names) if (o !== n && !learned.has(prefix[o])) gaps.push(`${n} had no route to ${o}'s ${prefix[o]}`);
    }));
    const sessions = () => names.flatMap((n) => speakers[n].peers.map((p) => p.established));
    const before = sessions();

    // a becomes the reflector: its peers become clients in place, with its cluster ID.
    expect(a.setClusterId('244.0.0.1')).toBe(true);
    expect(a.setPeers([peer('b', { routeReflectorClient: true }), peer('c', { routeReflectorClient: true })])).toMatchObject({ updated: [`127.0.0.2:${ports.b}`, `127.0.0.3:${ports.c}`], reset: [] });
    // c now has b's prefix twice: from b (shorter CLUSTER_LIST, best) and reflected by a.
    const reflected = await until('b\'s prefix reflected to c', () => pathsAt(c, prefix.b).find((p) => p.from === from('a')));
    expect(reflected).toMatchObject({ best: false, nextHop: address.b, originatorId: address.b, clusterList: ['244.0.0.1'] });
    expect(sessions()).toEqual(before);

    // The mesh between the clients goes: the reflected path carries b's prefix on at c, and c's at b.
    b.removePeer(address.c, ports.c);
    c.removePeer(address.b, ports.b);
    expect(pathsAt(c, prefix.b)).toEqual([expect.objectContaining({ best: true, from: from('a'), nextHop: address.b })]);
    await until('c\'s prefix at b through a', () => pathsAt(b, prefix.c).some((p) => p.best && p.from === from('a')));

    // A new cluster ID reaches the clients without a new session.
    const sessionsAB = a.peers.map((p) => p.established);
    expect(a.setClusterId('244.0.0.2')).toBe(true);
    expect(a.setClusterId('244.0.0.2')).toBe(false);
    await until('the new CLUSTER_LIST at c', () => pathsAt(c, prefix.b)[0]?.clusterList?.[0] === '244.0.0.2');
    expect(a.peers.map((p) => p.established)).toEqual(sessionsAB);

    // And back: the mesh first, then a stops reflecting.
    b.addPeer(peer('c'));
    c.addPeer(peer('b'));
    await until('b and c meshed again, with their own paths', () => up(b, address.c) && up(c, address.b) && pathsAt(c, prefix.b).some((p) => p.best && p.from === from('b')));
    expect(a.setPeers([peer('b'), peer('c')])).toMatchObject({ updated: [`127.0.0.2:${ports.b}`, `127.0.0.3:${ports.c}`], reset: [] });
    a.setClusterId(undefined);
    await until('a no longer reflects', () => pathsAt(c, prefix.b).length === 1 && pathsAt(b, prefix.c).length === 1);
    expect(pathsAt(c, prefix.b)[0]).toMatchObject({ best: true, from: from('b') });

    for (const u of unsubscribe) u();
    expect(gaps).toEqual([]);
  }, 30_000);
});
