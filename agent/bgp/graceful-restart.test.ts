// Graceful restart (RFC 4724) alone, on a real RIB: stale routes as helper, and the end of our own
// restart. Sessions against real daemons are in bird.int.test.ts and speaker.test.ts.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GracefulRestart } from './graceful-restart.ts';
import type { Peer } from './peer.ts';
import { Rib } from './rib/rib.ts';
import { addRoute, negotiated, silent, testPeer } from './testing/speaker-parts.ts';

afterEach(() => {
  vi.useRealTimers();
});

function setup(peers: Peer[], enabled = true) {
  const rib = new Rib();
  let flushes = 0;
  const gr = new GracefulRestart({
    rib, kernel: undefined, config: { enabled, restartTime: 120 }, log: silent,
    peers: () => peers, endDeferral: () => { flushes++; }, scheduleFlush: () => { flushes++; },
  });
  return { rib, gr, flushes: () => flushes };
}

const GR = { restartTime: 60, restarting: false, forwarding: true, ipv4Unicast: true };

describe('graceful restart as helper', () => {
  it('a peer that goes quietly keeps its routes as stale; End-of-RIB sweeps those not sent again', () => {
    const peer = testPeer(1, '10.0.0.2');
    const { rib, gr } = setup([peer]);
    peer.enabled = true;
    peer.negotiated = negotiated(GR);
    addRoute(rib, peer, '10.244.2.0/26');
    addRoute(rib, peer, '10.244.3.0/26');
    gr.peerDown(peer, false);
    expect(peer.staleSince).toBeInstanceOf(Date);
    expect(rib.staleCount(peer.index)).toBe(2);
    expect(rib.prefixCount).toBe(2);

    gr.peerEstablished(peer); // forwarding kept: the stale routes stay
    expect(rib.staleCount(peer.index)).toBe(2);
    addRoute(rib, peer, '10.244.2.0/26'); // sent again
    gr.endOfRib(peer);
    expect(peer.stats.endOfRibReceived).toBe(true);
    expect(peer.staleSince).toBeUndefined();
    expect(rib.prefixCount).toBe(1);
    expect(rib.staleCount(peer.index)).toBe(0);
  });

  it('the routes go at once after a NOTIFICATION, without GR on either side, with GR only "aware" (no IPv4 unicast), or for a disabled peer', () => {
    for (const [down, enabled, negotiatedGr, ours] of [[true, true, GR, true], [false, true, undefined, true], [false, true, { ...GR, ipv4Unicast: false }, true], [false, true, GR, false], [false, false, GR, true]] as const) {
      const peer = testPeer(1, '10.0.0.2');
      const { rib, gr } = setup([peer], ours);
      peer.enabled = enabled;
      peer.negotiated = negotiated(negotiatedGr);
      addRoute(rib, peer, '10.244.2.0/26');
      gr.peerDown(peer, down);
      expect(rib.prefixCount).toBe(0);
      expect(peer.staleSince).toBeUndefined();
    }
  });

  it('stale routes go when the peer does not come back within its restart time', () => {
    vi.useFakeTimers();
    const peer = testPeer(1, '10.0.0.2');
    const { rib, gr, flushes } = setup([peer]);
    peer.enabled = true;
    peer.negotiated = negotiated(GR);
    addRoute(rib, peer, '10.244.2.0/26');
    gr.peerDown(peer, false);
    vi.advanceTimersByTime(59_000);
    expect(rib.prefixCount).toBe(1);
    const before = flushes();
    vi.advanceTimersByTime(1_000);
    expect(rib.prefixCount).toBe(0);
    expect(peer.staleSince).toBeUndefined();
    expect(flushes()).toBe(before + 1);
  });

  it('a peer back without its forwarding state kept loses the stale routes when the session is up', () => {
    const peer = testPeer(1, '10.0.0.2');
    const { rib, gr } = setup([peer]);
    peer.enabled = true;
    peer.negotiated = negotiated(GR);
    addRoute(rib, peer, '10.244.2.0/26');
    gr.peerDown(peer, false);
    peer.negotiated = negotiated({ ...GR, forwarding: false });
    gr.peerEstablished(peer);
    expect(rib.prefixCount).toBe(0);
    expect(peer.stats.endOfRibReceived).toBe(false);
  });
});

describe('our own restart', () => {
  it('ends when every peer has sent End-of-RIB or cannot (no graceful restart negotiated)', () => {
    const a = testPeer(1, '10.0.0.2');
    const b = testPeer(2, '10.0.0.3');
    const c = testPeer(3, '10.0.0.4');
    const { gr, flushes } = setup([a, b, c]);
    gr.restarting = true;
    a.negotiated = negotiated(GR);
    b.negotiated = negotiated(GR);
    c.negotiated = negotiated(undefined);
    gr.endOfRib(a);
    expect(gr.restarting).toBe(true);
    gr.endOfRib(b);
    expect(gr.restarting).toBe(false);
    expect(flushes()).toBe(1);
  });

  it('a peer not up yet holds it back', () => {
    const a = testPeer(1, '10.0.0.2');
    const down = testPeer(2, '10.0.0.3');
    const { gr } = setup([a, down]);
    gr.restarting = true;
    a.negotiated = negotiated(GR);
    gr.endOfRib(a);
    expect(gr.restarting).toBe(true);
    gr.finish('restart time elapsed');
    expect(gr.restarting).toBe(false);
  });

  it('without a kernel or with graceful restart off, begin() does not restart', async () => {
    const { gr } = setup([]);
    await gr.begin();
    expect(gr.restarting).toBe(false);
    expect(gr.adoptedKernelRoutes).toBe(0);
  });
});
