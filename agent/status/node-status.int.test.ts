// The agent's status objects against a real kube-apiserver with the agent's manifests applied:
// GinghamNodeStatus written on change (and only then, but for the heartbeat), CalicoNodeStatus
// filled in as calico-node fills it, and each agent limited to its own node's objects by the
// admission policy, with a token bound to its Node.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, nodeObject, startTestCluster, type TestCluster } from '../../lab/testing/test-cluster.ts';
import type { AgentStatus } from '../../shared/api/agent-contract.ts';
import { nodeAgentStatusKind, type NodeAgentStatusObject } from '../../shared/model/node-agent-status.ts';
import { KubeClient } from '../datastore/kube-client.ts';
import { mintAgentCredential } from '../manifests/credential.ts';
import { agentManifests } from '../manifests/manifests.ts';
import type { RibRoute, SpeakerStatus } from '../bgp/speaker-status.ts';
import { NodeStatusReporting, type StatusSource } from './node-status-reporting.ts';

let cluster: TestCluster;
const clients: Record<string, KubeClient> = {};
const log = pino({ level: 'silent' });

async function credential(node: string | undefined): Promise<KubeClient> {
  const admin = new KubeConfig();
  admin.loadFromFile(cluster.plane.kubeconfig);
  const file = path.join(cluster.dir, `agent-${node ?? 'unbound'}.kubeconfig`);
  writeFileSync(file, (await mintAgentCredential(admin, 3600, node)).kubeconfig, { mode: 0o600 });
  return KubeClient.fromKubeconfigFile(file);
}

beforeAll(async () => {
  cluster = await startTestCluster({ crds: [] });
  await cluster.apply(agentManifests());
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd', '--all']);
  await cluster.apply([nodeObject('worker-1', '10.240.1.11/24'), nodeObject('worker-2', '10.240.1.12/24')]);
  clients['worker-1'] = await credential('worker-1');
  clients.unbound = await credential(undefined);
}, 300_000);
afterAll(() => cluster?.down());

/** An agent's status as `NodeAgent.status()` gives it, with `peers` BGP sessions (state up/start, info as BIRD words it). */
function agentStatus(peers: Array<{ address: string; state: string; info?: string }>): AgentStatus {
  return {
    node: 'worker-1',
    address: '10.240.1.11/24',
    datastore: { synced: true, connected: true },
    bgp: { running: true, asn: 64512, peers: peers.map((p) => ({ ...p, type: 'node-to-node mesh', since: '2026-12-03T09:00:00.000Z' })) },
    dataplane: { changes: 3, failures: [], ms: 12 },
  } as AgentStatus;
}

const speakerStatus = {
  routerId: '10.240.1.11',
  since: '2026-12-03T09:00:00.000Z',
  peers: [{ address: '10.240.1.12', type: 'node-to-node mesh', state: 'up', info: 'Established', since: '2026-12-03T09:00:05.000Z' }],
} as unknown as SpeakerStatus;
const rib: RibRoute[] = [{ prefix: '192.168.2.0/26', paths: [{ best: true, from: '10.240.1.12', nextHop: '10.240.1.12', asPath: '', origin: 'IGP', localPref: 100, stale: false }] }];

function source(status: () => AgentStatus): StatusSource {
  return {
    status,
    pass: () => ({ current: true, at: new Date().toISOString() }),
    speaker: () => ({ status: () => speakerStatus, routes: () => ({ routes: rib }) }),
    kernelRoutes: async () => [
      { destination: '192.168.2.0', gateway: '10.240.1.12', genmask: '255.255.255.192', flags: 'UG', metric: 0, iface: 'tunl0', protocol: 12, owner: null, ginghams: false },
      { destination: '10.240.1.0', gateway: '0.0.0.0', genmask: '255.255.255.0', flags: 'U', metric: 0, iface: 'ens5', protocol: 2, owner: null, ginghams: false },
    ],
  };
}

const readStatus = async (node: string) =>
  (await cluster.admin.get<NodeAgentStatusObject>({ apiVersion: nodeAgentStatusKind.apiVersion, kind: nodeAgentStatusKind.kind, metadata: { name: node } }))?.status;

describe("the node's GinghamNodeStatus", () => {
  it('is written when its content changes, not otherwise, and refreshed by the heartbeat', async () => {
    let peers = [{ address: '10.240.1.12', state: 'start', info: 'Connect Socket: Connection refused' }];
    const reporting = new NodeStatusReporting(clients['worker-1']!, 'worker-1', '9.9.9', source(() => agentStatus(peers)), log, { minIntervalMs: 200, heartbeatMs: 1500, checkMs: 50 });
    reporting.start();
    try {
      const first = await eventually(async () => (await readStatus('worker-1'))?.bgp.sessions[0]?.state === 'Connect' || undefined, 10_000, 'the first status');
      expect(first).toBe(true);
      const stored = (await readStatus('worker-1'))!;
      expect(stored).toMatchObject({ agentVersion: '9.9.9', health: 'Degraded', bgp: { established: 0, total: 1, listed: 'all' }, dataplane: { inSync: true } });
      expect(stored.bgp.sessions[0]?.lastError).toBe('Socket: Connection refused');
      expect(stored.problems).toContain('1 of 1 BGP sessions are not established');

      // Nothing changes for 1 s (20 local checks): no write.
      const writes = reporting.publisher.stats.writes;
      await new Promise((r) => setTimeout(r, 1000));
      expect(reporting.publisher.stats.writes).toBe(writes);

      // The session comes up: written within the rate limit, health Ready.
      const changedAt = Date.now();
      peers = [{ address: '10.240.1.12', state: 'up', info: 'Established' }];
      await eventually(async () => ((await readStatus('worker-1'))?.health === 'Ready' ? true : undefined), 5000, 'the Ready status');
      expect(Date.now() - changedAt).toBeLessThan(1000);
      const ready = (await readStatus('worker-1'))!;

      // The heartbeat refreshes heartbeatAt alone.
      await eventually(async () => ((await readStatus('worker-1'))!.heartbeatAt !== ready.heartbeatAt ? true : undefined), 5000, 'a heartbeat');
      expect((await readStatus('worker-1'))!.changedAt).toBe(ready.changedAt);
    } finally {
      await reporting.stop();
    }
  });

  it("lets an agent write only its own node's status", async () => {
    const object = (node: string) => ({ apiVersion: nodeAgentStatusKind.apiVersion, kind: nodeAgentStatusKind.kind, metadata: { name: node }, status: { agentVersion: 'x', health: 'Ready', heartbeatAt: new Date().toISOString() } });
    await expect(clients['worker-1']!.create(object('worker-2'))).rejects.toThrow(/the agent of node worker-1 may write only its own node's status/);
    await expect(clients.unbound!.create(object('worker-2'))).rejects.toThrow(/not bound to a node/);
    // The admin still may; and worker-1's agent may not overwrite what is there.
    const made = (await cluster.admin.create(object('worker-2'))) as { metadata: { name: string; resourceVersion?: string } };
    await expect(clients['worker-1']!.replace({ ...object('worker-2'), metadata: { name: 'worker-2', resourceVersion: made.metadata.resourceVersion } })).rejects.toThrow(/may write only its own node's status/);
  });
});

describe('CalicoNodeStatus', () => {
  it('is filled in for this node as calico-node fills it, every updatePeriodSeconds, and others are left alone', async () => {
    const mine = { apiVersion: 'crd.projectcalico.org/v1', kind: 'CalicoNodeStatus', metadata: { name: 'debug-worker-1' }, spec: { node: 'worker-1', classes: ['Agent', 'BGP', 'Routes'], updatePeriodSeconds: 1 } };
    const theirs = { ...mine, metadata: { name: 'debug-worker-2' }, spec: { ...mine.spec, node: 'worker-2' } };
    await cluster.apply([mine, theirs]);
    const reporting = new NodeStatusReporting(clients['worker-1']!, 'worker-1', '9.9.9', source(() => agentStatus([])), log);
    reporting.start();
    try {
      const status = await eventually(async () => {
        const text = await cluster.kubectl(['get', 'caliconodestatuses.crd.projectcalico.org', 'debug-worker-1', '-o', 'json']);
        const s = (JSON.parse(text) as { status?: Record<string, unknown> }).status;
        return s?.lastUpdated ? s : undefined;
      }, 10_000, 'the CalicoNodeStatus status');
      expect(status).toMatchObject({
        agent: { birdV4: { state: 'Ready', routerID: '10.240.1.11', version: 'gingham-agent 9.9.9', lastBootTime: '2026-12-03 09:00:00' } },
        bgp: { numberEstablishedV4: 1, numberNotEstablishedV4: 0, peersV4: [{ peerIP: '10.240.1.12', type: 'NodeMesh', state: 'Established', since: '09:00:05' }] },
        routes: {
          routesV4: [
            { type: 'FIB', destination: '192.168.2.0/26', gateway: '10.240.1.12', interface: 'tunl0', learnedFrom: { sourceType: 'NodeMesh', peerIP: '10.240.1.12' } },
            { type: 'FIB', destination: '10.240.1.0/24', gateway: 'N/A', interface: 'ens5', learnedFrom: { sourceType: 'Direct' } },
          ],
        },
      });
      // Updated again within its period.
      const first = status.lastUpdated as string;
      await eventually(async () => {
        const s = JSON.parse(await cluster.kubectl(['get', 'caliconodestatuses.crd.projectcalico.org', 'debug-worker-1', '-o', 'json'])) as { status: { lastUpdated: string } };
        return s.status.lastUpdated !== first ? true : undefined;
      }, 5000, 'a second update');
      const other = JSON.parse(await cluster.kubectl(['get', 'caliconodestatuses.crd.projectcalico.org', 'debug-worker-2', '-o', 'json'])) as { status?: unknown };
      expect(other.status).toBeUndefined();
      // And worker-1's agent may not write it even if it tried.
      const stored = JSON.parse(await cluster.kubectl(['get', 'caliconodestatuses.crd.projectcalico.org', 'debug-worker-2', '-o', 'json'])) as { metadata: { name: string; resourceVersion: string } };
      await expect(clients['worker-1']!.replaceStatus({ ...theirs, metadata: stored.metadata, status: { lastUpdated: 'x' } })).rejects.toThrow(/may write only its own node's status/);
    } finally {
      await reporting.stop();
    }
  });
});
