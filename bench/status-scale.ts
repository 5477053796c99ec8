// What N agents' published status costs the API server (#21): N simulated agents, each with its own
// token bound to its Node (so that every write passes the admission policy that confines an agent
// to its own node, as on a real cluster), publish their GinghamNodeStatus through the agent's own
// code (agent/status/: NodeStatusPublisher with its defaults, the content from compactStatus)
// into a real kube-apiserver started for the run (lab/controlplane, on 127.0.0.1), first at rest
// (heartbeats, the agents' starts spread over one heartbeat as on a cluster that has run a while),
// then through a mode switch (every node sees the pool change within 0.5 s, then finishes its
// pass 0.05-1 s later: two changes each, which the publisher's rate limit may merge). The peer,
// at the same N: CalicoNodeStatus as calico-node keeps it (classes Agent, BGP and Routes, a full
// mesh, updatePeriodSeconds 10), the status written by the agent's own calico-node-compatible
// function (shared/model/calico-node-status.ts) every period per node, spread over the period.
// Printed for each: writes/s, request bytes/s (the JSON bodies sent), and the objects' bytes at
// rest (summed as the server returns them, managedFields included), with the server's own
// request counts from its /metrics beside the client's.
// `npm run -s bench -- status-scale [--nodes 500] [--rest-s 120] [--calico-s 60] [--calico-period-s 10]`
// No root, no lab: its own control plane in a temporary folder (the binaries are built on first use).
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { nodeObject, startTestCluster, type TestCluster } from '../lab/testing/test-cluster.ts';
import type { AgentStatus } from '../shared/api/agent-contract.ts';
import { calicoNodeStatus, type NodeStatusFacts } from '../shared/model/calico-node-status.ts';
import { heartbeatSeconds, nodeAgentStatusKind } from '../shared/model/node-agent-status.ts';
import { KubeClient } from '../agent/datastore/kube-client.ts';
import { mintAgentCredential } from '../agent/manifests/credential.ts';
import { agentManifests } from '../agent/manifests/manifests.ts';
import { compactStatus } from '../agent/status/compact-status.ts';
import { NodeStatusPublisher } from '../agent/status/node-status-publisher.ts';
import { benchArgs } from './support/options.ts';
import { loadText } from './support/summary.ts';

const usage = 'npm run -s bench -- status-scale [--nodes 500] [--rest-s 120] [--calico-s 60] [--calico-period-s 10]';
const args = benchArgs(
  { nodes: { type: 'string', default: '500' }, 'rest-s': { type: 'string', default: '120' }, 'calico-s': { type: 'string', default: '60' }, 'calico-period-s': { type: 'string', default: '10' } },
  usage,
);
const n = Math.max(2, Math.floor(args.number('nodes')));
const restSeconds = args.number('rest-s');
const calicoSeconds = args.number('calico-s');
const calicoPeriod = args.number('calico-period-s');
const heartbeatMs = heartbeatSeconds * 1000;

const say = (line: string) => console.error(`status-scale: ${line}`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const names = Array.from({ length: n }, (_, i) => `node-${String(i + 1).padStart(3, '0')}`);
/** Node i's address: 10.240.0.0/16 has room for 65k nodes. */
const address = (i: number) => `10.240.${Math.floor((i + 1) / 250)}.${((i + 1) % 250) + 1}`;
const block = (i: number) => `192.168.${Math.floor(i / 4)}.${(i % 4) * 64}/26`;

/** Node i's whole status as the agent's RPC gives it: a full mesh, all established, IPIP as `mode` says. */
function agentStatus(i: number, mode: 'Always' | 'CrossSubnet'): AgentStatus {
  const since = '2026-12-04T09:00:00.000Z';
  return {
    node: names[i]!,
    address: `${address(i)}/16`,
    datastore: { synced: true, connected: true },
    bgp: { running: true, asn: 64512, peers: names.flatMap((_, j) => (j === i ? [] : [{ address: address(j), state: 'up', info: 'Established', type: 'node-to-node mesh', since }])) },
    dataplane: { changes: 0, failures: [], ms: 8 + (i % 7) },
    state: { pools: [{ name: 'default-ipv4-ippool', cidr: '192.168.0.0/16', ipipMode: mode, vxlanMode: 'Never' }] },
  } as unknown as AgentStatus;
}

/** What the server counted, from its /metrics: requests by verb for a resource, and their body bytes if it says. */
async function serverCounts(cluster: TestCluster, resource: string): Promise<{ writes: number; bodyBytes: number | undefined }> {
  const text = await cluster.kubectl(['get', '--raw', '/metrics']);
  let writes = 0;
  let bodyBytes: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.includes(`resource="${resource}"`)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('apiserver_request_total{') && /verb="(PUT|POST|PATCH)"/.test(line)) writes += value;
    if (line.startsWith('apiserver_request_body_size_bytes_sum{') && /verb="(update|create|patch)"/i.test(line)) bodyBytes = (bodyBytes ?? 0) + value;
  }
  return { writes, bodyBytes };
}

/** The objects of a kind as the server returns them: their summed JSON size, and the status part alone. */
async function atRest(cluster: TestCluster, resource: string): Promise<{ objects: number; bytes: number; statusBytes: number }> {
  const list = JSON.parse(await cluster.kubectl(['get', resource, '-o', 'json'])) as { items: Array<{ status?: unknown }> };
  return {
    objects: list.items.length,
    bytes: list.items.reduce((sum, item) => sum + JSON.stringify(item).length, 0),
    statusBytes: list.items.reduce((sum, item) => sum + JSON.stringify(item.status ?? {}).length, 0),
  };
}

interface Figures {
  seconds: number;
  writes: number;
  bytes: number;
  serverWrites: number;
  serverBytes: number | undefined;
  peakPerSecond: number;
}

/** Counts what `total()` (writes, bytes) grows by over `run()`, in 1 s buckets, and what the server counted meanwhile. */
async function measure(cluster: TestCluster, resource: string, total: () => { writes: number; bytes: number }, run: () => Promise<void>): Promise<Figures> {
  const server0 = await serverCounts(cluster, resource);
  const start = total();
  const t0 = Date.now();
  let last = start.writes;
  let peak = 0;
  const ticker = setInterval(() => {
    const now = total().writes;
    peak = Math.max(peak, now - last);
    last = now;
  }, 1000);
  await run();
  clearInterval(ticker);
  const seconds = (Date.now() - t0) / 1000;
  const end = total();
  const server1 = await serverCounts(cluster, resource);
  return {
    seconds,
    writes: end.writes - start.writes,
    bytes: end.bytes - start.bytes,
    serverWrites: server1.writes - server0.writes,
    serverBytes: server0.bodyBytes !== undefined && server1.bodyBytes !== undefined ? server1.bodyBytes - server0.bodyBytes : undefined,
    peakPerSecond: peak,
  };
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const rate = (f: Figures) => `${(f.writes / f.seconds).toFixed(2)} writes/s (server: ${(f.serverWrites / f.seconds).toFixed(2)}), peak ${f.peakPerSecond}/s, ${kb(f.bytes / f.seconds)}/s sent${f.serverBytes !== undefined ? ` (server: ${kb(f.serverBytes / f.seconds)}/s)` : ''}, over ${f.seconds.toFixed(0)} s`;

let cluster: TestCluster | undefined;
try {
  say(`starting a control plane; ${n} nodes`);
  cluster = await startTestCluster({ crds: [] });
  await cluster.apply(agentManifests());
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  for (let i = 0; i < n; i += 100) await cluster.apply(names.slice(i, i + 100).map((name, k) => nodeObject(name, `${address(i + k)}/16`)));
  say(`minting ${n} tokens, each bound to its Node`);
  const admin = new KubeConfig();
  admin.loadFromFile(cluster.plane.kubeconfig);
  const clients: KubeClient[] = [];
  for (const name of names) {
    const config = new KubeConfig();
    config.loadFromString((await mintAgentCredential(admin, 3600, name)).kubeconfig);
    clients.push(new KubeClient(config));
  }
  const log = pino({ level: 'warn' });

  // ---- GinghamNodeStatus -----------------------------------------------------------------------
  const mode: Array<'Always' | 'CrossSubnet'> = names.map(() => 'Always');
  const passDone: boolean[] = names.map(() => true);
  const passAt: string[] = names.map(() => new Date().toISOString());
  const publishers = names.map(
    (name, i) => new NodeStatusPublisher(clients[i]!, name, () => compactStatus(agentStatus(i, mode[i]!), '1.0.0-bench', { current: passDone[i]!, at: passAt[i]! }), log),
  );
  const published = () => publishers.reduce((t, p) => ({ writes: t.writes + p.stats.writes, bytes: t.bytes + p.stats.bytes, failures: t.failures + p.stats.failures }), { writes: 0, bytes: 0, failures: 0 });
  say(`starting ${n} publishers spread over one heartbeat (${heartbeatSeconds} s), as agents that started at different times`);
  for (let i = 0; i < n; i++) {
    publishers[i]!.start();
    await sleep(heartbeatMs / n);
  }
  await sleep(2000);
  const rest = await measure(cluster, nodeAgentStatusKind.plural, published, () => sleep(restSeconds * 1000));
  const stored = await atRest(cluster, `${nodeAgentStatusKind.plural}.gingham.io`);
  say(`at rest: ${rate(rest)}`);

  say('mode switch: IPIP Always -> CrossSubnet on every node');
  const switched = await measure(cluster, nodeAgentStatusKind.plural, published, async () => {
    await Promise.all(
      names.map(async (_, i) => {
        await sleep(Math.random() * 500); // the pool change reaching each agent's watch
        mode[i] = 'CrossSubnet';
        passDone[i] = false;
        publishers[i]!.trigger();
        await sleep(50 + Math.random() * 950); // its pass
        passDone[i] = true;
        passAt[i] = new Date().toISOString();
        publishers[i]!.trigger();
      }),
    );
    // Until the rate limit has let the last change out (1 s), and a little.
    await sleep(2500);
  });
  const check = JSON.parse(await cluster.kubectl(['get', `${nodeAgentStatusKind.plural}.gingham.io`, '-o', 'json'])) as { items: Array<{ status: { pools: Array<{ mode: string }>; dataplane: { inSync: boolean } } }> };
  const done = check.items.filter((item) => item.status.pools[0]?.mode === 'IPIP CrossSubnet' && item.status.dataplane.inSync).length;
  say(`switch: ${rate(switched)}; ${done} of ${n} stored in the new mode, in sync`);
  const failures = published().failures;
  await Promise.all(publishers.map((p) => p.stop()));

  // ---- CalicoNodeStatus, as calico-node keeps it ------------------------------------------------
  say(`CalicoNodeStatus: ${n} objects (Agent, BGP, Routes), updatePeriodSeconds ${calicoPeriod}`);
  const calicoKind = { apiVersion: 'crd.projectcalico.org/v1', kind: 'CalicoNodeStatus' };
  for (let i = 0; i < n; i += 100) {
    await cluster.apply(names.slice(i, i + 100).map((name) => ({ ...calicoKind, metadata: { name: `status-${name}` }, spec: { node: name, classes: ['Agent', 'BGP', 'Routes'], updatePeriodSeconds: calicoPeriod } })));
  }
  const calicoTotals = { writes: 0, bytes: 0 };
  const versions = new Map<string, string>();
  const facts = (i: number): NodeStatusFacts => {
    const since = '2026-12-04T09:00:00.000Z';
    return {
      agentVersion: '1.0.0-bench',
      speaker: { routerId: address(i), since, peers: names.flatMap((_, j) => (j === i ? [] : [{ address: address(j), type: 'node-to-node mesh', state: 'up', info: 'Established', since }])) },
      routes: [
        ...names.flatMap((_, j) => (j === i ? [] : [{ destination: block(j), gateway: address(j), interface: 'tunl0', installed: true, source: 'NodeMesh' as const, peerIP: address(j) }])),
        { destination: '10.240.0.0/16', interface: 'ens5', installed: true, source: 'Direct' as const },
        { destination: '0.0.0.0/0', gateway: '10.240.0.1', interface: 'ens5', installed: true, source: 'Kernel' as const },
      ],
      now: new Date().toISOString(),
    };
  };
  const writeCalico = async (i: number) => {
    const name = `status-${names[i]}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const resourceVersion = versions.get(name) ?? (await cluster!.admin.get<{ metadata: { resourceVersion: string } }>({ ...calicoKind, metadata: { name } }))!.metadata.resourceVersion;
      const body = { ...calicoKind, metadata: { name, resourceVersion }, spec: { node: names[i], classes: ['Agent', 'BGP', 'Routes'], updatePeriodSeconds: calicoPeriod }, status: calicoNodeStatus(['Agent', 'BGP', 'Routes'], facts(i)) };
      try {
        const stored = await clients[i]!.replaceStatus<{ metadata: { resourceVersion: string } }>(body);
        versions.set(name, stored.metadata.resourceVersion);
        calicoTotals.writes++;
        calicoTotals.bytes += JSON.stringify(body).length;
        return;
      } catch {
        versions.delete(name);
      }
    }
  };
  let running = true;
  const loops = names.map(async (_, i) => {
    await sleep((i / n) * calicoPeriod * 1000);
    while (running) {
      const began = Date.now();
      await writeCalico(i);
      await sleep(Math.max(0, calicoPeriod * 1000 - (Date.now() - began)));
    }
  });
  // One period for every node to have written once, then the window.
  await sleep(calicoPeriod * 1000 + 1000);
  const calico = await measure(cluster, 'caliconodestatuses', () => ({ ...calicoTotals }), () => sleep(calicoSeconds * 1000));
  running = false;
  await Promise.all(loops);
  const calicoStored = await atRest(cluster, 'caliconodestatuses.crd.projectcalico.org');
  say(`CalicoNodeStatus: ${rate(calico)}`);

  // ---- the table ---------------------------------------------------------------------------------
  const per = (bytes: number, objects: number) => kb(bytes / Math.max(1, objects));
  console.log(`\nStatus objects of ${n} nodes in one kube-apiserver (load ${loadText()}); client-side bytes are the JSON bodies sent\n`);
  console.log('| | writes/s | peak writes/s | request KiB/s | at rest, all objects | per object (status alone) |');
  console.log('|---|---|---|---|---|---|');
  const row = (what: string, f: Figures, s: { objects: number; bytes: number; statusBytes: number } | undefined) =>
    console.log(`| ${what} | ${(f.writes / f.seconds).toFixed(2)} (server ${(f.serverWrites / f.seconds).toFixed(2)}) | ${f.peakPerSecond} | ${(f.bytes / f.seconds / 1024).toFixed(1)} | ${s ? kb(s.bytes) : '-'} | ${s ? `${per(s.bytes, s.objects)} (${per(s.statusBytes, s.objects)})` : '-'} |`);
  row(`GinghamNodeStatus at rest (heartbeat ${heartbeatSeconds} s), ${rest.seconds.toFixed(0)} s`, rest, stored);
  row(`GinghamNodeStatus, mode switch on every node, ${switched.seconds.toFixed(1)} s`, switched, undefined);
  row(`CalicoNodeStatus (calico-node), Agent+BGP+Routes every ${calicoPeriod} s, ${calico.seconds.toFixed(0)} s`, calico, calicoStored);
  console.log(`\nmode switch: ${switched.writes} writes for ${n} nodes (${(switched.writes / n).toFixed(2)} per node), ${done} of ${n} stored switched and in sync; publisher failures ${failures}`);
  console.log(`CalicoNodeStatus at the same N costs ${(calico.writes / calico.seconds / Math.max(rest.writes / rest.seconds, 0.001)).toFixed(1)}x the writes and ${(calico.bytes / calico.seconds / Math.max(rest.bytes / rest.seconds, 1)).toFixed(0)}x the request bytes of GinghamNodeStatus at rest, and ${(calicoStored.bytes / Math.max(stored.bytes, 1)).toFixed(1)}x its bytes at rest`);
} finally {
  await cluster?.down();
}
// The clients' kept-alive connections would hold the process open.
process.exit(process.exitCode ?? 0);
