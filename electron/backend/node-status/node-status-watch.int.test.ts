// The console's watch of GinghamNodeStatus against a real kube-apiserver: a cluster without the
// kind is said to have none, and the watch lists at once when woken after the CRD is applied; a
// status written, changed and deleted reaches a subscriber as one full state and then deltas,
// through the contract's events as the renderer gets them, also across watches the server ends
// (resumed from their resourceVersion, nothing seen twice, nothing missed); a status whose
// heartbeat is old is stale.
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestCluster, type TestCluster } from '../../../lab/testing/test-cluster.ts';
import type { EventName, EventPayload } from '../../../shared/api/console-contract.ts';
import { eventFrame } from '../../../shared/api/dispatcher.ts';
import type { NodeStatusEntry } from '../../../shared/api/node-status-contract.ts';
import { nodeAgentStatusCrd, nodeAgentStatusKind, staleAfterSeconds, type NodeAgentStatus } from '../../../shared/model/node-agent-status.ts';
import { NodeStatusHub } from './node-status-hub.ts';

let cluster: TestCluster;
let hub: NodeStatusHub;

beforeAll(async () => {
  cluster = await startTestCluster({ crds: [] });
  // Short watches, so that the test also crosses watches the server ends and the hub resumes.
  hub = new NodeStatusHub(
    () => {
      const config = new KubeConfig();
      config.loadFromFile(cluster.plane.kubeconfig);
      return config;
    },
    { watchTimeoutSeconds: 2, maxBackoffMs: 60_000 },
  );
}, 600_000);

afterAll(async () => {
  await hub?.close();
  await cluster?.down();
});

function status(health: NodeAgentStatus['health'], heartbeatAt = new Date().toISOString()): NodeAgentStatus {
  return {
    agentVersion: '1.0.0-test',
    health,
    problems: health === 'Degraded' ? ['1 of 3 BGP sessions are not established'] : [],
    address: '10.240.1.11/24',
    pools: [{ name: 'default-ipv4-ippool', cidr: '192.168.0.0/16', mode: 'IPIP Always' }],
    datastore: { connected: true },
    bgp: { running: true, asn: 64512, established: health === 'Ready' ? 3 : 2, total: 3, listed: 'all', sessions: [] },
    dataplane: { inSync: true, lastPassAt: heartbeatAt, lastPassMs: 9, problems: [] },
    changedAt: heartbeatAt,
    heartbeatAt,
  };
}

const ref = (name: string) => ({ apiVersion: nodeAgentStatusKind.apiVersion, kind: nodeAgentStatusKind.kind, metadata: { name } });

/** One renderer's view: the contract's events, checked as the transports check them, applied in order. */
function renderer() {
  const events: Array<{ event: EventName; payload: unknown }> = [];
  const held = new Map<string, NodeStatusEntry>();
  let building: Map<string, NodeStatusEntry> | undefined;
  let watch: EventPayload<'nodeStatus.delta'>['watch'] | undefined;
  const emit = <E extends EventName>(event: E, payload: EventPayload<E>) => {
    eventFrame(event, payload);
    events.push({ event, payload });
    if (event === 'nodeStatus.snapshot') {
      const p = payload as EventPayload<'nodeStatus.snapshot'>;
      if (p.first) building = new Map();
      for (const e of p.statuses) building!.set(e.node, e);
      if (p.last) {
        held.clear();
        for (const [k, v] of building!) held.set(k, v);
      }
      watch = p.watch;
    } else if (event === 'nodeStatus.delta') {
      const p = payload as EventPayload<'nodeStatus.delta'>;
      for (const name of p.deleted) held.delete(name);
      for (const e of p.upserted) held.set(e.node, e);
      watch = p.watch;
    }
  };
  return { events, held, emit, watch: () => watch };
}

describe("the console's watch of the agents' status", () => {
  it('says that a cluster has no GinghamNodeStatus kind, and lists at once when woken once it has', async () => {
    const view = renderer();
    const client = hub.client(view.emit);
    await client.handlers['nodeStatus.subscribe']({ context: 'test' });
    const missing = await eventually(() => (view.watch()?.missing ? view.watch() : undefined), 10_000, 'the kind reported missing');
    expect(missing).toMatchObject({ connected: false, synced: false, error: expect.stringMatching(/no GinghamNodeStatus kind/) });

    // Let the backoff grow (0.1, 0.2, ... 6.4 s): the next retry on its own is then seconds away.
    await new Promise((r) => setTimeout(r, 6500));
    await cluster.apply([nodeAgentStatusCrd()]);
    await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=30s', `crd/${nodeAgentStatusKind.plural}.gingham.io`]);
    // Subscribing again is what retries at once.
    const t0 = Date.now();
    await client.handlers['nodeStatus.subscribe']({ context: 'test' });
    await eventually(() => (view.watch()?.synced ? true : undefined), 10_000, 'the first list');
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(view.watch()).toEqual({ connected: true, synced: true, missing: false });
    client.close();
  }, 120_000);

  it('sees a status written, changed and deleted, as one full state and then deltas, across watches the server ends', async () => {
    const view = renderer();
    const client = hub.client(view.emit);
    await cluster.admin.create({ ...ref('worker-1'), status: status('Starting') });
    await client.handlers['nodeStatus.subscribe']({ context: 'test' });
    await eventually(() => view.held.get('worker-1'), 10_000, 'worker-1 in the full state');
    expect(view.events[0]?.event).toBe('nodeStatus.snapshot');
    expect(view.held.get('worker-1')).toMatchObject({ stale: false, status: { health: 'Starting', pools: [{ mode: 'IPIP Always' }] } });

    // Past two ends of the server's watch (2 s each), the changes still arrive, once each.
    await new Promise((r) => setTimeout(r, 4500));
    const stored = (await cluster.admin.get<{ metadata: { name: string; resourceVersion: string } }>(ref('worker-1')))!;
    await cluster.admin.replace({ ...ref('worker-1'), metadata: stored.metadata, status: status('Degraded') });
    const degraded = await eventually(() => (view.held.get('worker-1')?.status?.health === 'Degraded' ? view.held.get('worker-1') : undefined), 10_000, 'the change');
    expect(degraded).toMatchObject({ status: { problems: ['1 of 3 BGP sessions are not established'], bgp: { established: 2, total: 3 } } });

    await cluster.admin.create({ ...ref('worker-2'), status: status('Ready', new Date(Date.now() - (staleAfterSeconds + 30) * 1000).toISOString()) });
    const old = await eventually(() => view.held.get('worker-2'), 10_000, 'worker-2');
    expect(old.stale).toBe(true);

    await cluster.admin.delete(ref('worker-1'));
    await eventually(() => (view.held.has('worker-1') ? undefined : true), 10_000, 'the deletion');
    expect([...view.held.keys()]).toEqual(['worker-2']);

    // Every delta after the full state named one object: the resumed watches sent nothing twice.
    const deltas = view.events.filter((e) => e.event === 'nodeStatus.delta').map((e) => e.payload as EventPayload<'nodeStatus.delta'>);
    const changes = deltas.flatMap((d) => [...d.upserted.map((u) => `+${u.node} ${u.status?.health}`), ...d.deleted.map((n) => `-${n}`)]);
    expect(changes.filter((c) => c !== '+worker-1 Starting')).toEqual(['+worker-1 Degraded', '+worker-2 Ready', '-worker-1']);
    expect(hub.current('test')?.map((e) => e.node)).toEqual(['worker-2']);
    client.close();
  }, 120_000);
});
