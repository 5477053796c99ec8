// The status views alone: a peer's line in BIRD's words, the capability names, the routes view.
import { describe, expect, it } from 'vitest';
import { parseIPv4 } from '../../shared/net/index.ts';
import { AsPathSegmentType } from './codec/constants.ts';
import { localCapabilities } from './codec/open.ts';
import { validateConfig } from './config.ts';
import { Rib } from './rib/rib.ts';
import { capabilityNames, peerStatus, ribRoutes, speakerStatus } from './speaker-status.ts';
import { addRoute, negotiated, testPeer } from './testing/speaker-parts.ts';

describe('peer status', () => {
  it('says Passive for a passive peer waiting, and the last error as BIRD does', () => {
    const rib = new Rib();
    const passive = testPeer(1, '10.0.0.2', { passive: true });
    passive.enabled = true;
    expect(peerStatus(rib, passive)).toMatchObject({ state: 'start', info: 'Passive', passive: true });
    const active = testPeer(2, '10.0.0.3', { passive: false });
    active.enabled = true;
    active.lastError = 'Socket: Connection refused';
    expect(peerStatus(rib, active).info).toBe('Idle Socket: Connection refused');
    const off = testPeer(3, '10.0.0.4');
    expect(peerStatus(rib, off).state).toBe('down');
  });

  it('counts received (accepted + refused), accepted, advertised and stale', () => {
    const rib = new Rib();
    const peer = testPeer(1, '10.0.0.2');
    addRoute(rib, peer, '10.244.2.0/26');
    addRoute(rib, peer, '10.244.3.0/26');
    peer.rejected.set(parseIPv4('10.244.4.0'), 26, 0);
    peer.adjRibOut.set(parseIPv4('10.244.1.0'), 26, 0);
    rib.markStale(peer.index);
    expect(peerStatus(rib, peer)).toMatchObject({ received: 3, accepted: 2, advertised: 1, stale: 0 });
    peer.staleSince = new Date();
    expect(peerStatus(rib, peer).stale).toBe(2);
  });

  it('names what was negotiated', () => {
    const rib = new Rib();
    const peer = testPeer(1, '10.0.0.2');
    const caps = localCapabilities({ asn: 64512, gracefulRestart: { restarting: true, restartTime: 120, forwarding: true } });
    peer.negotiated = { ...negotiated({ restartTime: 120, restarting: false, forwarding: true, ipv4Unicast: true }, parseIPv4('10.0.0.2')), peerCapabilities: caps, localCapabilities: caps };
    const s = peerStatus(rib, peer);
    expect(s.peerRouterId).toBe('10.0.0.2');
    expect(s.capabilities!.negotiated).toEqual(['4-octet-as', 'route-refresh', 'graceful-restart']);
    expect(capabilityNames(caps)).toContain('graceful-restart(120s,restarting,forwarding)');
  });
});

describe('routes view', () => {
  it('sorted by prefix, best path first, at most `limit` prefixes with the total', () => {
    const rib = new Rib();
    const a = testPeer(1, '10.0.0.2');
    const b = testPeer(2, '10.0.0.3');
    addRoute(rib, a, '10.244.9.0/26', { med: 5, asPath: [{ type: AsPathSegmentType.Sequence, asns: [65001] }] }, '10.0.0.2');
    addRoute(rib, b, '10.244.9.0/26', { localPref: 200, communities: [(65001 << 16) | 7] }, '10.0.0.3');
    addRoute(rib, undefined, '10.244.1.0/26');
    const names = new Map([[1, 'A'], [2, 'B']]);
    const all = ribRoutes(rib, (i) => names.get(i), 10);
    expect(all.total).toBe(2);
    expect(all.routes.map((r) => r.prefix)).toEqual(['10.244.1.0/26', '10.244.9.0/26']);
    expect(all.routes[0]!.paths[0]).toMatchObject({ best: true, from: 'local', nextHop: 'self' });
    expect(all.routes[1]!.paths.map((p) => [p.from, p.best, p.localPref])).toEqual([['B', true, 200], ['A', false, 100]]);
    expect(all.routes[1]!.paths[0]!.communities).toEqual(['65001:7']);
    expect(all.routes[1]!.paths[1]).toMatchObject({ med: 5, asPath: '65001', nextHop: '10.0.0.2' });
    expect(ribRoutes(rib, () => undefined, 1)).toMatchObject({ total: 2, routes: [{ prefix: '10.244.1.0/26' }] });
  });

  it('the speaker status shows the RIB, the listen address and no kernel part without a kernel', () => {
    const rib = new Rib();
    addRoute(rib, undefined, '10.244.1.0/26');
    const config = validateConfig({ routerId: '10.0.0.1', listen: '10.0.0.1:1790' });
    const s = speakerStatus({ config, started: new Date(0), restarting: false, adoptedKernelRoutes: 0, peers: [], rib, kernel: undefined });
    expect(s).toMatchObject({ routerId: '10.0.0.1', listen: '10.0.0.1:1790', since: new Date(0).toISOString(), rib: { prefixes: 1, paths: 1 } });
    expect(s.kernel).toBeUndefined();
  });
});
