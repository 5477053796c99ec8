import { describe, expect, it, vi } from 'vitest';
import type { DesiredRoute } from '../../shared/dataplane-plan/index.ts';
import { RouteEchoes } from './route-echoes.ts';
import { RouteChangeList } from './route-change-list.ts';

const route = (dst: string): DesiredRoute => ({ dst, type: 'unicast', dev: 'eth0', gateway: '10.0.0.1', onlink: true, scope: 'global', owner: { kind: 'own-block', block: dst, pool: 'p' } });

describe('our own route writes, expected back from ip monitor', () => {
  it('takes each written route once, in the forms ip monitor prints it', () => {
    const echoes = new RouteEchoes();
    echoes.expect([{ op: 'add', route: route('10.1.0.0/24') }, { op: 'replace', route: route('192.168.1.65/32') }, { op: 'del', dst: '10.2.0.0/24', type: 'blackhole' }]);
    expect(echoes.isEcho('[ROUTE]10.1.0.0/24 via 10.0.0.1 dev eth0 proto 71 onlink ')).toBe(true);
    // The same again (by hand, later) is news.
    expect(echoes.isEcho('[ROUTE]10.1.0.0/24 via 10.0.0.1 dev eth0 proto 71 onlink ')).toBe(false);
    expect(echoes.isEcho('[ROUTE]192.168.1.65 dev cali0123456789a proto 71 scope link ')).toBe(true);
    // A delete we did not make, an add where we deleted, another protocol: news.
    expect(echoes.isEcho('[ROUTE]Deleted 10.3.0.0/24 via 10.0.0.1 dev eth0 proto 71 onlink ')).toBe(false);
    expect(echoes.isEcho('[ROUTE]blackhole 10.2.0.0/24 proto 71 ')).toBe(false);
    expect(echoes.isEcho('[ROUTE]Deleted 10.2.0.0/24 via 10.0.0.1 dev eth0 proto 12 ')).toBe(false);
    expect(echoes.isEcho('[ROUTE]Deleted blackhole 10.2.0.0/24 proto 71 ')).toBe(true);
    expect(echoes.isEcho('[LINK]3: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500')).toBe(false);
  });

  it('stops expecting them after a while: a late change by hand is news', () => {
    let now = 0;
    const echoes = new RouteEchoes(() => now);
    echoes.expect([{ op: 'del', dst: '10.1.0.0/24', type: 'unicast' }]);
    now = 11_000;
    expect(echoes.isEcho('[ROUTE]Deleted 10.1.0.0/24 via 10.0.0.1 dev eth0 proto 71 ')).toBe(false);
  });

  it('keeps expecting them while they keep coming back, however long the whole takes', () => {
    let now = 0;
    const echoes = new RouteEchoes(() => now);
    const dsts = Array.from({ length: 30 }, (_, i) => `10.1.${i}.0/24`);
    echoes.expect(dsts.map((dst) => ({ op: 'add' as const, route: route(dst) })));
    // One every second: 30 s in all, each within 10 s of the one before.
    for (const dst of dsts) {
      now += 1000;
      expect(echoes.isEcho(`[ROUTE]${dst} via 10.0.0.1 dev eth0 proto 71 onlink `)).toBe(true);
    }
  });

  it('takes a BGP pass\'s changes as numbers, a kind\'s route for many prefixes, each echo once', () => {
    const list = new RouteChangeList();
    const kind = route('16.0.0.0/24');
    // Out of order, and one prefix both deleted and added: each is its own echo.
    for (const i of [3, 1, 2]) list.pushRoute('add', (16 << 24) + i * 256, 24, kind);
    list.pushDelete((16 << 24) + 2 * 256, 24, 'unicast');
    const echoes = new RouteEchoes();
    echoes.expect(list);
    expect(echoes.isEcho('[ROUTE]16.0.2.0/24 via 10.0.0.1 dev eth0 proto 71 onlink ')).toBe(true);
    expect(echoes.isEcho('[ROUTE]16.0.2.0/24 via 10.0.0.1 dev eth0 proto 71 onlink ')).toBe(false);
    expect(echoes.isEcho('[ROUTE]Deleted 16.0.2.0/24 via 10.0.0.1 dev eth0 proto 71 onlink ')).toBe(true);
    expect(echoes.isEcho('[ROUTE]16.0.0.0/24 via 10.0.0.1 dev eth0 proto 71 onlink ')).toBe(false);
    expect(echoes.isEcho('[ROUTE]16.0.3.0/24 via 10.0.0.1 dev eth0 proto 71 onlink ')).toBe(true);
    expect(echoes.isEcho('[ROUTE]16.0.1.0/24 via 10.0.0.1 dev eth0 proto 71 onlink ')).toBe(true);
    // All back: a route deleted by hand now is news.
    expect(echoes.isEcho('[ROUTE]Deleted 16.0.1.0/24 via 10.0.0.1 dev eth0 proto 71 onlink ')).toBe(false);
  });

  it('takes a list in prefix order as it is, each echo once', () => {
    const list = new RouteChangeList();
    const kind = route('16.0.0.0/24');
    for (const i of [1, 2, 3]) list.pushRoute('add', (16 << 24) + i * 256, 24, kind);
    const echoes = new RouteEchoes();
    echoes.expect(list);
    expect(echoes.pending).toBe(3);
    for (const i of [2, 3, 1]) expect(echoes.isEcho(`[ROUTE]16.0.${i}.0/24 via 10.0.0.1 dev eth0 proto 71 onlink `)).toBe(true);
    expect(echoes.isEcho('[ROUTE]16.0.2.0/24 via 10.0.0.1 dev eth0 proto 71 onlink ')).toBe(false);
    expect(echoes.pending).toBe(0);
  });

  it('forgets what it expected 10 s after the last echo, with no further event to say so', () => {
    vi.useFakeTimers();
    try {
      let now = 0;
      const echoes = new RouteEchoes(() => now);
      echoes.expect(['10.1.0.0/24', '10.1.1.0/24'].map((dst) => ({ op: 'add' as const, route: route(dst) })));
      now = 5000;
      vi.advanceTimersByTime(5000);
      expect(echoes.isEcho('[ROUTE]10.1.0.0/24 via 10.0.0.1 dev eth0 proto 71 onlink ')).toBe(true);
      // The other never comes back (the monitor lost it): 10 s after the last echo it is let go.
      now = 14_000;
      vi.advanceTimersByTime(9000);
      expect(echoes.pending).toBe(1);
      now = 15_001;
      vi.advanceTimersByTime(1001);
      expect(echoes.pending).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
