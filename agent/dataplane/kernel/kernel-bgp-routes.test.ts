// Our routes at BGP prefixes kept as numbers while the kernel's listing is read: from the
// listing's text (most routes without parsing them) exactly what parsing each would keep, each
// prefix's route given back as the kernel has it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BgpRouteTable } from '../bgp-route-table.ts';
import { KernelBgpRoutes } from './kernel-bgp-routes.ts';
import { normaliseRoute, type RawRoute } from './snapshot.ts';

const rawArb = fc.record({
  type: fc.constantFrom('1', '6'),
  dst: fc.constantFrom('default', '16.0.1.0/24', '16.0.2.0/24', '16.0.3.0/24', '192.168.0.5', '10.0.0.0/8'),
  gateway: fc.option(fc.constantFrom('10.0.0.2', '10.0.0.3'), { nil: undefined }),
  dev: fc.constantFrom('eth0', 'tunl0', 'cali0123456789a'),
  protocol: fc.constantFrom('71', '12', '3'),
  scope: fc.constantFrom('0', '253'),
  flags: fc.constantFrom([], ['onlink']),
  metrics: fc.option(fc.constant([{ mtu: 1480 }]), { nil: undefined }),
}).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as unknown as RawRoute);

const table = BgpRouteTable.fromRoutes(['16.0.1.0/24', '16.0.2.0/24', '192.168.0.5/32', '0.0.0.0/0'].map((cidr) => ({ cidr, nextHop: '10.0.0.2' }))).table;

describe('KernelBgpRoutes', () => {
  it('keeps from the text what it keeps from the parsed route, and gives each back as parsed', () => {
    fc.assert(fc.property(fc.array(rawArb, { maxLength: 12 }), (listing) => {
      const fromText = new KernelBgpRoutes(table), fromObjects = new KernelBgpRoutes(table);
      const restText: unknown[] = [], restObjects: unknown[] = [];
      for (const raw of listing) {
        const text = JSON.stringify(raw);
        const parse = () => normaliseRoute(JSON.parse(text) as RawRoute);
        if (!fromText.takeText(text, parse)) restText.push(parse());
        if (!fromObjects.take(normaliseRoute(raw))) restObjects.push(normaliseRoute(raw));
      }
      expect(restText).toEqual(restObjects);
      for (let i = 0; i < table.size; i++) expect(fromText.route(i)).toEqual(fromObjects.route(i));
      // Only ours, at the table's prefixes, not the default route nor a pod's.
      for (const route of fromText.routes()) {
        expect(route.protocol).toBe(71);
        expect(route.dst).not.toBe('0.0.0.0/0');
        expect(route.dev).not.toMatch(/^cali/);
      }
    }), { numRuns: 500 });
  });
});
