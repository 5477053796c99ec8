import { describe, expect, it } from 'vitest';
import type { EventName, EventPayload } from '../../../shared/api/console-contract.ts';
import { eventFrame } from '../../../shared/api/dispatcher.ts';
import type { NodeStatusEntry, NodeStatusWatchState } from '../../../shared/api/node-status-contract.ts';
import { fakeListWatch, settle } from '../../../shared/kube/testing/fake-list-watch.ts';
import { staleAfterSeconds, type NodeAgentStatus } from '../../../shared/model/node-agent-status.ts';
import { NodeStatusHub } from './node-status-hub.ts';
import { NodeStatusWatch, type RawStatusObject } from './node-status-watch.ts';
import { statusConvergence } from './status-convergence.ts';

const t0 = Date.parse('2026-12-04T10:00:00.000Z');

function status(overrides: Partial<NodeAgentStatus> = {}, heartbeatAt = t0): NodeAgentStatus {
  return {
    agentVersion: '1.2.3',
    health: 'Ready',
    problems: [],
    pools: [{ name: 'default-ipv4-ippool', cidr: '192.168.0.0/16', mode: 'IPIP Always' }],
    datastore: { connected: true },
    bgp: { running: true, asn: 64512, established: 3, total: 3, listed: 'all', sessions: [] },
    dataplane: { inSync: true, lastPassAt: new Date(heartbeatAt).toISOString(), lastPassMs: 12, problems: [] },
    changedAt: new Date(heartbeatAt).toISOString(),
    heartbeatAt: new Date(heartbeatAt).toISOString(),
    ...overrides,
  };
}

const object = (name: string, resourceVersion: string, s: unknown = status()): RawStatusObject => ({ metadata: { name, resourceVersion }, status: s });

/** What a subscriber holds: the state it was told, applied as the renderer applies it. */
function subscriber() {
  const held = new Map<string, NodeStatusEntry>();
  const log: string[] = [];
  let watch: NodeStatusWatchState | undefined;
  return {
    held,
    log,
    watch: () => watch,
    listener: {
      snapshot(entries: NodeStatusEntry[], w: NodeStatusWatchState) {
        held.clear();
        for (const e of entries) held.set(e.node, e);
        watch = w;
        log.push(`snapshot ${entries.map((e) => e.node).join(',')}`);
      },
      delta(upserted: NodeStatusEntry[], deleted: string[], w: NodeStatusWatchState) {
        for (const name of deleted) held.delete(name);
        for (const e of upserted) held.set(e.node, e);
        watch = w;
        log.push(`delta +${upserted.map((e) => `${e.node}${e.stale ? '(stale)' : ''}`).join(',')} -${deleted.join(',')}${w.synced ? '' : ' unsynced'}${w.connected ? '' : ' disconnected'}`);
      },
    },
  };
}

function setup(now = () => t0) {
  const server = fakeListWatch<RawStatusObject>();
  const watch = new NodeStatusWatch(server.source, { schedule: server.schedule, now, maxBackoffMs: 800 });
  return { server, watch };
}

describe('NodeStatusWatch', () => {
  it('tells a subscriber the full state, then each status added, changed and deleted as a delta', async () => {
    const { server, watch } = setup();
    server.lists.push({ items: [object('worker-1', '10'), object('worker-2', '11')], resourceVersion: '11' });
    const sub = subscriber();
    watch.subscribe(sub.listener);
    watch.start();
    await settle();
    expect(sub.log).toEqual(['snapshot ', 'delta +worker-1,worker-2 -']);
    expect(sub.watch()).toEqual({ connected: true, synced: true, missing: false });

    server.last().event('MODIFIED', object('worker-1', '12', status({ health: 'Degraded', problems: ['1 of 3 BGP sessions are not established'] })));
    server.last().event('ADDED', object('master', '13'));
    server.last().event('DELETED', object('worker-2', '14'));
    expect(sub.log.slice(2)).toEqual(['delta +worker-1 -', 'delta +master -', 'delta + -worker-2']);
    expect([...sub.held.keys()].sort()).toEqual(['master', 'worker-1']);
    expect(sub.held.get('worker-1')?.status?.health).toBe('Degraded');

    // A second subscriber joining later gets the state as it is now.
    const late = subscriber();
    watch.subscribe(late.listener);
    expect(late.log).toEqual(['snapshot master,worker-1']);
    await watch.stop();
  });

  it('relists after 410 Gone and sends only what changed meanwhile, deletions included', async () => {
    const { server, watch } = setup();
    server.lists.push({ items: [object('a', '1'), object('b', '2'), object('c', '3')], resourceVersion: '3' });
    const sub = subscriber();
    watch.subscribe(sub.listener);
    watch.start();
    await settle();
    server.lists.push({ items: [object('a', '1'), object('c', '9', status({ health: 'Starting' }))], resourceVersion: '20' });
    server.last().end(Object.assign(new Error('too old resource version'), { statusCode: 410 }));
    await settle();
    expect(sub.log.at(-1)).toBe('delta +c -b');
    expect(server.last().query.resourceVersion).toBe('20');
    expect([...sub.held.values()].map((e) => `${e.node} ${e.status?.health}`)).toEqual(['a Ready', 'c Starting']);
    await watch.stop();
  });

  it('marks a status stale when its heartbeat is older than the schema allows, with no request to the server, and fresh again on its next write', async () => {
    let now = t0;
    const { server, watch } = setup(() => now);
    server.lists.push({ items: [object('old', '1', status({}, t0 - (staleAfterSeconds + 1) * 1000)), object('fresh', '2', status({}, t0 - 60_000))], resourceVersion: '2' });
    const sub = subscriber();
    watch.subscribe(sub.listener);
    watch.start();
    await settle();
    expect(sub.held.get('old')?.stale).toBe(true);
    expect(sub.held.get('fresh')?.stale).toBe(false);
    // The timer is set for the moment the fresh one would turn stale.
    const due = (staleAfterSeconds - 60) * 1000 + 1;
    expect(server.pending()).toContain(due);
    now = t0 + due;
    await server.fire(due);
    expect(sub.log.at(-1)).toBe('delta +fresh(stale) -');
    expect(server.listCalls()).toBe(1);
    expect(server.watches).toHaveLength(1);
    // Its heartbeat comes: fresh again.
    server.last().event('MODIFIED', object('fresh', '3', status({}, now)));
    expect(sub.held.get('fresh')?.stale).toBe(false);
    await watch.stop();
  });

  it("says when the cluster has no GinghamNodeStatus kind, and lists at once when woken (the agent's manifests were just applied)", async () => {
    const { server, watch } = setup();
    server.lists.push(Object.assign(new Error('404 page not found'), { statusCode: 404 }));
    const sub = subscriber();
    watch.subscribe(sub.listener);
    watch.start();
    await settle();
    expect(sub.watch()).toMatchObject({ connected: false, synced: false, missing: true, error: expect.stringMatching(/no GinghamNodeStatus kind: no Gingham agent has been installed/) });
    server.lists.push({ items: [object('worker-1', '5')], resourceVersion: '5' });
    watch.wake();
    await settle();
    expect(sub.watch()).toEqual({ connected: true, synced: true, missing: false });
    expect([...sub.held.keys()]).toEqual(['worker-1']);
    await watch.stop();
  });

  it('keeps an object that breaks the schema as invalid, saying why', async () => {
    const { server, watch } = setup();
    server.lists.push({ items: [object('worker-1', '5', { agentVersion: 'x', health: 'Sleepy' })], resourceVersion: '5' });
    const sub = subscriber();
    watch.subscribe(sub.listener);
    watch.start();
    await settle();
    const entry = sub.held.get('worker-1')!;
    expect(entry.status).toBeUndefined();
    expect(entry.invalid).toMatch(/^status\./);
    await watch.stop();
  });
});

describe('NodeStatusHub', () => {
  function hub() {
    const servers: Array<ReturnType<typeof fakeListWatch<RawStatusObject>>> = [];
    const hub = new NodeStatusHub(() => {
      throw new Error('not used: the source is the fake server');
    }, {
      source: () => {
        const server = fakeListWatch<RawStatusObject>();
        server.lists.push({ items: Array.from({ length: 230 }, (_, i) => object(`node-${String(i).padStart(3, '0')}`, String(i + 1))), resourceVersion: '300' });
        servers.push(server);
        return server.source;
      },
      maxBackoffMs: 800,
    });
    const client = () => {
      const events: Array<{ event: EventName; payload: unknown }> = [];
      const emit = <E extends EventName>(event: E, payload: EventPayload<E>) => {
        eventFrame(event, payload); // as the transports check it
        events.push({ event, payload });
      };
      return { events, ...hub.client(emit) };
    };
    return { hub, servers, client };
  }

  it('runs one watch per context for every client, and stops it when the last one leaves', async () => {
    const { hub: h, servers, client } = hub();
    const one = client();
    const two = client();
    const { subscriptionId: a } = await one.handlers['nodeStatus.subscribe']({ context: 'lab' });
    await two.handlers['nodeStatus.subscribe']({ context: 'lab' });
    await settle();
    expect(servers).toHaveLength(1);
    expect(h.current('lab')).toHaveLength(230);
    expect(await one.handlers['nodeStatus.unsubscribe']({ subscriptionId: a })).toEqual({ unsubscribed: true });
    expect(servers[0]!.last().aborted).toBe(false);
    two.close();
    await settle();
    expect(servers[0]!.last().aborted).toBe(true);
    expect(h.current('lab')).toBeUndefined();
  });

  it('answers the subscription first, then sends the full state in parts, then deltas', async () => {
    const { servers, client } = hub();
    const c = client();
    const { subscriptionId } = await c.handlers['nodeStatus.subscribe']({ context: 'lab' });
    expect(c.events).toHaveLength(0);
    await settle();
    // Subscribed before the first list: an empty unsynced state, then the list as a delta.
    const snapshots = c.events.filter((e) => e.event === 'nodeStatus.snapshot').map((e) => e.payload as EventPayload<'nodeStatus.snapshot'>);
    expect(snapshots.map((s) => [s.statuses.length, s.first, s.last, s.watch.synced])).toEqual([[0, true, true, false]]);
    const deltas = c.events.filter((e) => e.event === 'nodeStatus.delta').map((e) => e.payload as EventPayload<'nodeStatus.delta'>);
    expect(deltas.map((d) => [d.upserted.length, d.watch.synced])).toEqual([[230, true]]);
    expect(deltas.every((d) => d.subscriptionId === subscriptionId && d.context === 'lab')).toBe(true);

    // Subscribing again: the same subscription, the full state again in parts of 100.
    c.events.length = 0;
    expect(await c.handlers['nodeStatus.subscribe']({ context: 'lab' })).toEqual({ subscriptionId });
    const parts = c.events.map((e) => e.payload as EventPayload<'nodeStatus.snapshot'>);
    expect(parts.map((s) => [s.statuses.length, s.first, s.last])).toEqual([
      [100, true, false],
      [100, false, false],
      [30, false, true],
    ]);
    c.events.length = 0;
    servers[0]!.last().event('MODIFIED', object('node-007', '400', status({ health: 'Degraded' })));
    expect(c.events.map((e) => e.event)).toEqual(['nodeStatus.delta']);
    c.close();
  });
});

describe('statusConvergence', () => {
  const entry = (node: string, s: NodeAgentStatus, stale = false): NodeStatusEntry => ({ node, stale, status: s });
  it('has a node converged once it programs the new mode and its last pass applied it', () => {
    const pool = 'default-ipv4-ippool';
    const pools = [{ name: pool, cidr: '192.168.0.0/16', mode: 'IPIP CrossSubnet' }];
    const result = statusConvergence(
      [
        entry('a', status({ pools, dataplane: { inSync: true, lastPassAt: '2026-12-04T10:00:01.000Z', problems: [] } })),
        entry('b', status({ pools, dataplane: { inSync: false, problems: [] } })),
        entry('c', status()),
        entry('d', status({ pools }), true),
        entry('e', status({ pools, dataplane: { inSync: false, problems: ['route add 192.168.2.0/26: refused'] } })),
      ],
      pool,
      { ipipMode: 'CrossSubnet', vxlanMode: 'Never' },
    );
    expect(result.map((r) => `${r.node} ${r.converged}: ${r.detail}`)).toEqual([
      'a true: programs IPIP CrossSubnet, last pass at 2026-12-04T10:00:01.000Z',
      'b false: the agent has IPIP CrossSubnet; its dataplane pass has not applied it yet',
      'c false: the agent programs IPIP Always, not yet IPIP CrossSubnet',
      'd false: its agent has not reported since 2026-12-04T10:00:00.000Z: stopped, or cut off from the API server',
      'e false: the last pass failed: route add 192.168.2.0/26: refused',
    ]);
  });
});
