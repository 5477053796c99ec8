import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PrefixTable } from './prefix-table.ts';
import { Rib } from './rib.ts';
import { LOCAL_PEER, RouteAttributes, type RouteSource } from './route-attributes.ts';
import type { PathAttributes } from '../codec/update.ts';

describe('PrefixTable', () => {
  it('behaves like a Map under random inserts, updates and deletes (with growth and backward shifts)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('set', 'delete'), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 32 }), fc.nat()), { maxLength: 2000 }), (ops) => {
      const table = new PrefixTable(4);
      const model = new Map<string, number>();
      for (const [op, a, len, value] of ops) {
        const address = (a * 0x01010101) >>> 0;
        const key = `${address}/${len}`;
        if (op === 'set') { table.set(address, len, value); model.set(key, value); }
        else expect(table.delete(address, len)).toBe(model.delete(key));
        expect(table.size).toBe(model.size);
      }
      for (const [key, value] of model) {
        const [address, len] = key.split('/').map(Number);
        expect(table.get(address!, len!)).toBe(value);
      }
      let visited = 0;
      table.forEach(() => visited++);
      expect(visited).toBe(model.size);
    }), { numRuns: 200 });
  });

  it('holds a million prefixes', () => {
    const table = new PrefixTable();
    for (let i = 0; i < 1_000_000; i++) table.set((0x0a000000 + i * 256) >>> 0, 24, i);
    expect(table.size).toBe(1_000_000);
    expect(table.get(0x0a000000 + 999_999 * 256, 24)).toBe(999_999);
    expect(table.get(0x0a000000, 23)).toBe(-1);
  });
});

function source(index: number, extra: Partial<RouteSource> = {}): RouteSource {
  return { index, address: 0x0a000000 + index, routerId: 0x0a000000 + index, asn: 64512, ebgp: false, routeReflectorClient: false, ...extra };
}

function attrs(rib: Rib, src: RouteSource, a: PathAttributes): number {
  const key = `${src.index}:${JSON.stringify(a)}`;
  return rib.intern(key, () => new RouteAttributes(src, a, a.asPath ?? [], a.nextHop ?? 0, key));
}

const P = 0xc0a80100;

describe('Rib best-path selection', () => {
  it('prefers higher LOCAL_PREF, then the shorter AS path, then the lower ORIGIN', () => {
    const rib = new Rib();
    const a = source(1), b = source(2);
    rib.update(1, P, 24, 0, attrs(rib, a, { origin: 0, asPath: [{ type: 2, asns: [1, 2] }], localPref: 100 }));
    rib.update(2, P, 24, 0, attrs(rib, b, { origin: 0, asPath: [{ type: 2, asns: [1, 2, 3] }], localPref: 200 }));
    expect(rib.attributes[rib.best(P, 24)]!.source.index).toBe(2);
    rib.update(2, P, 24, 0, attrs(rib, b, { origin: 0, asPath: [{ type: 2, asns: [1, 2, 3] }], localPref: 100 }));
    expect(rib.attributes[rib.best(P, 24)]!.source.index).toBe(1);
    rib.update(1, P, 24, 0, attrs(rib, a, { origin: 2, asPath: [{ type: 2, asns: [7, 8, 9] }], localPref: 100 }));
    expect(rib.attributes[rib.best(P, 24)]!.source.index).toBe(2);
  });

  it('prefers own routes, eBGP over iBGP, shorter CLUSTER_LIST, then the lower identifier (ORIGINATOR_ID standing in)', () => {
    const rib = new Rib();
    const ibgp = source(1, { routerId: 1 });
    const ebgp = source(2, { ebgp: true, routerId: 9 });
    rib.update(1, P, 24, 0, attrs(rib, ibgp, { origin: 0, asPath: [] }));
    rib.update(2, P, 24, 0, attrs(rib, ebgp, { origin: 0, asPath: [] }));
    expect(rib.attributes[rib.best(P, 24)]!.source.index).toBe(2);
    rib.update(LOCAL_PEER, P, 24, 0, attrs(rib, source(LOCAL_PEER), { origin: 2, asPath: [{ type: 2, asns: [1, 2, 3, 4] }] }));
    expect(rib.attributes[rib.best(P, 24)]!.source.index).toBe(LOCAL_PEER);

    const rr = new Rib();
    rr.update(3, P, 24, 0, attrs(rr, source(3, { routerId: 1 }), { origin: 0, asPath: [], clusterList: [5, 6] }));
    rr.update(4, P, 24, 0, attrs(rr, source(4, { routerId: 2 }), { origin: 0, asPath: [], clusterList: [5] }));
    expect(rr.attributes[rr.best(P, 24)]!.source.index).toBe(4);
    rr.update(5, P, 24, 0, attrs(rr, source(5, { routerId: 7 }), { origin: 0, asPath: [], clusterList: [5], originatorId: 1 }));
    expect(rr.attributes[rr.best(P, 24)]!.source.index).toBe(5);
  });

  it('withdrawing the best promotes the next; the last withdrawal removes the prefix; dirty prefixes are reported', () => {
    const rib = new Rib();
    rib.update(1, P, 24, 0, attrs(rib, source(1), { origin: 0, asPath: [], localPref: 300 }));
    rib.update(2, P, 24, 0, attrs(rib, source(2), { origin: 0, asPath: [] }));
    const dirty: string[] = [];
    rib.drainDirty((a, l) => dirty.push(`${a}/${l}`));
    expect(dirty).toEqual([`${P}/24`]);
    expect(rib.withdraw(1, P, 24, 0)).toBe(true);
    expect(rib.attributes[rib.best(P, 24)]!.source.index).toBe(2);
    expect(rib.withdraw(1, P, 24, 0)).toBe(false);
    rib.withdraw(2, P, 24, 0);
    expect(rib.best(P, 24)).toBe(-1);
    expect(rib.prefixCount).toBe(0);
    expect(rib.attributeSets).toBe(0);
  });

  it('keeps the installed mark through path changes and hands it to the drain when the last path goes', () => {
    const rib = new Rib();
    const drain = () => { const out: string[] = []; rib.drainDirty((a, l, was) => out.push(`${a}/${l}${was ? ' was-installed' : ''}`)); return out; };
    expect(rib.setInstalled(P, 24, true)).toBe(false); // not in the RIB: nothing to mark
    rib.update(1, P, 24, 0, attrs(rib, source(1), { origin: 0, asPath: [], nextHop: 1 }));
    rib.update(1, P + 256, 24, 0, attrs(rib, source(1), { origin: 0, asPath: [], nextHop: 1 }));
    expect(drain()).toEqual([`${P}/24`, `${P + 256}/24`]);
    expect(rib.setInstalled(P, 24, true)).toBe(true);
    expect(rib.installed(P, 24)).toBe(true);
    expect(rib.installed(P + 256, 24)).toBe(false);
    expect(rib.installedCount).toBe(1);
    // A better path, a replaced path and a withdrawn second path keep the mark (and the best path is still found).
    rib.update(2, P, 24, 0, attrs(rib, source(2), { origin: 0, asPath: [], nextHop: 2, localPref: 200 }));
    rib.update(1, P, 24, 0, attrs(rib, source(1), { origin: 0, asPath: [], nextHop: 3 }));
    expect(rib.installed(P, 24)).toBe(true);
    expect(rib.attributes[rib.best(P, 24)]!.nextHop).toBe(2);
    expect(rib.paths(P, 24).map((p) => p.peer)).toEqual([2, 1]);
    rib.withdraw(2, P, 24, 0);
    expect(rib.installed(P, 24)).toBe(true);
    expect(rib.attributes[rib.best(P, 24)]!.nextHop).toBe(3);
    expect(rib.removePeer(1)).toBe(2);
    // removePeer goes in the prefix table's (seeded hash) order.
    expect(drain().sort()).toEqual([`${P}/24`, `${P}/24`, `${P}/24 was-installed`, `${P + 256}/24`].sort());
    expect(rib.installedCount).toBe(0);
    expect(rib.installed(P, 24)).toBe(false);
    const seen: number[] = [];
    rib.update(1, P, 24, 0, attrs(rib, source(1), { origin: 0, asPath: [], nextHop: 1 }));
    rib.setInstalled(P, 24, true);
    rib.forEachInstalled((a) => seen.push(a));
    expect(seen).toEqual([P]);
    expect(rib.setInstalled(P, 24, false)).toBe(true);
    expect(rib.installedCount).toBe(0);
  });

  it('keeps one path per ADD-PATH identifier', () => {
    const rib = new Rib();
    rib.update(1, P, 24, 1, attrs(rib, source(1), { origin: 0, asPath: [], nextHop: 1 }));
    rib.update(1, P, 24, 2, attrs(rib, source(1), { origin: 0, asPath: [], nextHop: 2 }));
    expect(rib.paths(P, 24)).toHaveLength(2);
    expect(rib.paths(P, 24)[0]!.pathId).toBe(1);
  });

  it('graceful restart: stale paths survive until swept; re-announced ones are fresh again', () => {
    const rib = new Rib();
    const a = attrs(rib, source(1), { origin: 0, asPath: [] });
    for (let i = 0; i < 10; i++) rib.update(1, P + i * 256, 24, 0, a);
    expect(rib.markStale(1)).toBe(10);
    rib.update(1, P, 24, 0, a);
    expect(rib.staleCount(1)).toBe(9);
    expect(rib.removePeer(1, true)).toBe(9);
    expect(rib.prefixCount).toBe(1);
    expect(rib.paths(P, 24)[0]!.stale).toBe(false);
  });

  it('MED: compared only within a neighbour AS, and the best path does not depend on arrival order (deterministic MED)', () => {
    // The classic cycle: b beats a (same AS, lower MED), a beats c (other AS: MED ignored, lower
    // identifier), c beats b (lower identifier). Grouped by neighbour AS, as BIRD's
    // `deterministic med` and GoBGP do: AS 65001's best is b, which c beats: c, in any order.
    const paths = [
      { peer: 1, a: { origin: 0, asPath: [{ type: 2, asns: [65001] }], med: 100 }, id: 1 },
      { peer: 2, a: { origin: 0, asPath: [{ type: 2, asns: [65001] }], med: 50 }, id: 3 },
      { peer: 3, a: { origin: 0, asPath: [{ type: 2, asns: [65002] }], med: 0 }, id: 2 },
    ];
    const orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    for (const order of orders) {
      const rib = new Rib();
      for (const i of order) {
        const p = paths[i]!;
        rib.update(p.peer, P, 24, 0, attrs(rib, source(p.peer, { routerId: p.id }), p.a));
      }
      expect(rib.attributes[rib.best(P, 24)]!.source.index, `arrival order ${order.join(',')}`).toBe(3);
      expect(rib.paths(P, 24).map((x) => x.peer), `order ${order.join(',')}`).toEqual([3, 2, 1]);
      // Without c, AS 65001's MED decides: b.
      rib.withdraw(3, P, 24, 0);
      expect(rib.attributes[rib.best(P, 24)]!.source.index).toBe(2);
      // Without b, a against c on identifiers: a.
      rib.update(3, P, 24, 0, attrs(rib, source(3, { routerId: 2 }), paths[2]!.a));
      rib.withdraw(2, P, 24, 0);
      expect(rib.attributes[rib.best(P, 24)]!.source.index).toBe(1);
    }
  });

  it('the best path is the same for any arrival order of random paths', () => {
    const path = fc.record({
      as: fc.constantFrom(65001, 65002, 65003),
      med: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      lp: fc.constantFrom(100, 200),
      len: fc.integer({ min: 1, max: 2 }),
      id: fc.integer({ min: 1, max: 5 }),
      ebgp: fc.boolean(),
    });
    fc.assert(fc.property(fc.array(path, { minLength: 2, maxLength: 6 }), fc.integer({ min: 0, max: 1000 }), (ps, seed) => {
      const build = (order: number[]) => {
        const rib = new Rib();
        for (const i of order) {
          const p = ps[i]!;
          const src = source(i + 1, { routerId: p.id, ebgp: p.ebgp });
          rib.update(i + 1, P, 24, 0, attrs(rib, src, { origin: 0, asPath: [{ type: 2, asns: Array.from({ length: p.len }, () => p.as) }], localPref: p.lp, ...(p.med !== undefined ? { med: p.med } : {}) }));
        }
        return rib.paths(P, 24).map((x) => x.peer);
      };
      const forward = ps.map((_, i) => i);
      const shuffled = [...forward].sort((x, y) => ((x * 7919 + seed) % 13) - ((y * 7919 + seed) % 13) || x - y);
      expect(build(shuffled)).toEqual(build(forward));
      expect(build([...forward].reverse())).toEqual(build(forward));
    }), { numRuns: 300 });
  });

  it('matches a plain model under random updates, withdrawals, ADD-PATH ids, stale marks and peer removals', () => {
    // Prefixes spread over all 64 partitions, few enough to share lists (several paths per prefix).
    const op = fc.oneof(
      fc.tuple(fc.constant('update' as const), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 3 })),
      fc.tuple(fc.constant('withdraw' as const), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2 }), fc.constant(0)),
      fc.tuple(fc.constant('stale' as const), fc.integer({ min: 1, max: 4 }), fc.constant(0), fc.constant(0), fc.constant(0)),
      fc.tuple(fc.constant('remove' as const), fc.integer({ min: 1, max: 4 }), fc.boolean().map(Number), fc.constant(0), fc.constant(0)),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      const rib = new Rib();
      const sources = [1, 2, 3, 4].map((i) => source(i));
      const pref = (k: number) => [((0x0a000000 + k * 0x01000100) >>> 0), 16 + (k % 9)] as const;
      /** model: "address/length" -> Map("peer:id" -> {lp, stale}) */
      const model = new Map<string, Map<string, { lp: number; stale: boolean }>>();
      for (const [kind, peer, k, id, lp] of ops) {
        if (kind === 'update') {
          const [a, l] = pref(k);
          rib.update(peer, a, l, id, attrs(rib, sources[peer - 1]!, { origin: 0, asPath: [], localPref: 100 + lp }));
          const key = `${a}/${l}`;
          if (!model.has(key)) model.set(key, new Map());
          model.get(key)!.set(`${peer}:${id}`, { lp: 100 + lp, stale: false });
        } else if (kind === 'withdraw') {
          const [a, l] = pref(k);
          const paths = model.get(`${a}/${l}`);
          expect(rib.withdraw(peer, a, l, id)).toBe(paths?.delete(`${peer}:${id}`) ?? false);
          if (paths?.size === 0) model.delete(`${a}/${l}`);
        } else if (kind === 'stale') {
          let n = 0;
          for (const paths of model.values()) for (const [pk, v] of paths) if (pk.startsWith(`${peer}:`)) { v.stale = true; n++; }
          expect(rib.markStale(peer)).toBe(n);
        } else {
          const onlyStale = k === 1;
          let n = 0;
          for (const [key, paths] of model) {
            for (const [pk, v] of paths) if (pk.startsWith(`${peer}:`) && (!onlyStale || v.stale)) { paths.delete(pk); n++; }
            if (paths.size === 0) model.delete(key);
          }
          expect(rib.removePeer(peer, onlyStale)).toBe(n);
        }
      }
      expect(rib.prefixCount).toBe(model.size);
      let total = 0;
      for (const [key, paths] of model) {
        const [a, l] = key.split('/').map(Number) as [number, number];
        const got = rib.paths(a, l);
        total += got.length;
        expect(got.map((p) => `${p.peer}:${p.pathId}`).sort()).toEqual([...paths.keys()].sort());
        for (const p of got) expect(p.stale).toBe(paths.get(`${p.peer}:${p.pathId}`)!.stale);
        // Best first: no later path has a higher LOCAL_PREF.
        const lps = got.map((p) => rib.attributes[p.attrIndex]!.localPref);
        expect(Math.max(...lps)).toBe(lps[0]);
      }
      expect(rib.pathTotal).toBe(total);
      let visited = 0;
      rib.forEachPrefix(() => visited++);
      expect(visited).toBe(model.size);
    }), { numRuns: 150 });
  }, 60_000);
});
