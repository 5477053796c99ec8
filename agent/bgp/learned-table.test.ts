import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LearnedTable } from './learned-table.ts';
import { Rib } from './rib/rib.ts';
import { LOCAL_PEER, RouteAttributes, type RouteSource } from './rib/route-attributes.ts';
import { learnedRoutes } from './speaker-status.ts';

const source = (index: number): RouteSource => ({ index, address: 0x0a000000 + index, routerId: 0x0a000000 + index, asn: 64512, ebgp: false, routeReflectorClient: false });

/** Peer `peer`'s attribute set with next hop `hop` (LOCAL_PEER: our own, never learned). */
function attrs(rib: Rib, peer: number, hop: number): number {
  const key = `${peer}:${hop}`;
  return rib.intern(key, () => new RouteAttributes(source(peer), { origin: 0, asPath: [], nextHop: hop }, [], hop, key));
}

type Op = ['update' | 'withdraw', number, number, number, number] | ['read'];

describe('LearnedTable', () => {
  it('is learnedRoutes() after any sequence of changes, and says exactly what changed since the last read', () => {
    const op = fc.oneof(
      fc.tuple(fc.constantFrom('update' as const, 'withdraw' as const), fc.constantFrom(LOCAL_PEER, 1, 2), fc.integer({ min: 0, max: 40 }), fc.constantFrom(16, 24, 32), fc.constantFrom(0x0a000001, 0x0a000002, 0xc0a80001)),
      fc.constant(['read'] as ['read']),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 300 }), (ops: Op[]) => {
      const rib = new Rib();
      const table = new LearnedTable(rib);
      let last = new Map<string, string>();
      const check = () => {
        const { routes, changed, removed } = table.update();
        const expected = learnedRoutes(rib);
        expect(routes).toEqual(expected);
        const now = new Map(expected.map((r) => [r.cidr, r.nextHop]));
        expect(new Map(changed.map((r) => [r.cidr, r.nextHop]))).toEqual(new Map([...now].filter(([cidr, hop]) => last.get(cidr) !== hop)));
        expect(new Set(removed)).toEqual(new Set([...last.keys()].filter((cidr) => !now.has(cidr))));
        expect(removed.length).toBe(new Set(removed).size);
        last = now;
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

  it('keeps an unchanged route the same object from one read to the next, and hands out a new array each time', () => {
    const rib = new Rib();
    const table = new LearnedTable(rib);
    rib.update(1, 0x0a000000, 24, 0, attrs(rib, 1, 0x0a000001));
    rib.update(1, 0x0a000100, 24, 0, attrs(rib, 1, 0x0a000001));
    const first = table.update().routes;
    rib.update(1, 0x0a000100, 24, 0, attrs(rib, 1, 0x0a000002));
    const second = table.update();
    expect(second.routes).not.toBe(first);
    expect(second.routes[0]).toBe(first[0]);
    expect(second.changed).toEqual([{ cidr: '10.0.1.0/24', nextHop: '10.0.0.2' }]);
    // The caller may append to what it got (the agent adds IPAM stand-ins): the table is not changed by it.
    second.routes.push({ cidr: '192.168.0.0/26', nextHop: '10.0.0.9' });
    expect(table.update().routes).toEqual(learnedRoutes(rib));
  });
});
