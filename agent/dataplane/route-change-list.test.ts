// A pass's route changes as numbers (route-change-list.ts): what goes in comes out, in order, as
// the RouteChange each stands for, and a kind's route serves many prefixes without a copy each.
import { describe, expect, it } from 'vitest';
import type { DesiredRoute } from '../../shared/dataplane-plan/index.ts';
import { RouteChangeList } from './route-change-list.ts';
import type { RouteChange } from './route-change.ts';

const kind: DesiredRoute = { dst: '16.0.1.0/24', type: 'unicast', dev: 'eth0', gateway: '10.0.0.2', onlink: true, scope: 'global', owner: { kind: 'remote-block', block: '16.0.1.0/24', pool: 'p', mode: 'Never', node: 'near', path: 'direct' } };
const pod: DesiredRoute = { dst: '192.168.0.5/32', type: 'unicast', dev: 'cali0123456789a', onlink: false, scope: 'link', owner: { kind: 'endpoint', endpoint: 'ns/pod' } };

describe('RouteChangeList', () => {
  it('gives back each change as it went in, in order', () => {
    const changes: RouteChange[] = [{ op: 'add', route: pod }, { op: 'del', dst: '10.1.0.0/24', type: 'blackhole' }, { op: 'replace', route: kind }, { op: 'del', dst: '10.2.0.0/24', type: 'unicast' }];
    const list = RouteChangeList.from(changes);
    expect(list.toArray()).toEqual(changes);
    const first = list.at(0);
    expect(first.op !== 'del' && first.route).toBe(pod); // a route planned for its own prefix is handed back as it is
  });

  it('names a kind\'s route once for all its prefixes, each change with its own destination and block', () => {
    const list = new RouteChangeList();
    for (let i = 1; i <= 300; i++) list.pushRoute('add', (16 << 24) + i * 256, 24, kind);
    expect(list.size).toBe(300);
    expect(new Set(Array.from({ length: 300 }, (_, i) => list.routeIndex(i)))).toEqual(new Set([0]));
    expect(list.at(1)).toEqual({ op: 'add', route: { ...kind, dst: '16.0.2.0/24', owner: { ...kind.owner, block: '16.0.2.0/24' } } });
    const own = list.at(0);
    expect(own.op !== 'del' && own.route).toBe(kind); // the kind's own prefix: the very route, no copy
    const merged = new RouteChangeList();
    merged.push({ op: 'del', dst: '10.1.0.0/24', type: 'unicast' });
    merged.pushAll(list);
    expect(merged.toArray()).toEqual([{ op: 'del', dst: '10.1.0.0/24', type: 'unicast' }, ...list.toArray()]);
  });
});
