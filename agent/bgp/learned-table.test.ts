import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LearnedTable } from './learned-table.ts';
import { Rib } from './rib/rib.ts';
import { LOCAL_PEER, RouteAttributes, type RouteSource } from './rib/route-attributes.ts';
import { learnedRoutes, type LearnedRoute } from './speaker-status.ts';
import type { BgpRouteTable } from '../dataplane/bgp-route-table.ts';

const source = (index: number): RouteSource => ({ index, address: 0x0a000000 + index, routerId: 0x0a000000 + index, asn: 64512, ebgp: false, routeReflectorClient: false });

/** Peer `peer`'s attribute set with next hop `hop` (LOCAL_PEER: our own, never learned). */
function attrs(rib: Rib, peer: number, hop: number): number {
  const key = `${peer}:${hop}`;
  return rib.intern(key, () => new RouteAttributes(source(peer), { origin: 0, asPath: [], nextHop: hop }, [], hop, key));
}

type Op = ['update' | 'withdraw', number, number, number, number] | ['read'];

describe('LearnedTable', () => {
  it('is learnedRoutes() after any sequence of changes, and the same table exactly when nothing learned changed', () => {
    const op = fc.oneof(
      fc.tuple(fc.constantFrom('update' as const, 'withdraw' as const), fc.constantFrom(LOCAL_PEER, 1, 2), fc.integer({ min: 0, max: 40 }), fc.constantFrom(16, 24, 32), fc.constantFrom(0x0a000001, 0x0a000002, 0xc0a80001)),
      fc.constant(['read'] as ['read']),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 300 }), (ops: Op[]) => {
      const rib = new Rib();
      const table = new LearnedTable(rib);
      let last: BgpRouteTable | undefined;
      let lastRoutes: LearnedRoute[] = [];
      const check = () => {
        const now = table.update();
        const expected = learnedRoutes(rib);
        expect(now.toRoutes()).toEqual(expected);
        // A table is never changed once handed out, and a new one comes only with a change.
        if (last) {
          expect(last.toRoutes()).toEqual(lastRoutes);
          expect(now === last).toBe(JSON.stringify(expected) === JSON.stringify(lastRoutes));
        }
        last = now;
        lastRoutes = expected;
      };
      for (const o of ops) {
        if (o[0] === 'read') {
          check();
          continue;
        }
        const [kind, peer, n, length, hop] = o;
        // Addresses spread over the whole space (the top bit set too), masked to the length.
        const address = (Math.imul(n, 0x9e3779b1) >>> 0) & (length === 32 ? 0xffffffff : ~((1 << (32 - length)) - 1)) >>> 0;
        if (kind === 'update') rib.update(peer, address >>> 0, length, 0, attrs(rib, peer, hop));
        else rib.withdraw(peer, address >>> 0, length, 0);
      }
      check();
    }), { numRuns: 300 });
  });

  it('holds the routes as numbers: the next hop and prefix of each, found by prefix', () => {
    const rib = new Rib();
    const table = new LearnedTable(rib);
    rib.update(1, 0x0a000000, 24, 0, attrs(rib, 1, 0x0a000001));
    rib.update(1, 0x0a000100, 24, 0, attrs(rib, 1, 0x0a000001));
    const first = table.update();
    rib.update(1, 0x0a000100, 24, 0, attrs(rib, 1, 0x0a000002));
    const second = table.update();
    expect(second).not.toBe(first);
    expect(second.nextHops[second.indexOf(0x0a000100, 24)]).toBe(0x0a000002);
    expect(first.nextHops[first.indexOf(0x0a000100, 24)]).toBe(0x0a000001);
    expect(second.indexOf(0x0a000200, 24)).toBe(-1);
    expect(second.cidr(0)).toBe('10.0.0.0/24');
  });
});
