// The BGP routes as numbers (bgp-route-table.ts) against plain lists and maps of the same routes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BgpRoute } from '../../shared/dataplane-plan/desired-state.ts';
import { BgpRouteTable } from './bgp-route-table.ts';

const routeArb = fc.record({
  cidr: fc.constantFrom('10.0.0.0/8', '10.0.0.0/24', '10.0.1.0/24', '10.0.0.1/32', '192.168.1.0/26', '200.0.0.0/24', '255.255.255.0/24', '0.0.0.0/0'),
  nextHop: fc.constantFrom('10.240.1.12', '10.240.1.13', '172.16.0.1'),
});
/** The list sorted as the table sorts: address, then prefix length. */
const sorted = (routes: readonly BgpRoute[]) => {
  const key = (r: BgpRoute) => {
    const [a, l] = r.cidr.split('/') as [string, string];
    return a.split('.').reduce((n, o) => n * 256 + Number(o), 0) * 64 + Number(l);
  };
  return [...routes].sort((a, b) => key(a) - key(b));
};


describe('BgpRouteTable', () => {
  it('is the list sorted by prefix, each prefix once with its first next hop, and says which entries it dropped', () => {
    fc.assert(fc.property(fc.array(routeArb, { maxLength: 20 }), (routes) => {
      const { table, duplicates } = BgpRouteTable.fromRoutes(routes);
      const first = new Map<string, BgpRoute>();
      for (const r of routes) if (!first.has(r.cidr)) first.set(r.cidr, r);
      expect(table.toRoutes()).toEqual(sorted([...first.values()]));
      expect(duplicates).toHaveLength(routes.length - first.size);
      for (const r of routes) {
        const [a, l] = r.cidr.split('/') as [string, string];
        const i = table.indexOf(a.split('.').reduce((n, o) => n * 256 + Number(o), 0), Number(l));
        expect(table.cidr(i)).toBe(r.cidr);
      }
      expect(table.indexOf(0x0b000000, 8)).toBe(-1);
    }));

  });

  it('adds stand-ins only where it has no route, and is itself when none is added', () => {
    const { table } = BgpRouteTable.fromRoutes([{ cidr: '10.0.1.0/24', nextHop: '10.240.1.12' }]);
    expect(table.withRoutes([{ cidr: '10.0.1.0/24', nextHop: '10.240.1.99' }])).toBe(table);
    const more = table.withRoutes([{ cidr: '10.0.2.0/24', nextHop: '10.240.1.13' }, { cidr: '10.0.0.0/24', nextHop: '10.240.1.13' }, { cidr: '10.0.1.0/24', nextHop: '10.240.1.99' }]);
    expect(more.toRoutes()).toEqual([
      { cidr: '10.0.0.0/24', nextHop: '10.240.1.13' },
      { cidr: '10.0.1.0/24', nextHop: '10.240.1.12' },
      { cidr: '10.0.2.0/24', nextHop: '10.240.1.13' },
    ]);
    expect(table.size).toBe(1); // never changed once made
  });

  it('equals a table of the same routes, and no other', () => {
    fc.assert(fc.property(fc.array(routeArb, { maxLength: 12 }), fc.array(routeArb, { maxLength: 12 }), (a, b) => {
      const one = BgpRouteTable.fromRoutes(a).table, other = BgpRouteTable.fromRoutes(b).table;
      expect(one.equals(other)).toBe(JSON.stringify(one.toRoutes()) === JSON.stringify(other.toRoutes()));
      expect(one.equals(BgpRouteTable.fromRoutes(one.toRoutes()).table)).toBe(true);
    }));
  });
});
