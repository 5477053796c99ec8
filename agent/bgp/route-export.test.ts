// Export and the Adj-RIB-Out alone, on a real RIB: which best path goes to which peer, how it is
// rendered, and the UPDATEs that carry the changes (decoded with the real codec).
import { describe, expect, it } from 'vitest';
import { formatIPv4, parseIPv4 } from '../../shared/net/index.ts';
import { AsPathSegmentType } from './codec/constants.ts';
import type { Peer } from './peer.ts';
import { Rib } from './rib/rib.ts';
import { RouteExport, noUpdates } from './route-export.ts';
import { LOCAL_AS, ROUTER_ID, addRoute, establish, testPeer } from './testing/speaker-parts.ts';

const CLUSTER_ID = parseIPv4('10.0.0.99');

function setup(peers: Peer[]) {
  const rib = new Rib();
  const exporter = new RouteExport({ rib, asn: LOCAL_AS, routerId: ROUTER_ID, clusterId: CLUSTER_ID, hasClients: () => peers.some((p) => p.settings.routeReflectorClient) });
  return { rib, exporter };
}

const best = (rib: Rib, prefix: string) => {
  const [a, l] = prefix.split('/');
  return rib.best(parseIPv4(a!), Number(l));
};

describe('which peer gets which route', () => {
  it('iBGP mesh: own and eBGP-learned routes go to mesh peers, iBGP-learned ones do not', () => {
    const meshA = testPeer(1, '10.0.0.2');
    const meshB = testPeer(2, '10.0.0.3');
    const ext = testPeer(3, '192.0.2.9', { asn: 65001, importPolicy: 'all', exportPolicy: 'all' });
    const { rib, exporter } = setup([meshA, meshB, ext]);
    const own = addRoute(rib, undefined, '10.244.1.0/26');
    const fromA = addRoute(rib, meshA, '10.244.2.0/26');
    const fromExt = addRoute(rib, ext, '0.0.0.0/0', { asPath: [{ type: AsPathSegmentType.Sequence, asns: [65001] }] });
    expect(exporter.exportable(meshB, own)).toBe(true);
    expect(exporter.exportable(meshB, fromA)).toBe(false);
    expect(exporter.exportable(meshA, fromA)).toBe(false); // never back to where it came from
    expect(exporter.exportable(meshB, fromExt)).toBe(true);
    expect(exporter.exportable(ext, fromA)).toBe(true);
    expect(exporter.exportable(ext, fromExt)).toBe(false);
  });

  it('eBGP without a policy gets nothing (RFC 8212); "announced" gets only our own routes', () => {
    const mesh = testPeer(1, '10.0.0.2');
    const none = testPeer(2, '192.0.2.9', { asn: 65001 });
    const announced = testPeer(3, '192.0.2.10', { asn: 65002, exportPolicy: 'announced' });
    const { rib, exporter } = setup([mesh, none, announced]);
    const own = addRoute(rib, undefined, '10.244.1.0/26');
    const fromMesh = addRoute(rib, mesh, '10.244.2.0/26');
    expect(exporter.exportable(none, own)).toBe(false);
    expect(exporter.exportable(announced, own)).toBe(true);
    expect(exporter.exportable(announced, fromMesh)).toBe(false);
  });

  it('route reflection (RFC 4456): client routes to everyone, non-client routes to clients only, never to the originator', () => {
    const client1 = testPeer(1, '10.0.0.2', { routeReflectorClient: true });
    const client2 = testPeer(2, '10.0.0.3', { routeReflectorClient: true });
    const plain = testPeer(3, '10.0.0.4');
    const plain2 = testPeer(4, '10.0.0.5');
    const { rib, exporter } = setup([client1, client2, plain, plain2]);
    const fromClient = addRoute(rib, client1, '10.244.2.0/26');
    const fromPlain = addRoute(rib, plain, '10.244.4.0/26');
    const reflectedBack = addRoute(rib, plain, '10.244.9.0/26', { originatorId: parseIPv4('10.0.0.3') });
    expect(exporter.exportable(client2, fromClient)).toBe(true);
    expect(exporter.exportable(plain, fromClient)).toBe(true);
    expect(exporter.exportable(client2, fromPlain)).toBe(true);
    expect(exporter.exportable(plain2, fromPlain)).toBe(false);
    expect(exporter.exportable(client2, reflectedBack)).toBe(false);

    const out = exporter.render(plain, fromClient);
    expect(out).toMatchObject({ originatorId: parseIPv4('10.0.0.2'), clusterList: [CLUSTER_ID], nextHop: parseIPv4('192.0.2.1'), localPref: 100 });
  });
});

describe('rendering', () => {
  it('towards eBGP: our AS prepended, next hop self (keep when asked), no LOCAL_PREF', () => {
    const ext = testPeer(1, '192.0.2.9', { asn: 65001, exportPolicy: 'all' });
    const keep = testPeer(2, '192.0.2.10', { asn: 65002, exportPolicy: 'all', nextHop: 'keep' });
    const other = testPeer(3, '192.0.2.11', { asn: 65003, importPolicy: 'all' });
    const { rib, exporter } = setup([ext, keep, other]);
    ext.localAddress = parseIPv4('192.0.2.1');
    const own = addRoute(rib, undefined, '10.244.1.0/26');
    expect(exporter.render(ext, own)).toEqual({ origin: 0, asPath: [{ type: AsPathSegmentType.Sequence, asns: [LOCAL_AS] }], nextHop: parseIPv4('192.0.2.1') });
    const learned = addRoute(rib, other, '203.0.113.0/24', { asPath: [{ type: AsPathSegmentType.Sequence, asns: [65003, 65010] }], localPref: 300, communities: [0xfde80001] }, '192.0.2.11');
    const r = exporter.render(ext, learned);
    expect(r.asPath).toEqual([{ type: AsPathSegmentType.Sequence, asns: [LOCAL_AS, 65003, 65010] }]);
    expect(r.localPref).toBeUndefined();
    expect(r.communities).toEqual([0xfde80001]);
    expect(formatIPv4(exporter.render(keep, learned).nextHop!)).toBe('192.0.2.11');
  });

  it('towards iBGP: the next hop kept unless next-hop-self, LOCAL_PREF and MED carried', () => {
    const mesh = testPeer(1, '10.0.0.2');
    const self = testPeer(2, '10.0.0.3', { nextHop: 'self' });
    const ext = testPeer(3, '192.0.2.11', { asn: 65003, importPolicy: 'all' });
    const { rib, exporter } = setup([mesh, self, ext]);
    self.localAddress = parseIPv4('10.0.0.1');
    const learned = addRoute(rib, ext, '203.0.113.0/24', { asPath: [{ type: AsPathSegmentType.Sequence, asns: [65003] }], med: 20 }, '192.0.2.11');
    expect(exporter.render(mesh, learned)).toMatchObject({ nextHop: parseIPv4('192.0.2.11'), localPref: 100, med: 20 });
    expect(exporter.render(mesh, learned).originatorId).toBeUndefined(); // eBGP-learned: not reflected
    expect(exporter.render(self, learned).nextHop).toBe(parseIPv4('10.0.0.1'));
  });
});

describe('Adj-RIB-Out and UPDATEs', () => {
  it('announces a change once, withdraws it when nothing is exportable, and holds a reference meanwhile', () => {
    const mesh = testPeer(1, '10.0.0.2');
    const { rib, exporter } = setup([mesh]);
    const wire = establish(mesh);
    const own = addRoute(rib, undefined, '10.244.1.0/26');
    const refs = rib.attributes[own]!.refs;
    const pending = noUpdates();
    exporter.decide(mesh, pending, parseIPv4('10.244.1.0'), 26, best(rib, '10.244.1.0/26'));
    exporter.decide(mesh, pending, parseIPv4('10.244.1.0'), 26, best(rib, '10.244.1.0/26'));
    exporter.send(mesh, pending);
    expect(mesh.adjRibOut.size).toBe(1);
    expect(rib.attributes[own]!.refs).toBe(refs + 1);
    expect(wire.updates().map((u) => u.nlri.map((n) => formatIPv4(n.address)))).toEqual([['10.244.1.0']]);
    expect(mesh.stats.updatesSent).toBe(1);

    const gone = noUpdates();
    exporter.decide(mesh, gone, parseIPv4('10.244.1.0'), 26, -1);
    exporter.send(mesh, gone);
    expect(mesh.adjRibOut.size).toBe(0);
    expect(wire.updates()[1]!.withdrawn).toEqual([{ address: parseIPv4('10.244.1.0'), length: 26, pathId: 0 }]);
  });

  it('exportAll offers the whole RIB in UPDATEs within the session\'s size; release forgets it all', () => {
    const mesh = testPeer(1, '10.0.0.2');
    const { rib, exporter } = setup([mesh]);
    const wire = establish(mesh);
    for (let i = 0; i < 3000; i++) addRoute(rib, undefined, `10.${(i >> 8) & 255}.${i & 255}.0/24`);
    exporter.exportAll(mesh);
    const updates = wire.updates(); // throws on a message over 4096 bytes
    expect(updates.length).toBeGreaterThan(1);
    expect(updates.reduce((n, u) => n + u.nlri.length, 0)).toBe(3000);
    expect(mesh.adjRibOut.size).toBe(3000);
    const local = rib.best(parseIPv4('10.0.0.0'), 24);
    const refs = rib.attributes[local]!.refs;
    exporter.release(mesh);
    expect(mesh.adjRibOut.size).toBe(0);
    expect(rib.attributes[local]!.refs).toBe(refs - 3000);
  });

  it('resendAll sends what the peer has again, rendered anew', () => {
    const mesh = testPeer(1, '10.0.0.2');
    const { rib, exporter } = setup([mesh]);
    const wire = establish(mesh);
    addRoute(rib, undefined, '10.244.1.0/26');
    exporter.exportAll(mesh);
    mesh.localAddress = parseIPv4('10.0.0.77');
    exporter.resendAll(mesh);
    const [first, second] = wire.updates();
    expect(formatIPv4(first!.attributes.nextHop!)).toBe('10.0.0.1');
    expect(formatIPv4(second!.attributes.nextHop!)).toBe('10.0.0.77');
  });
});

describe('well-known communities (RFC 1997)', () => {
  const NO_EXPORT = 0xffffff01;
  const NO_ADVERTISE = 0xffffff02;
  const NO_EXPORT_SUBCONFED = 0xffffff03;

  it('NO_ADVERTISE goes to no peer; NO_EXPORT and NO_EXPORT_SUBCONFED stay inside the AS', () => {
    const ext = testPeer(1, '192.0.2.9', { asn: 65001, importPolicy: 'all', exportPolicy: 'all' });
    const mesh = testPeer(2, '10.0.0.2');
    const client = testPeer(3, '10.0.0.3', { routeReflectorClient: true });
    const other = testPeer(4, '10.0.0.4');
    const ext2 = testPeer(5, '192.0.2.10', { asn: 65002, importPolicy: 'all', exportPolicy: 'all' });
    const { rib, exporter } = setup([ext, mesh, client, other, ext2]);
    const path = [{ type: AsPathSegmentType.Sequence, asns: [65001] }];
    const noExport = addRoute(rib, ext, '203.0.113.0/24', { asPath: path, communities: [(65001 << 16) | 1, NO_EXPORT] }, '192.0.2.9');
    const subconfed = addRoute(rib, ext, '203.0.114.0/24', { asPath: path, communities: [NO_EXPORT_SUBCONFED] }, '192.0.2.9');
    const noAdvertise = addRoute(rib, ext, '203.0.115.0/24', { asPath: path, communities: [NO_ADVERTISE] }, '192.0.2.9');
    const reflected = addRoute(rib, client, '10.244.3.0/26', { communities: [NO_EXPORT] }, '10.0.0.3');
    const clientNoAdvertise = addRoute(rib, client, '10.244.4.0/26', { communities: [NO_ADVERTISE] }, '10.0.0.3');
    for (const a of [noExport, subconfed]) {
      expect(exporter.exportable(mesh, a)).toBe(true);
      expect(exporter.exportable(ext2, a)).toBe(false);
    }
    expect(exporter.exportable(other, reflected)).toBe(true); // reflected within the AS
    expect(exporter.exportable(ext2, reflected)).toBe(false);
    for (const p of [mesh, client, ext2]) expect(exporter.exportable(p, noAdvertise)).toBe(false);
    expect(exporter.exportable(other, clientNoAdvertise)).toBe(false);
    // The community travels on inside the AS.
    expect(exporter.render(mesh, noExport).communities).toEqual([(65001 << 16) | 1, NO_EXPORT]);
  });
});

describe('message size', () => {
  it('a route whose attributes cannot fit in the session\'s message size is not sent (withdrawn if it was), never an oversized UPDATE', () => {
    const ext = testPeer(1, '192.0.2.9', { asn: 65001, importPolicy: 'all' });
    const mesh = testPeer(2, '10.0.0.2');
    const { rib, exporter } = setup([ext, mesh]);
    const wire = establish(mesh);
    const path = [{ type: AsPathSegmentType.Sequence, asns: [65001] }];
    const small = addRoute(rib, ext, '203.0.113.0/24', { asPath: path }, '192.0.2.9');
    exporter.exportAll(mesh);
    expect(mesh.adjRibOut.get(parseIPv4('203.0.113.0'), 24)).toBe(small);
    // The same prefix now with 1100 communities (4400 bytes; it came over an extended-message session).
    const communities = Array.from({ length: 1100 }, (_, i) => (65001 << 16) | i);
    const huge = addRoute(rib, ext, '203.0.113.0/24', { asPath: path, communities }, '192.0.2.9');
    addRoute(rib, ext, '203.0.116.0/24', { asPath: path, communities }, '192.0.2.9');
    const pending = noUpdates();
    exporter.decide(mesh, pending, parseIPv4('203.0.113.0'), 24, huge);
    exporter.decide(mesh, pending, parseIPv4('203.0.116.0'), 24, rib.best(parseIPv4('203.0.116.0'), 24));
    exporter.send(mesh, pending);
    const updates = wire.updates(); // throws on a message over 4096 bytes
    expect(updates.at(-1)!.withdrawn.map((n) => formatIPv4(n.address)).sort()).toEqual(['203.0.113.0', '203.0.116.0']);
    expect(updates.every((u) => u.nlri.every((n) => formatIPv4(n.address) !== '203.0.116.0'))).toBe(true);
    expect(mesh.adjRibOut.size).toBe(0);
    expect(rib.attributes[huge]!.refs).toBeGreaterThan(0); // the RIB's own paths still hold it
    // With extended messages (RFC 8654) it fits.
    const big = testPeer(3, '10.0.0.3');
    const wide = establish(big, 65535);
    exporter.exportAll(big);
    expect(wide.updates().flatMap((u) => u.nlri).length).toBe(2);
  });
});
