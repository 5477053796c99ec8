// The console's scale bed (#21): a real kube-apiserver (lab/testing/test-cluster.ts) holding N
// Node objects (addresses, zone labels, Ready) spread over subnets and zones, an IPPool, and a
// GinghamNodeStatus per node written by a simulated agent through the agent's own publisher
// (agent/status/: NodeStatusPublisher, compactStatus), each with a token bound to its Node as
// bench/status-scale.ts does, so that every write passes the admission policy as on a cluster.
// The nodes form a node-to-node mesh; `failing` nodes have BGP blocked (their sessions and every
// other node's sessions to them are not established, so each agent lists them: with 20 failing
// nodes among 500, about 10,000 listed sessions). Updates stream at `changesPerSecond`: a node in
// turn meets a failed kernel change (Degraded) and clears it on its next turn, beside the
// agents' own heartbeats. What the console's e2e test and bench/console-scale.ts open the console on.
import { CoreV1Api, KubeConfig, type V1Node } from '@kubernetes/client-node';
import pino from 'pino';
import type { AgentStatus } from '../../shared/api/agent-contract.ts';
import { calicoCrds } from '../../shared/model/crds.ts';
import { KubeClient } from '../../agent/datastore/kube-client.ts';
import { mintAgentCredential } from '../../agent/manifests/credential.ts';
import { agentManifests } from '../../agent/manifests/manifests.ts';
import { compactStatus } from '../../agent/status/compact-status.ts';
import { NodeStatusPublisher, type StatusContent } from '../../agent/status/node-status-publisher.ts';
import { ipPool, startTestCluster, type TestCluster } from './test-cluster.ts';

export interface StatusBedOptions {
  nodes: number;
  /** Subnets the nodes are spread over (contiguous runs of nodes), each a /24 of 10.240.0.0/16. */
  subnets?: number;
  /** Zones the subnets are spread over (topology.kubernetes.io/zone). */
  zones?: number;
  /** Nodes whose BGP is blocked (the last ones). */
  failing?: number;
  /** Status changes a second across the cluster, besides the heartbeats; 0 for none. */
  changesPerSecond?: number;
  ipipMode?: 'Always' | 'CrossSubnet' | 'Never';
  progress?: (line: string) => void;
}

export interface StatusBed {
  cluster: TestCluster;
  names: string[];
  /** The nodes' addresses, by name. */
  addresses: Map<string, string>;
  /** Sessions the agents list in all (those not established, plus every session of a node with few). */
  listedSessions: number;
  /** Each listed session as node and peer node: what the BGP peers view's table of every session holds. */
  sessionRows: Array<{ node: string; peer: string }>;
  /** Writes so far by all publishers. */
  writes(): number;
  /** Stops the changes (the heartbeats go on). */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

const since = '2026-12-07T09:00:00.000Z';

export async function startStatusBed(options: StatusBedOptions): Promise<StatusBed> {
  const n = options.nodes;
  const subnets = Math.max(1, Math.min(options.subnets ?? 1, n));
  const zones = Math.max(1, Math.min(options.zones ?? 1, subnets));
  const failing = Math.min(options.failing ?? 0, n);
  const say = options.progress ?? (() => undefined);
  const names = Array.from({ length: n }, (_, i) => `node-${String(i + 1).padStart(3, '0')}`);
  const perSubnet = Math.ceil(n / subnets);
  const subnetOf = (i: number) => Math.floor(i / perSubnet);
  const address = (i: number) => `10.240.${subnetOf(i) + 1}.${(i % perSubnet) + 10}`;
  const zoneOf = (i: number) => `zone-${String.fromCharCode(97 + (subnetOf(i) % zones))}`;
  const isFailing = (i: number) => i >= n - failing;

  say(`starting a control plane for ${n} nodes`);
  const cluster = await startTestCluster({ crds: calicoCrds() });
  const publishers: NodeStatusPublisher[] = [];
  let ticker: NodeJS.Timeout | undefined;
  try {
    await cluster.apply(agentManifests());
    await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
    await cluster.apply([ipPool('default-ipv4-ippool', { cidr: '192.168.0.0/16', ipipMode: options.ipipMode ?? 'CrossSubnet', vxlanMode: 'Never', natOutgoing: true })]);

    say(`registering ${n} nodes over ${subnets} subnets in ${zones} zones`);
    const admin = new KubeConfig();
    admin.loadFromFile(cluster.plane.kubeconfig);
    const core = admin.makeApiClient(CoreV1Api);
    await inBatches(names, 25, async (name, i) => {
      const node: V1Node = {
        metadata: {
          name,
          labels: { 'kubernetes.io/hostname': name, 'topology.kubernetes.io/zone': zoneOf(i), ...(i === 0 ? { 'node-role.kubernetes.io/control-plane': '' } : { 'node-role.kubernetes.io/worker': '' }) },
          annotations: { 'projectcalico.org/IPv4Address': `${address(i)}/24` },
        },
      };
      const created = await core.createNode({ body: node });
      // What a kubelet reports: the node's address and that it is Ready.
      created.status = {
        addresses: [
          { type: 'InternalIP', address: address(i) },
          { type: 'Hostname', address: name },
        ],
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: new Date(), lastTransitionTime: new Date() }],
      };
      await core.replaceNodeStatus({ name, body: created });
    });

    say(`minting ${n} tokens, each bound to its Node`);
    const clients: KubeClient[] = [];
    await inBatches(names, 25, async (name, i) => {
      const config = new KubeConfig();
      config.loadFromString((await mintAgentCredential(admin, 3600, name)).kubeconfig);
      clients[i] = new KubeClient(config);
    });

    // Each node's whole status as its agent's RPC gives it; its compact form is computed once per change.
    const failure: boolean[] = names.map(() => false);
    const version: number[] = names.map(() => 0);
    const computed = new Map<number, { version: number; content: StatusContent }>();
    const agentStatus = (i: number): AgentStatus =>
      ({
        node: names[i]!,
        address: `${address(i)}/24`,
        datastore: { synced: true, connected: true },
        bgp: {
          running: true,
          asn: 64512,
          peers: names.flatMap((_, j) => {
            if (j === i) return [];
            const down = isFailing(i) || isFailing(j);
            return [{ address: address(j), type: 'node-to-node mesh', since, state: down ? 'start' : 'up', info: down ? 'Active Socket: Connection refused' : 'Established' }];
          }),
        },
        dataplane: { changes: 0, failures: failure[i] ? [{ command: `route replace 192.168.${i % 250}.0/26 via ${address(i)} dev tunl0 onlink`, error: 'Network is unreachable' }] : [], ms: 8 + (i % 7) },
        state: { pools: [{ name: 'default-ipv4-ippool', cidr: '192.168.0.0/16', ipipMode: options.ipipMode ?? 'CrossSubnet', vxlanMode: 'Never' }] },
      }) as unknown as AgentStatus;
    const content = (i: number): StatusContent => {
      const kept = computed.get(i);
      if (kept && kept.version === version[i]) return kept.content;
      const fresh = compactStatus(agentStatus(i), '1.0.0-scale-bed', { current: !failure[i], at: new Date().toISOString() });
      computed.set(i, { version: version[i]!, content: fresh });
      return fresh;
    };
    const log = pino({ level: 'error' });
    for (let i = 0; i < n; i++) publishers.push(new NodeStatusPublisher(clients[i]!, names[i]!, () => content(i), log));
    say(`starting ${n} publishers`);
    for (const publisher of publishers) publisher.start();
    const byAddress = new Map(names.map((name, i) => [address(i), name]));
    const sessionRows = names.flatMap((name, i) => content(i).bgp.sessions.map((s) => ({ node: name, peer: byAddress.get(s.address)! })));
    const listedSessions = sessionRows.length;
    // Until every node's first status is stored.
    const deadline = Date.now() + 120_000;
    while (publishers.some((p) => p.stats.writes === 0)) {
      if (Date.now() > deadline) throw new Error(`only ${publishers.filter((p) => p.stats.writes > 0).length} of ${n} simulated agents wrote their status within 120 s`);
      await new Promise((r) => setTimeout(r, 200));
    }

    let paused = false;
    let turn = 0;
    const rate = options.changesPerSecond ?? 0;
    const change = () => {
      if (paused) return;
      const i = turn++ % n;
      failure[i] = !failure[i];
      version[i]!++;
      publishers[i]!.trigger();
    };
    if (rate > 0) ticker = setInterval(change, 1000 / rate);
    say(`${n} simulated agents publishing; ${listedSessions} sessions listed; ${rate} changes/s`);
    return {
      cluster,
      names,
      addresses: new Map(names.map((name, i) => [name, address(i)])),
      listedSessions,
      sessionRows,
      writes: () => publishers.reduce((sum, p) => sum + p.stats.writes, 0),
      pause: () => void (paused = true),
      resume: () => void (paused = false),
      stop: async () => {
        clearInterval(ticker);
        await Promise.all(publishers.map((p) => p.stop()));
        await cluster.down();
      },
    };
  } catch (error) {
    clearInterval(ticker);
    await Promise.all(publishers.map((p) => p.stop()));
    await cluster.down();
    throw error;
  }
}

/** Runs `work` on every item, `width` at a time. */
async function inBatches<T>(items: readonly T[], width: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index]!, index);
      }
    }),
  );
}
