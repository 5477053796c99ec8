import { describe, expect, it } from 'vitest';
import { ListWatch, type ListWatchChange, type ListWatchState } from './list-watch.ts';
import { fakeListWatch, settle } from './testing/fake-list-watch.ts';

interface Obj {
  metadata: { name: string; resourceVersion: string };
  value?: number;
}

const obj = (name: string, resourceVersion: string, value = 0): Obj => ({ metadata: { name, resourceVersion }, value });
type Server = ReturnType<typeof fakeListWatch<Obj>>;
const fakeServer = (): Server => fakeListWatch<Obj>();

function start(server: Server) {
  const changes: ListWatchChange<Obj>[] = [];
  const states: ListWatchState[] = [];
  const lw = new ListWatch<Obj>(server.source, (c) => changes.push(c), { schedule: server.schedule, maxBackoffMs: 800, onState: (s) => states.push(s) });
  lw.start();
  return { lw, changes, states };
}

const names = (list: Obj[]) => list.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`);

describe('ListWatch', () => {
  it("lists, then watches from the list's resourceVersion, each event one delta", async () => {
    const server = fakeServer();
    server.lists.push({ items: [obj('a', '10'), obj('b', '11')], resourceVersion: '12' });
    const { lw, changes } = start(server);
    await settle();
    expect(changes).toEqual([{ reason: 'list', relisted: true, upserted: [obj('a', '10'), obj('b', '11')], deleted: [] }]);
    expect(server.last().query).toMatchObject({ resourceVersion: '12', allowWatchBookmarks: true });
    expect(lw.synced).toBe(true);

    server.last().event('ADDED', obj('c', '13'));
    server.last().event('MODIFIED', obj('a', '14', 1));
    server.last().event('BOOKMARK', { metadata: { resourceVersion: '15' } });
    server.last().event('DELETED', obj('b', '16'));
    expect(changes.slice(1).map((c) => [c.reason, names(c.upserted), names(c.deleted)])).toEqual([
      ['added c', ['c@13'], []],
      ['modified a', ['a@14'], []],
      ['deleted b', [], ['b@11']],
    ]);
    expect(names(lw.items())).toEqual(['a@14', 'c@13']);

    // The server ends the watch (its timeout): resumed from the last version seen, no list.
    server.last().end(null);
    await settle();
    expect(server.watches).toHaveLength(2);
    expect(server.last().query.resourceVersion).toBe('16');
    expect(server.listCalls()).toBe(1);
    await lw.stop();
  });

  it('relists after a 410 and reports what the relist added, changed and removed, not what it kept', async () => {
    const server = fakeServer();
    server.lists.push({ items: [obj('a', '10'), obj('b', '11'), obj('c', '12')], resourceVersion: '12' });
    const { lw, changes } = start(server);
    await settle();
    server.lists.push({ items: [obj('a', '10'), obj('c', '30', 2), obj('d', '31')], resourceVersion: '40' });
    server.last().end(Object.assign(new Error('Gone'), { statusCode: 410 }));
    await settle();
    expect(lw.stats.gone).toBe(1);
    const relist = changes[changes.length - 1]!;
    expect({ relisted: relist.relisted, upserted: names(relist.upserted), deleted: names(relist.deleted) }).toEqual({ relisted: true, upserted: ['c@30', 'd@31'], deleted: ['b@11'] });
    expect(server.last().query.resourceVersion).toBe('40');
    await lw.stop();
  });

  it('relists after a watch ERROR event with code 410 (too old resource version)', async () => {
    const server = fakeServer();
    server.lists.push({ items: [obj('a', '10')], resourceVersion: '10' });
    const { lw, changes } = start(server);
    await settle();
    server.lists.push({ items: [], resourceVersion: '50' });
    server.last().event('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 10 (45)' });
    await settle();
    expect(server.listCalls()).toBe(2);
    expect(names(changes[changes.length - 1]!.deleted)).toEqual(['a@10']);
    expect(lw.items()).toEqual([]);
    await lw.stop();
  });

  it('keeps the last state while the server is unreachable, backs off, and relists when it answers', async () => {
    const server = fakeServer();
    server.lists.push({ items: [obj('a', '10')], resourceVersion: '10' });
    const { lw, states } = start(server);
    await settle();
    expect(states.at(-1)).toEqual({ connected: true, synced: true, lastError: undefined });
    // The watch fails (connection refused), and so do the next two lists.
    server.lists.push(new Error('connect ECONNREFUSED'), new Error('connect ECONNREFUSED'));
    server.last().end(new Error('connect ECONNREFUSED'));
    await settle();
    expect(states.at(-1)).toEqual({ connected: false, synced: true, lastError: 'connect ECONNREFUSED' });
    expect(names(lw.items())).toEqual(['a@10']);
    await server.fire(100); // the first pause, then a list that fails
    await server.fire(200); // doubled, then the second failing list
    expect(server.pending()).toContain(400);
    expect(lw.stats.failures).toBe(3);
    server.lists.push({ items: [obj('a', '20', 5)], resourceVersion: '21' });
    await server.fire(400);
    expect(states.at(-1)).toEqual({ connected: true, synced: true, lastError: undefined });
    expect(names(lw.items())).toEqual(['a@20']);
    expect(server.last().query.resourceVersion).toBe('21');
    await lw.stop();
  });

  it('gives up the backoff at once when woken (the kind was just installed)', async () => {
    const server = fakeServer();
    server.lists.push(Object.assign(new Error('the server could not find the requested resource'), { statusCode: 404 }));
    const { lw } = start(server);
    await settle();
    expect(lw.connected).toBe(false);
    expect(lw.synced).toBe(false);
    server.lists.push({ items: [obj('a', '1')], resourceVersion: '1' });
    lw.wake();
    await settle();
    expect(lw.synced).toBe(true);
    expect(server.listCalls()).toBe(2);
    await lw.stop();
  });

  it('stops: the watch is aborted and nothing is listed again', async () => {
    const server = fakeServer();
    server.lists.push({ items: [], resourceVersion: '1' });
    const { lw } = start(server);
    await settle();
    await lw.stop();
    expect(server.last().aborted).toBe(true);
    expect(server.listCalls()).toBe(1);
  });
});
