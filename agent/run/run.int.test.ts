// Three `gingham-agent run` processes, each in its own node namespace, against a real
// kube-apiserver, with the agent's least-privilege token. node-1 and node-2 share a subnet,
// node-3 sits in another behind a router namespace. Full BGP mesh, distinct blocks, routes
// programmed; a node joining and leaving changes the speaker's peers without disturbing the
// established sessions; pool mode switches through the API (CrossSubnet across the router among
// them) reach every node's routes with no stale routes, timed; natOutgoing masquerades pod
// traffic to an outside address to the node's address, seen on the wire, and stops when switched
// off; a 30 s API-server outage leaves the dataplane untouched and the agents resync; pods
// plumbed by the CNI plugin reach each other across the subnets.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlPlaneUp } from '../../lab/controlplane/controlplane.ts';
import { ginghamRouteProtocol } from '../../shared/dataplane-plan/index.ts';
import { runPlugin } from '../cni/testing/runtime.ts';
import { BatchProcess } from '../dataplane/kernel/batch-process.ts';
import { eventually, ipPool, startTestCluster, type TestCluster } from '../../lab/testing/test-cluster.ts';
import { NodeNetwork } from '../../lab/testing/node-network.ts';
import { mintAgentCredential } from '../manifests/credential.ts';
import { nodeAgentStatusKind, type NodeAgentStatusObject } from '../../shared/model/node-agent-status.ts';
import { agentManifests } from '../manifests/manifests.ts';
import { callRpc } from '../rpc/client.ts';
import { AgentProcess, type AgentStatus } from './testing/agents.ts';

let network: NodeNetwork;
let cluster: TestCluster;
let agents: AgentProcess[] = [];
const dir = mkdtempSync(path.join(os.tmpdir(), 'gk8s-run-'));
let agentKubeconfig: string;
const measured: Record<string, number> = {};
/** Which node holds each block (known once the agents claimed them). */
const owner = new Map<string, string>();
const subnetOf = (node: string) => (node === 'node-3' ? 'B' : 'A');

interface Route {
  dst: string;
  dev?: string;
  gateway?: string;
  type?: string;
}

// One long-lived `ip -n NODE -batch` per node: polling every 10 ms costs a round trip, not an
// `ip netns exec` (a new mount namespace and process each time, hundreds of ms on a loaded machine).
const readers = new Map<string, BatchProcess>();

async function routesOf(netns: string): Promise<Route[]> {
  let reader = readers.get(netns);
  if (!reader) readers.set(netns, (reader = new BatchProcess('ip', ['-n', netns, '-N', '-json'])));
  return (await reader.read([`route show proto ${ginghamRouteProtocol}`]))[0] as Route[];
}

/** Every node's Gingham routes to other nodes' blocks, as `owner dev` (blackholes, which have no device, and local pods' /32s on their veths aside). */
async function remoteRoutes(): Promise<string[][]> {
  return Promise.all(
    network.nodes.map(async (node) =>
      (await routesOf(node.netns)).filter((r) => r.dev !== undefined && !r.dev.startsWith('cali') && !r.dst.endsWith('/32')).map((r) => `${owner.get(r.dst) ?? r.dst} ${r.dev}`).sort(),
    ),
  );
}

/** Changes the pool through the API (as the console does); returns when the request was sent. */
async function patchPool(spec: Record<string, unknown>): Promise<number> {
  const started = Date.now();
  await cluster.admin.mergePatch({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'default-ipv4-ippool' } }, { spec });
  return started;
}

/** What every node's routes to the others' blocks should be, given the device per pair of nodes. */
function expected(dev: (from: string, to: string) => string): string[][] {
  return network.nodes.map((from) =>
    network.nodes
      .filter((to) => to !== from)
      .map((to) => `${to.name} ${dev(from.name, to.name)}`)
      .sort(),
  );
}

/** Waits until every node routes to every other node's blocks via `dev(from, to)` (and nothing else); returns the ms since `since`. */
async function converge(dev: (from: string, to: string) => string, since: number, timeoutMs: number): Promise<number> {
  const want = JSON.stringify(expected(dev));
  await eventually(async () => (JSON.stringify(await remoteRoutes()) === want ? true : undefined), timeoutMs, `every node routing as ${want}`, 10).catch(async (error: Error) => {
    throw new Error(`${error.message}\nroutes: ${JSON.stringify(await remoteRoutes())}\n${agents.map((a) => a.log.slice(-3000)).join('\n----\n')}`);
  });
  return Date.now() - since;
}
const all = (dev: string) => () => dev;
const crossSubnet = (encapsulated: string) => (from: string, to: string) => (subnetOf(from) === subnetOf(to) ? 'eth0' : encapsulated);

/** The agents' own log lines since `since`, as `node +ms message {fields}`: where a switch spends its time. */
function timeline(since: number): string {
  const lines: Array<[number, string]> = [];
  for (const agent of agents) {
    for (const line of agent.log.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const { time, msg, part, level: _level, pid: _pid, hostname: _host, ...rest } = JSON.parse(line) as { time: number; msg: string; [k: string]: unknown };
        if (time >= since && /desired state|reconciled|BGP|session/.test(msg)) lines.push([time, `  ${agent.node.name} +${time - since} ms ${String(part)}: ${msg} ${JSON.stringify(rest)}`]);
      } catch {
        // not a log line
      }
    }
  }
  return lines.sort((a, b) => a[0] - b[0]).map((l) => l[1]).join('\n');
}

const statuses = () => Promise.all(agents.map((a) => a.status()));

beforeAll(async () => {
  network = await NodeNetwork.create(2, ['node-1', 'node-2', 'node-3'], { subnetB: ['node-3'] });
  cluster = await startTestCluster({ address: network.hostIp, crds: [] });
  await cluster.apply(agentManifests());
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd', '--all']);
  await cluster.apply([
    ...network.nodes.map((n) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name } } })),
    ipPool('default-ipv4-ippool', { cidr: '192.168.0.0/16', ipipMode: 'Always', natOutgoing: true }),
  ]);
  const admin = new KubeConfig();
  admin.loadFromFile(cluster.plane.kubeconfig);
  agentKubeconfig = path.join(dir, 'agent.kubeconfig');
  writeFileSync(agentKubeconfig, (await mintAgentCredential(admin, 3600)).kubeconfig, { mode: 0o600 });
  // Each agent's own credential is bound to its Node, as the installers mint it: it may write its
  // own node's GinghamNodeStatus only.
  agents = await Promise.all(
    network.nodes.map(async (node) => {
      const file = path.join(dir, `${node.name}.kubeconfig`);
      writeFileSync(file, (await mintAgentCredential(admin, 3600, node.name)).kubeconfig, { mode: 0o600 });
      return new AgentProcess(node, dir, file);
    }),
  );
  for (const agent of agents) agent.start();
}, 600_000);

afterAll(async () => {
  for (const reader of readers.values()) reader.close();
  await Promise.all(agents.map((a) => a.stop('SIGUSR2')));
  await cluster?.down();
  await network?.destroy();
  rmSync(dir, { recursive: true, force: true });
  console.log('measured (ms):', JSON.stringify(measured));
});

describe('three agents in two subnets', () => {
  it('reach a full BGP mesh, claim distinct blocks and program routes via tunl0', async () => {
    const ready = await eventually(
      async () => {
        const all = await statuses();
        return all.every((s) => s.bgp.running && s.bgp.peers?.length === 2 && s.bgp.peers.every((p) => p.state === 'up')) ? all : undefined;
      },
      // Three agent processes start on a machine whose two cores run every test tier at once
      // (84 s at load 20, and more on a cold tsx cache).
      150_000,
      'a full mesh',
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${agents.map((a) => a.log.slice(-3000)).join('\n----\n')}`);
    });
    const blocks = ready.map((s) => s.state!.blocks);
    expect(blocks.every((b) => b.length === 1)).toBe(true);
    expect(new Set(blocks.flat()).size).toBe(3);
    ready.forEach((s) => owner.set(s.state!.blocks[0]!, s.node));
    // The tunnel address comes from the node's own block.
    for (const s of ready) expect(s.tunnels.ipip?.startsWith(s.state!.blocks[0]!.split('/')[0]!.split('.').slice(0, 3).join('.'))).toBe(true);
    measured['ipip-initial'] = await converge(all('tunl0'), Date.now(), 10_000);
    const own = await routesOf(network.nodes[0]!.netns);
    // The agent answers `routes` with the reason for each of its routes.
    const rows = await callRpc<Array<{ destination: string; iface: string; owner: { kind: string; node?: string } | null }>>(agents[0]!.control, 'routes');
    const remote = rows.filter((r) => r.owner?.kind === 'remote-block');
    expect(remote.map((r) => [r.iface, r.owner!.node]).sort()).toEqual([
      ['tunl0', 'node-2'],
      ['tunl0', 'node-3'],
    ]);
    // The own block: a blackhole (no device), so addresses no pod holds go nowhere.
    expect(own.filter((r) => r.dst === blocks[0]![0]).map((r) => r.dev)).toEqual([undefined]);
  }, 200_000);

  it('publishes each node’s state in its GinghamNodeStatus, for the console’s one watch', async () => {
    const published = await eventually(async () => {
      const list = (await cluster.admin.list<NodeAgentStatusObject>(nodeAgentStatusKind.apiVersion, nodeAgentStatusKind.kind)).items;
      const ready = list.filter((o) => o.status.health === 'Ready' && o.status.bgp.established === 2 && o.status.dataplane.inSync);
      return ready.length === 3 ? list : undefined;
    }, 30_000, 'three Ready GinghamNodeStatus objects').catch(async (error: Error) => {
      const list = (await cluster.admin.list<NodeAgentStatusObject>(nodeAgentStatusKind.apiVersion, nodeAgentStatusKind.kind)).items;
      const said = agents.map((a) => a.log.split('\n').filter((l) => l.includes('"part":"status"')).slice(-3).join('\n'));
      throw new Error(`${error.message}\npublished: ${JSON.stringify(list.map((o) => ({ name: o.metadata.name, ...o.status })))}\n${said.join('\n')}`);
    });
    expect(published.map((o) => o.metadata.name).sort()).toEqual(['node-1', 'node-2', 'node-3']);
    for (const o of published) {
      expect(o.status!.pools).toEqual([{ name: 'default-ipv4-ippool', cidr: '192.168.0.0/16', mode: 'IPIP Always' }]);
      expect(o.status!.bgp).toMatchObject({ running: true, total: 2, listed: 'all' });
      expect(o.status!.agentVersion).toMatch(/\S/);
    }
  }, 60_000);

  it('changes the speaker’s peers when a node joins and leaves and a BGPPeer comes and goes, without touching established sessions', async () => {
    const sessions = (s: AgentStatus) => Object.fromEntries((s.bgp.peers ?? []).map((p) => [p.address, `${p.state} since ${p.since}`]));
    const before = (await statuses()).map(sessions);
    // A node that registers its address but runs no agent (yet): every agent adds it as a peer.
    const joining = `10.178.${network.id}.14`;
    await cluster.apply([{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-4', annotations: { 'projectcalico.org/IPv4Address': `${joining}/24` } } }]);
    const during = await eventually(async () => {
      const all = await statuses();
      return all.every((s) => s.bgp.peers?.length === 3) ? all : undefined;
    }, 20_000, 'node-4 added as a peer');
    for (const [i, s] of during.entries()) {
      expect(s.bgp.peers!.find((p) => p.address === joining)?.state).not.toBe('up');
      // The sessions with the other two nodes are the same sessions: still up, since the same moment.
      for (const [address, state] of Object.entries(before[i]!)) expect(sessions(s)[address]).toBe(state);
    }
    await cluster.kubectl(['delete', 'node', 'node-4']);
    // A BGPPeer for node-1 only (a top-of-rack router at the router's address), with per-peer settings.
    const tor = `10.178.${network.id}.1`;
    await cluster.apply([
      { apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { node: 'node-1', peerIP: tor, asNumber: 65001, keepaliveTime: '20s', maxRestartTime: '200s' } },
    ]);
    const withTor = await eventually(async () => {
      const speaker = await callRpc<{ peers: Array<{ address: string; asn: number; ebgp: boolean; description?: string }> }>(agents[0]!.control, 'bgp.status');
      return speaker.peers.find((p) => p.address === tor);
    }, 20_000, 'the BGPPeer added to node-1');
    expect(withTor).toMatchObject({ asn: 65001, ebgp: true, description: 'BGPPeer tor' });
    // A BGPPeer whose password Secret the agent may not read: left out, and node-status says why and how to grant it.
    await cluster.apply([
      { apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name: 'locked' }, spec: { node: 'node-1', peerIP: `10.178.${network.id}.2`, asNumber: 65002, password: { secretKeyRef: { name: 'bgp-secrets', key: 'locked' } } } },
    ]);
    // First "reading Secret ...", then, once the API server has refused, why and what to do.
    const leftOut = await eventually(async () => {
      const reason = (await agents[0]!.status()).bgp.leftOut['locked'];
      return reason?.includes('may not read') ? reason : undefined;
    }, 20_000, 'the locked BGPPeer reported as left out for its Secret');
    expect(leftOut).toMatch(/^the agent may not read Secret gingham-system\/bgp-secrets; grant it that one Secret: kubectl -n gingham-system create role/);
    expect((await agents[0]!.status()).bgp.peers?.some((p) => p.address === `10.178.${network.id}.2`)).toBe(false);
    await cluster.kubectl(['delete', 'bgppeers.crd.projectcalico.org', 'locked']);
    await cluster.kubectl(['delete', 'bgppeers.crd.projectcalico.org', 'tor']);
    const after = await eventually(async () => {
      const all = await statuses();
      return all.every((s) => s.bgp.peers?.length === 2) ? all : undefined;
    }, 20_000, 'node-4 and the BGPPeer removed');
    expect(after.map(sessions)).toEqual(before);
    expect(agents.map((a) => a.log).join('\n')).not.toMatch(/restarting the speaker/);
  }, 60_000);

  // The issue's target is one second from the API write to every node's kernel; the figures are
  // printed (and in docs/datastore.md). On a CI machine whose two cores run every tier at once,
  // the API server's watch alone can take a second or more to tell the agents, so the bounds
  // asserted are generous: 5 s for every agent's desired state, 8 s for every node's kernel.
  async function switchTo(name: string, spec: Record<string, unknown>, dev: (from: string, to: string) => string, mode: (s: AgentStatus) => boolean): Promise<void> {
    const since = await patchPool(spec);
    // Every 25 ms: each status call costs the agents some CPU, which they need for the switch.
    await eventually(async () => ((await statuses()).every(mode) ? true : undefined), 5000, `${name}: every agent's desired state`, 25);
    measured[`${name} (agents)`] = Date.now() - since;
    measured[name] = await converge(dev, since, 8000 - (Date.now() - since));
    console.log(`${name}: agents ${measured[`${name} (agents)`]} ms, kernel ${measured[name]} ms\n${timeline(since)}`);
  }

  it('switches every node’s routes when the pool’s mode changes, CrossSubnet across the router, with no stale routes', async () => {
    const pool = (s: AgentStatus) => s.state!.pools[0]!;
    await switchTo('ipip->direct', { ipipMode: 'Never' }, all('eth0'), (s) => pool(s).ipipMode === 'Never');
    await switchTo('direct->ipip-crosssubnet', { ipipMode: 'CrossSubnet' }, crossSubnet('tunl0'), (s) => pool(s).ipipMode === 'CrossSubnet');
    await switchTo('ipip-crosssubnet->vxlan', { ipipMode: 'Never', vxlanMode: 'Always' }, all('vxlan.calico'), (s) => pool(s).vxlanMode === 'Always');
    // VXLAN only: no BGP.
    await eventually(async () => ((await statuses()).every((s) => !s.bgp.running) ? true : undefined), 2000, 'BGP off');
    await switchTo('vxlan->vxlan-crosssubnet', { vxlanMode: 'CrossSubnet' }, crossSubnet('vxlan.calico'), (s) => pool(s).vxlanMode === 'CrossSubnet');
    await switchTo('vxlan-crosssubnet->ipip', { vxlanMode: 'Never', ipipMode: 'Always' }, all('tunl0'), (s) => pool(s).ipipMode === 'Always' && pool(s).vxlanMode === 'Never');
    // Direct routes across the router go via the subnet's gateway (BIRD's `gateway recursive` gives the same).
    await switchTo('ipip->direct (again)', { ipipMode: 'Never' }, all('eth0'), (s) => pool(s).ipipMode === 'Never');
    const toNode3 = (await routesOf(network.nodes[0]!.netns)).find((r) => owner.get(r.dst) === 'node-3');
    expect(toNode3?.gateway).toBe(`10.178.${network.id}.1`);
    await switchTo('direct->ipip', { ipipMode: 'Always' }, all('tunl0'), (s) => pool(s).ipipMode === 'Always');
  }, 90_000);

  const pods: Array<{ pod: string; ip: string; netns: string }> = [];

  it('gives CNI-plumbed pods in the two subnets a path to each other', async () => {
    for (const p of [
      { node: network.nodes[0]!, pod: 'pod-1', id: 'run0001' },
      { node: network.nodes[2]!, pod: 'pod-3', id: 'run0003' },
    ]) {
      const netns = await network.addPod(p.pod);
      const config = { cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'gingham', kubeconfig: agentKubeconfig, nodename: p.node.name };
      const add = await runPlugin(p.node.netns, { command: 'ADD', containerId: p.id, netns: `/var/run/netns/${netns}`, pod: p.pod }, config);
      expect(add.code, add.stdout + add.stderr).toBe(0);
      pods.push({ pod: p.pod, netns, ip: (add.json as { ips: Array<{ address: string }> }).ips[0]!.address.split('/')[0]! });
    }
    const ping = await network.exec(pods[0]!.netns, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', pods[1]!.ip]);
    expect(ping).toMatch(/3 received/);
  }, 60_000);

  /** Whether the node's nat-outgoing table masquerades the pool (no table at all when no pool has natOutgoing). */
  async function masquerading(netns: string): Promise<boolean> {
    const table = await network.exec(netns, 'nft', ['list', 'table', 'ip', 'gingham'], true);
    return /set masq-pools \{[^}]*elements = \{ 192\.168\.0\.0\/16/.test(table);
  }

  /** The source address of a ping from pod-1 to `to`, as the router sees it on the wire. */
  async function sourceSeenByRouter(to: string): Promise<string> {
    const capture = spawn('ip', ['netns', 'exec', network.router, 'tcpdump', '-n', '-l', '-c', '1', '-i', 'any', `icmp[icmptype] == icmp-echo and dst host ${to}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    capture.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const listening = new Promise<void>((resolve) => capture.stderr.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && resolve()));
    const done = new Promise<void>((resolve) => capture.on('exit', () => resolve()));
    await listening;
    // Replies may not come back (without NAT the router has no route to pods): only the request matters.
    await network.exec(pods[0]!.netns, 'ping', ['-c', '2', '-i', '0.3', '-W', '1', to], true);
    const timer = setTimeout(() => capture.kill(), 5000);
    await done;
    clearTimeout(timer);
    return /IP (\d+\.\d+\.\d+\.\d+) > /.exec(out)?.[1] ?? `nothing captured: ${out}`;
  }

  it('masquerades pod traffic to the outside as the node’s address while natOutgoing is on, and not when it is off', async () => {
    const node1 = network.nodes[0]!.ip;
    expect(await sourceSeenByRouter(network.outsideIp)).toBe(node1);
    // Pod to pod is never masqueraded (the destination is in a pool).
    expect((await network.exec(pods[0]!.netns, 'ping', ['-c', '1', '-W', '2', pods[1]!.ip])).match(/1 received/)).toBeTruthy();
    const since = await patchPool({ natOutgoing: false });
    await eventually(async () => ((await statuses()).every((s) => s.state!.pools[0]!.natOutgoing === false) ? true : undefined), 5000, 'natOutgoing off everywhere');
    measured['natOutgoing off (agents)'] = Date.now() - since;
    await eventually(async () => ((await masquerading(network.nodes[0]!.netns)) ? undefined : true), 5000, 'no masquerading on node-1');
    expect(await sourceSeenByRouter(network.outsideIp)).toBe(pods[0]!.ip);
    await patchPool({ natOutgoing: true });
    await eventually(async () => ((await masquerading(network.nodes[0]!.netns)) ? true : undefined), 5000, 'masquerading again on node-1');
    expect(await sourceSeenByRouter(network.outsideIp)).toBe(node1);
  }, 60_000);

  it('keeps the dataplane unchanged through a 30 s API-server outage, and resyncs afterwards', async () => {
    const before = await Promise.all(network.nodes.map((n) => routesOf(n.netns)));
    const port = Number(new URL(cluster.plane.server).port);
    process.kill(-cluster.plane.pids.apiserver, 'SIGKILL');
    for (let t = 0; t < 6; t++) {
      await new Promise((r) => setTimeout(r, 5000));
      expect(await Promise.all(network.nodes.map((n) => routesOf(n.netns)))).toEqual(before);
    }
    const down = await statuses();
    expect(down.every((s) => !s.datastore.connected)).toBe(true);
    cluster.plane = await controlPlaneUp({ stateDir: cluster.dir, address: network.hostIp, port, progress: () => {} });
    await eventually(async () => ((await statuses()).every((s) => s.datastore.connected) ? true : undefined), 30_000, 'agents reconnecting');
    measured['after-outage ipip->direct'] = await converge(all('eth0'), await patchPool({ ipipMode: 'Never' }), 4000);
  }, 120_000);
});
