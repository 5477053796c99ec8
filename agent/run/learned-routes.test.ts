// The agent's feed of learned routes, between real speakers over loopback (127.0.0.x, no root):
// every route (past the 10,000 the status view shows), pushed by the speaker's events, and the
// End-of-RIB grace for a peer that sends none.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../bgp/config.ts';
import { Speaker } from '../bgp/speaker.ts';
import { RawConnection } from '../bgp/testing/raw-peer.ts';
import { LearnedRoutes } from './learned-routes.ts';

const log = pino({ level: 'silent' });
const running: Speaker[] = [];
const feeds: LearnedRoutes[] = [];
const raws: RawConnection[] = [];

afterEach(async () => {
  for (const f of feeds.splice(0)) f.stop();
  for (const r of raws.splice(0)) r.close();
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
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('learned routes for the desired state', () => {
  it('has every learned route, 12,000 of them, and follows each change by an event', async () => {
    const pa = basePort++, pb = basePort++;
    const a = await speaker({ routerId: '127.0.0.1', listen: `127.0.0.1:${pa}`, peers: [{ address: '127.0.0.2', port: pb, passive: false }], announce: ['192.168.1.0/26'] });
    const b = await speaker({ routerId: '127.0.0.2', listen: `127.0.0.2:${pb}`, peers: [{ address: '127.0.0.1', port: pa }] });
    let events = 0;
    let lastEventAt = 0;
    const feed = new LearnedRoutes(a, () => { events++; lastEventAt = performance.now(); });
    feeds.push(feed);
    for (let i = 0; i < 12_000; i++) b.announce((0x0a000000 + i * 256) >>> 0, 24);
    await until('12,000 routes in the feed', () => feed.routes().size === 12_000);
    expect(a.routes().routes).toHaveLength(10_000); // the status view's limit, which the feed does not have
    expect(feed.routes().toRoutes()[0]).toEqual({ cidr: '10.0.0.0/24', nextHop: '127.0.0.2' });
    expect(feed.routes().indexOf(0xc0a80100, 26)).toBe(-1); // our own route is not learned
    await until('b complete (End-of-RIB)', () => feed.completePeers().includes('127.0.0.2'));

    // One withdrawal: an event follows the flush that took it in, within milliseconds.
    const before = events;
    const t0 = performance.now();
    b.withdraw(0x0a000000, 24);
    await until('the change event', () => events > before, 2000);
    expect(lastEventAt - t0).toBeLessThan(100); // the poll this replaces looked every 100 ms
    expect(feed.routes().indexOf(0x0a000000, 24)).toBe(-1);
    expect(feed.routes().size).toBe(11_999);
  });

  it('a peer that sends no End-of-RIB is complete after the grace time, announced by an event', async () => {
    const pa = basePort++;
    const a = await speaker({ routerId: '127.0.0.1', listen: `127.0.0.1:${pa}`, peers: [{ address: '127.0.0.3', passive: true }] });
    let events = 0;
    const feed = new LearnedRoutes(a, () => events++, 300);
    feeds.push(feed);
    const raw = await RawConnection.dial('127.0.0.1', pa, '127.0.0.3');
    raws.push(raw);
    await raw.establish('127.0.0.3');
    await until('up', () => a.status().peers[0]!.state === 'up');
    await until('the session event', () => events > 0);
    expect(feed.completePeers()).toEqual([]);
    const seen = events;
    await until('complete after the grace time', () => events > seen && feed.completePeers().includes('127.0.0.3'), 2000);
  });

  it("a peer whose session went down is stood in for its restart time, then no longer: its node's routes are withdrawn, by an event", async () => {
    const pa = basePort++;
    const a = await speaker({ routerId: '127.0.0.1', listen: `127.0.0.1:${pa}`, peers: [{ address: '127.0.0.4', passive: true, restartTime: 1 }] });
    let events = 0;
    const feed = new LearnedRoutes(a, () => events++, 300);
    feeds.push(feed);
    // Never up since the start: stood in (its blocks routed from IPAM while the session comes up).
    expect(feed.completePeers()).toEqual([]);
    const raw = await RawConnection.dial('127.0.0.1', pa, '127.0.0.4');
    raws.push(raw);
    await raw.establish('127.0.0.4');
    await until('complete', () => feed.completePeers().includes('127.0.0.4'), 2000);
    raw.close();
    await until('down', () => a.status().peers[0]!.state !== 'up');
    const downAt = Date.now();
    expect(feed.completePeers()).toEqual([]); // within its restart time: stood in, as its routes are kept stale
    const seen = events;
    await until('withdrawn after the restart time, announced by an event', () => events > seen && feed.completePeers().includes('127.0.0.4'), 3000);
    expect(Date.now() - downAt).toBeGreaterThanOrEqual(900);
  });
});
