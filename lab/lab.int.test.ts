// The lab, end to end, on the seed's topology: `up` builds what docs/lab.md says (nodes reached
// over SSH with verified host keys, private /etc/gingham per node, Node/Pod/IPPool objects, agents
// running) and is idempotent; then every row of the seed's table in order, switched as the seed
// switches them (the IPPool through the Kubernetes API, src/dst checks with `lab srcdst`), each
// checked by curl from pod-1 (a timeout where the seed times out), worker-1's routes, and what a
// tcpdump on the fabric sees; convergence times and a 100/s ping's losses through each switch are
// printed as figures. Last, `down` leaves nothing behind.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlOk, poolName } from './cluster/objects.ts';
import { adminInterface, fabricNetns } from './fabric/fabric.ts';
import { labDown, labSrcdst, labStatus, labUp, readLabState, type LabStatus } from './lab.ts';
import { agentPaths } from './nodes/agent-install.ts';
import { sshOptions } from './nodes/ssh-keys.ts';
import { namespaces, processAlive, run, runResult, sleep } from './sh.ts';
import { useLab, type LabLease } from './testing/lab-fixture.ts';
import { agentStatus, bgpConnections, captureOnFabric, curlFrom, labExec, pingFrom, routesOf, routeText, srcdstDrops, type SeenPacket } from './testing/probes.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** What the lab must not create on the machine itself (the nodes have their own). */
const hostPaths = ['/etc/gingham', '/opt/gingham', '/var/lib/gingham', '/run/gingham', agentPaths.cniPlugin, agentPaths.cniConfig];
const hostPathsBefore = hostPaths.filter((p) => existsSync(p));

let lab: LabLease;
let status: LabStatus;
let kubeconfig: string;
const ip: Record<string, string> = {};
const nodeIp: Record<string, string> = { master: '10.240.1.10', 'worker-1': '10.240.1.11', 'worker-2': '10.240.1.12', 'worker-3': '10.240.2.13' };
const figures: Array<{ change: string; convergedMs: number; convergedBy: string; ping: Record<string, string> }> = [];

async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new Error(`${what} did not happen within ${timeoutMs / 1000} s${last ? `: ${(last as Error).message}` : ''}`);
}

async function patchPool(spec: Record<string, unknown>): Promise<void> {
  await kubectlOk(kubeconfig, ['patch', 'ippools.crd.projectcalico.org', poolName, '--type=merge', '-p', JSON.stringify({ spec })]);
}

async function srcdst(state: 'on' | 'off'): Promise<void> {
  // The command line, as a person types it.
  const result = await runResult(process.execPath, ['--import', 'tsx', path.join(repo, 'lab/cli.ts'), 'srcdst', 'all', state], { timeoutMs: 120_000 });
  expect(result.code, result.stderr).toBe(0);
  expect(result.stdout).toContain(`worker-1: ${state}`);
}

type Mode = 'ipip' | 'direct' | 'crosssubnet' | 'vxlan';

/** worker-1's routes to the other nodes' blocks in `mode`, as docs/lab.md says they read, plus its own block's blackhole and pod-1's /32. */
async function expectedRoutes(mode: Mode): Promise<string[]> {
  const others = ['master', 'worker-2', 'worker-3'];
  const [own, ...peers] = await Promise.all(['worker-1', ...others].map((n) => agentStatus(lab.stateDir, n)));
  const lines = [`blackhole ${own!.state!.blocks[0]}`];
  others.forEach((name, i) => {
    const block = peers[i]!.state!.blocks[0];
    const sameSubnet = nodeIp[name]!.startsWith('10.240.1.');
    const via =
      mode === 'vxlan'
        ? `via ${peers[i]!.tunnels.vxlan} dev vxlan.calico`
        : mode === 'ipip' || (mode === 'crosssubnet' && !sameSubnet)
          ? `via ${nodeIp[name]} dev tunl0`
          : sameSubnet
            ? `via ${nodeIp[name]} dev ens5`
            : 'via 10.240.1.1 dev ens5';
    lines.push(`${block} ${via}`);
  });
  return lines.sort();
}

async function worker1Routes(): Promise<string[]> {
  const routes = await routesOf('worker-1');
  const pod = routes.filter((r) => r.dst === ip['pod-1']);
  // pod-1's /32 on its cali interface, whatever the mode.
  expect(pod.map((r) => r.dev?.startsWith('cali'))).toEqual([true]);
  return routes.filter((r) => r.dst.startsWith('192.168.') && r.dst.includes('/')).map(routeText).sort();
}

async function routesReach(mode: Mode): Promise<void> {
  let last: string[] = [];
  await eventually(`worker-1's routes in ${mode} mode`, 60_000, async () => {
    last = await worker1Routes();
    const want = await expectedRoutes(mode);
    return JSON.stringify(last) === JSON.stringify(want) ? true : undefined;
  }).catch(async (error: Error) => {
    throw new Error(`${error.message}\nhave: ${last.join(' | ')}\nwant: ${(await expectedRoutes(mode).catch(() => [])).join(' | ')}`);
  });
}

/**
 * Makes one change (an IPPool patch or a src/dst switch) with a 100/s ping from pod-1 to pod-2
 * and to pod-3 running through it; returns when worker-1's routes read as `mode` says and every
 * pair `reachable` names answers curl. The time from the change to then is the figure.
 */
async function change(name: string, mode: Mode, reachable: string[], make: () => Promise<void>): Promise<void> {
  const pings = { 'pod-2': pingFrom('pod-1', ip['pod-2']!), 'pod-3': pingFrom('pod-1', ip['pod-3']!) };
  await sleep(1000);
  const started = Date.now();
  await make();
  await routesReach(mode);
  for (const pod of reachable) {
    await eventually(`pod-1 reaching ${pod}`, 60_000, async () => ((await curlFrom('pod-1', ip[pod]!, 2)).code === 0 ? true : undefined));
  }
  const convergedMs = Date.now() - started;
  await sleep(1000);
  const ping: Record<string, string> = {};
  for (const [pod, run] of Object.entries(pings)) {
    const { transmitted, lost, outage } = await run.stop();
    ping[pod] = `${lost} of ${transmitted} lost` + (outage ? ` (longest outage ${outage.lost} pings, ${outage.to - outage.from} ms, from ${outage.from - started >= 0 ? '+' : ''}${outage.from - started} ms after the change)` : '');
  }
  figures.push({ change: name, convergedMs, convergedBy: reachable.length > 0 ? `routes + curl to ${reachable.join(', ')}` : 'routes (nothing reachable by design)', ping });
}

async function curlBoth(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  // One at a time, as the seed runs them; 10 s is the seed's --max-time.
  for (const pod of ['pod-2', 'pod-3']) {
    const result = await curlFrom('pod-1', ip[pod]!, 10);
    if (result.code === 0) expect(result.body).toBe(`${pod} on ${status.pods.find((p) => p.name === pod)!.node}\n`);
    out[pod] = result.code;
  }
  return out;
}

/** The packets a tcpdump on worker-1's fabric port sees while pod-1 curls `pod`. */
function wireTo(pod: string, filter: string, maxTimeS = 10): Promise<SeenPacket[]> {
  return captureOnFabric('n-worker-1', filter, () => curlFrom('pod-1', ip[pod]!, maxTimeS));
}

const http = (packets: SeenPacket[]) => packets.filter((p) => p.proto === 6 && (p.dport === 80 || p.sport === 80));

beforeAll(async () => {
  // Other test files may be using the lab (they share it): wait up to 20 min for them.
  lab = await useLab({ exclusive: true, fresh: true, waitMs: 1_200_000, progress: (line) => console.log(`[lab] ${line}`) });
  status = lab.status;
  kubeconfig = status.kubeconfig!;
  for (const pod of status.pods) ip[pod.name] = pod.ip;
}, 1_800_000);

afterAll(async () => {
  if (lab) await lab.release();
  if (figures.length > 0) {
    console.log('lab scenario figures (convergence from the change; a 100/s ping from pod-1 through it):');
    for (const f of figures) console.log(`  ${f.change.padEnd(34)} converged in ${String(f.convergedMs).padStart(6)} ms (${f.convergedBy}); ping pod-2: ${f.ping['pod-2']}, pod-3: ${f.ping['pod-3']}`);
  }
}, 300_000);

describe('lab up', () => {
  it('builds the seed’s cluster: status, Kubernetes objects, SSH with verified host keys, private node folders', async () => {
    // status --json, from the command line as a script calls it.
    const cli = await runResult(process.execPath, ['--import', 'tsx', path.join(repo, 'lab/cli.ts'), 'status', '--json'], { timeoutMs: 120_000 });
    expect(cli.code, cli.stderr).toBe(0);
    const json = JSON.parse(cli.stdout) as LabStatus;
    expect(existsSync(json.kubeconfig!)).toBe(true);
    expect(existsSync(json.sshKey!)).toBe(true);
    expect(json.nodes.map((n) => [n.name, n.address, n.subnet, n.agent.state])).toEqual([
      ['master', '10.240.1.10', '10.240.1.0/24', 'running'],
      ['worker-1', '10.240.1.11', '10.240.1.0/24', 'running'],
      ['worker-2', '10.240.1.12', '10.240.1.0/24', 'running'],
      ['worker-3', '10.240.2.13', '10.240.2.0/24', 'running'],
    ]);
    expect(json.pods.map((p) => [p.name, p.node])).toEqual([
      ['pod-1', 'worker-1'],
      ['pod-2', 'worker-2'],
      ['pod-3', 'worker-3'],
    ]);
    for (const p of json.pods) expect(p.ip).toMatch(/^192\.168\.\d+\.\d+$/);

    // Kubernetes, from this machine over the admin link.
    const nodes = JSON.parse(await kubectlOk(kubeconfig, ['get', 'nodes', '-o', 'json'])) as {
      items: Array<{ metadata: { name: string; annotations: Record<string, string> }; status: { addresses: Array<{ type: string; address: string }>; conditions: Array<{ type: string; status: string }> } }>;
    };
    for (const node of nodes.items) {
      const address = nodeIp[node.metadata.name]!;
      expect(node.status.addresses).toContainEqual({ type: 'InternalIP', address });
      expect(node.status.conditions).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'True' }));
      expect(node.metadata.annotations['projectcalico.org/IPv4Address']).toBe(`${address}/24`);
    }
    const pods = JSON.parse(await kubectlOk(kubeconfig, ['get', 'pods', '-n', 'default', '-o', 'json'])) as { items: Array<{ metadata: { name: string }; spec: { nodeName: string }; status: { phase: string; podIP: string } }> };
    expect(pods.items.map((p) => [p.metadata.name, p.spec.nodeName, p.status.phase, p.status.podIP]).sort()).toEqual(json.pods.map((p) => [p.name, p.node, 'Running', p.ip]));
    const pool = JSON.parse(await kubectlOk(kubeconfig, ['get', 'ippools.crd.projectcalico.org', poolName, '-o', 'json'])) as { spec: Record<string, unknown> };
    expect(pool.spec).toMatchObject({ cidr: '192.168.0.0/16', blockSize: 26, ipipMode: 'Always', natOutgoing: true });

    // SSH as the admin, host key verified; each node has its own /etc/gingham, the machine none.
    const ssh = (address: string, knownHosts: string, command: string) =>
      runResult('ssh', [...sshOptions({ sshKey: json.sshKey!, knownHosts }), `root@${address}`, command], { timeoutMs: 60_000 });
    const onWorker1 = await ssh('10.240.1.11', json.knownHosts!, `cat ${agentPaths.config}; ip -br addr show ens5`);
    expect(onWorker1.code, onWorker1.stderr).toBe(0);
    expect(onWorker1.stdout).toContain('nodeName: worker-1');
    expect(onWorker1.stdout).toMatch(/^ens5@\S+\s+UP\s+10\.240\.1\.11\/24/m);
    expect((await ssh('10.240.2.13', json.knownHosts!, `cat ${agentPaths.config}`)).stdout).toContain('nodeName: worker-3');
    for (const p of hostPaths) expect(existsSync(p), `${p} on the machine itself`).toBe(hostPathsBefore.includes(p));
    // worker-2's host key presented for worker-1's address is refused: host keys are per node and verified.
    const lines = readFileSync(json.knownHosts!, 'utf8').split('\n');
    const forged = path.join(lab.stateDir, 'forged_known_hosts');
    writeFileSync(forged, `10.240.1.11 ${lines.find((l) => l.startsWith('10.240.1.12,'))!.split(' ').slice(1).join(' ')}\n`);
    const refused = await ssh('10.240.1.11', forged, 'true');
    rmSync(forged);
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/host key|Host key verification failed/i);

    // The machine's own namespace: only routes to the host subnets, through the admin link.
    const ours = (await run('ip', ['-4', 'route', 'show', 'dev', adminInterface])).split('\n').filter(Boolean).map((l) => l.trim().split(' ')[0]);
    expect(ours.sort()).toEqual(['10.240.1.0/24', '10.240.2.0/24', '10.240.255.252/30']);
  }, 300_000);

  it('is idempotent: a second up keeps every process and address', async () => {
    const before = readLabState(lab.stateDir)!;
    const started = Date.now();
    await labUp({ progress: () => {} });
    const after = readLabState(lab.stateDir)!;
    console.log(`second up took ${Date.now() - started} ms`);
    expect(after.nodes).toEqual(before.nodes);
    expect(after.pods).toEqual(before.pods);
    expect((await labStatus(lab.stateDir)).nodes.every((n) => n.agent.state === 'running')).toBe(true);
  }, 300_000);
});

describe('the seed’s findings, in the seed’s order', () => {
  it('ipipMode Always: pod-2 and pod-3 answer; node addresses outside, protocol 4, pod addresses inside', async () => {
    await routesReach('ipip');
    expect(await curlBoth()).toEqual({ 'pod-2': 0, 'pod-3': 0 });
    for (const [pod, node] of [['pod-2', 'worker-2'], ['pod-3', 'worker-3']] as const) {
      const packets = http(await wireTo(pod, 'ip proto 4'));
      expect(packets.length).toBeGreaterThan(0);
      expect(packets.every((p) => p.encap === 'ipip')).toBe(true);
      expect(packets).toContainEqual(expect.objectContaining({ outerSrc: '10.240.1.11', outerDst: nodeIp[node], src: ip['pod-1'], dst: ip[pod], dport: 80 }));
      // The answer comes back the same way.
      expect(packets).toContainEqual(expect.objectContaining({ outerSrc: nodeIp[node], outerDst: '10.240.1.11', src: ip[pod], dst: ip['pod-1'], sport: 80 }));
    }
  }, 300_000);

  it('ipipMode Never with src/dst checks on: both time out; pod addresses leave unencapsulated and the fabric drops them', async () => {
    await change('ipipMode Always -> Never (checks on)', 'direct', [], () => patchPool({ ipipMode: 'Never' }));
    // The seed: "The tunl0 interface is removed and all routes point to ens5."
    await eventually('tunl0 gone from worker-1', 30_000, async () => ((await labExec('worker-1', ['ip', 'link', 'show', 'tunl0'])).code !== 0 ? true : undefined));
    const dropsBefore = (await srcdstDrops())['worker-1: source check']!;
    expect(await curlBoth()).toEqual({ 'pod-2': 28, 'pod-3': 28 });
    const packets = http(await wireTo('pod-2', 'tcp port 80', 3));
    expect(packets.length).toBeGreaterThan(0);
    expect(packets.every((p) => p.encap === 'direct' && p.src === ip['pod-1'] && p.dst === ip['pod-2'])).toBe(true);
    expect((await srcdstDrops())['worker-1: source check']!).toBeGreaterThan(dropsBefore);
  }, 300_000);

  it('ipipMode Never with src/dst checks off: pod-2 answers with plain pod addresses on the wire; pod-3 still times out', async () => {
    // In-process, so that the figure is the fabric's and not a command line's start-up; the command line is used below.
    await change('src/dst checks off (Never)', 'direct', ['pod-2'], async () => void (await labSrcdst('all', false, lab.stateDir)));
    expect(await curlBoth()).toEqual({ 'pod-2': 0, 'pod-3': 28 });
    const toPod2 = http(await wireTo('pod-2', 'ip proto 4 or tcp port 80'));
    expect(toPod2.every((p) => p.encap === 'direct')).toBe(true);
    expect(toPod2).toContainEqual(expect.objectContaining({ src: ip['pod-1'], dst: ip['pod-2'], dport: 80 }));
    expect(toPod2).toContainEqual(expect.objectContaining({ src: ip['pod-2'], dst: ip['pod-1'], sport: 80 }));
    // To pod-3 the packets leave worker-1 for the gateway, which has no pod routes: nothing comes back.
    const toPod3 = http(await wireTo('pod-3', 'tcp port 80', 3));
    expect(toPod3.length).toBeGreaterThan(0);
    expect(toPod3.every((p) => p.encap === 'direct' && p.src === ip['pod-1'] && p.dst === ip['pod-3'])).toBe(true);
  }, 300_000);

  it('ipipMode CrossSubnet with checks off: pod-2 direct, pod-3 through IP-in-IP', async () => {
    await change('ipipMode Never -> CrossSubnet', 'crosssubnet', ['pod-2', 'pod-3'], () => patchPool({ ipipMode: 'CrossSubnet' }));
    expect(await curlBoth()).toEqual({ 'pod-2': 0, 'pod-3': 0 });
    const toPod2 = http(await wireTo('pod-2', 'ip proto 4 or tcp port 80'));
    expect(toPod2.length).toBeGreaterThan(0);
    expect(toPod2.every((p) => p.encap === 'direct')).toBe(true);
    const toPod3 = http(await wireTo('pod-3', 'ip proto 4 or tcp port 80'));
    expect(toPod3.length).toBeGreaterThan(0);
    expect(toPod3.every((p) => p.encap === 'ipip')).toBe(true);
    expect(toPod3).toContainEqual(expect.objectContaining({ outerSrc: '10.240.1.11', outerDst: '10.240.2.13', src: ip['pod-1'], dst: ip['pod-3'] }));
  }, 300_000);

  it('vxlanMode Always: both answer; UDP 4789 with VNI 4096 around pod addresses; no BGP session anywhere', async () => {
    await change('CrossSubnet -> vxlanMode Always', 'vxlan', ['pod-2', 'pod-3'], () => patchPool({ ipipMode: 'Never', vxlanMode: 'Always' }));
    expect(await curlBoth()).toEqual({ 'pod-2': 0, 'pod-3': 0 });
    for (const [pod, node] of [['pod-2', 'worker-2'], ['pod-3', 'worker-3']] as const) {
      const packets = http(await wireTo(pod, 'ip proto 4 or udp port 4789 or tcp port 80'));
      expect(packets.length).toBeGreaterThan(0);
      expect(packets.every((p) => p.encap === 'vxlan' && p.vni === 4096)).toBe(true);
      expect(packets).toContainEqual(expect.objectContaining({ outerSrc: '10.240.1.11', outerDst: nodeIp[node], src: ip['pod-1'], dst: ip[pod], dport: 80 }));
    }
    for (const node of Object.keys(nodeIp)) {
      expect((await agentStatus(lab.stateDir, node)).bgp.running, `BGP on ${node}`).toBe(false);
      expect(await bgpConnections(node), `TCP 179 on ${node}`).toEqual([]);
    }
    // The outer addresses are the nodes': VXLAN passes with src/dst checks back on.
    await srcdst('on');
    expect(await curlBoth()).toEqual({ 'pod-2': 0, 'pod-3': 0 });
  }, 300_000);

  it('back to ipipMode Always (BGP comes back): both answer', async () => {
    await change('vxlanMode Always -> ipipMode Always', 'ipip', ['pod-2', 'pod-3'], () => patchPool({ ipipMode: 'Always', vxlanMode: 'Never' }));
    expect(await curlBoth()).toEqual({ 'pod-2': 0, 'pod-3': 0 });
    await eventually('a full BGP mesh again', 120_000, async () => {
      const all = await Promise.all(Object.keys(nodeIp).map((n) => agentStatus(lab.stateDir, n)));
      return all.every((s) => s.bgp.running && s.bgp.peers?.length === 3 && s.bgp.peers.every((p) => p.state === 'up')) ? true : undefined;
    });
  }, 300_000);
});

describe('lab down', () => {
  it('leaves nothing behind: namespaces, processes, mounts, routes, files outside the state folder', async () => {
    const state = readLabState(lab.stateDir)!;
    const pids = (await Promise.all(state.namespaces.map((ns) => run('ip', ['netns', 'pids', ns], { allowFail: true })))).flatMap((out) => out.split('\n').filter(Boolean).map(Number));
    expect(pids.length).toBeGreaterThan(8); // sshd x4, agents, etcd, kube-apiserver, the pods' servers
    await labDown({ progress: () => {} });

    const left = await namespaces();
    expect(state.namespaces.filter((ns) => left.has(ns))).toEqual([]);
    expect(left.has(fabricNetns)).toBe(false);
    expect(pids.filter(processAlive)).toEqual([]);
    // No process anywhere still runs from the lab's folders or with a node's agent configuration.
    const stray = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((pid) => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        return cmdline.includes(lab.stateDir) || cmdline.includes(agentPaths.config);
      } catch {
        return false;
      }
    });
    expect(stray).toEqual([]);
    // No mount in any mount namespace that is left refers to the lab.
    const mounts = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((pid) => {
      try {
        return readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').filter((l) => l.includes(lab.stateDir) || / lab-(etc|opt|var-lib) /.test(l) || state.namespaces.some((ns) => l.includes(` /run/netns/${ns} `)));
      } catch {
        return [];
      }
    });
    expect(mounts).toEqual([]);
    expect(await run('ip', ['link', 'show', adminInterface], { allowFail: true })).toBe('');
    const routes = await run('ip', ['-4', 'route', 'show']);
    expect(routes).not.toMatch(/10\.240\.(1|2)\.0\/24|10\.240\.255\.252/);
    for (const p of hostPaths) expect(existsSync(p), p).toBe(hostPathsBefore.includes(p));
    expect(readLabState(lab.stateDir)).toBeUndefined();
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toMatch(/^(fabric|master|worker-\d|pod-\d)\b/m);
  }, 300_000);
});
