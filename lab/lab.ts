// The lab: the seed's cluster on one machine (docs/lab.md). `labUp` builds it step by step and is
// idempotent (what runs is kept, what is missing is made); `labDown` removes every namespace,
// process, mount and route it made; `labStatus` reads it back. What was built is recorded in
// lab.json in the lab's state folder, so that every command (and `down` after a crash) knows it.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { mintAgentCredential } from '../agent/manifests/credential.ts';
import { callRpc } from '../agent/rpc/client.ts';
import { ensureCalicoNode } from './calico-node/build.ts';
import { calicoNodeHealth, installCalicoNode, waitForCalicoNode } from './calico-node/node-install.ts';
import { checkCalicoNodePrograms } from './calico-node/programs.ts';
import { applyCluster, applyObjects, markPodRunning, podObject } from './cluster/objects.ts';
import { stateDir as labStateRoot } from './controlplane/cache.ts';
import { controlPlaneDown, controlPlaneStatus, controlPlaneUp } from './controlplane/controlplane.ts';
import { adminInterface, fabricDown, fabricNetns, fabricUp } from './fabric/fabric.ts';
import { applySrcdst } from './fabric/srcdst.ts';
import { agentPaths, installAgent } from './nodes/agent-install.ts';
import { nodeDown, nodeRunDir, nodeUp } from './nodes/node.ts';
import { preflight, systemPath, type LabStep } from './host/preflight.ts';
import { ensureAdminKey, writeKnownHosts, type LabKeys } from './nodes/ssh-keys.ts';
import { podDown, podUp, type StartedPod } from './pods/pods.ts';
import { namespaces, processAlive, sleep } from './sh.ts';
import { defaultTopologyFile, loadTopology, resolved, subnetOfNode, topologyFileFor, type Topology } from './topology/topology.ts';

export const apiPort = 6443;

export function defaultLabDir(): string {
  return labStateRoot('lab');
}

/** What lab.json records. */
export interface LabState {
  topologyFile: string;
  topology: Topology;
  /** Every namespace the lab made or is about to make: `down` removes exactly these. */
  namespaces: string[];
  nodes: Record<string, { sshdPid: number; hostKey: string }>;
  pods: Record<string, StartedPod>;
  srcdst: Record<string, boolean>;
  agents: boolean;
  kubeconfig?: string;
  keys?: LabKeys;
}

export interface UpOptions {
  topologyFile?: string;
  stateDir?: string;
  /** Leave the agent (and so the pods) off: the console installs it. */
  agent?: boolean;
  progress?: (line: string) => void;
  /** Where the programs the lab runs are looked for before it starts (the system's program folders). */
  searchPath?: string;
}

const stateFile = (dir: string) => path.join(dir, 'lab.json');

export function readLabState(dir = defaultLabDir()): LabState | undefined {
  if (!existsSync(stateFile(dir))) return undefined;
  try {
    return JSON.parse(readFileSync(stateFile(dir), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

function writeLabState(dir: string, state: LabState): void {
  writeFileSync(stateFile(dir), JSON.stringify(state, null, 2));
}

/** One lab command at a time: a lock file holding the pid of the process that has it. */
function lock(dir: string): () => void {
  const file = path.join(dir, 'lab.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch {
      const holder = Number(readFileSync(file, 'utf8'));
      if (holder && holder !== process.pid && processAlive(holder)) {
        throw new Error(`another lab command (pid ${holder}) is running; wait for it, or end it (${file})`);
      }
      rmSync(file, { force: true }); // left by a command that died
    }
  }
  throw new Error(`cannot take the lab's lock ${file}`);
}

/**
 * Each step with its time; a step that names itself in labSteps first checks that the programs it
 * runs are installed (lab up checks them all before it starts, but a program may go meanwhile).
 */
function timed(progress: (line: string) => void, searchPath = systemPath) {
  return async <T>(what: string, step: () => Promise<T>, needs?: LabStep): Promise<T> => {
    if (needs) preflight([needs], searchPath);
    const started = Date.now();
    progress(`${what} ...`);
    const result = await step();
    progress(`${what}: done (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return result;
  };
}

export async function labUp(options: UpOptions = {}): Promise<LabState> {
  const dir = options.stateDir ?? defaultLabDir();
  const progress = options.progress ?? ((line: string) => console.error(`[lab] ${line}`));
  // Every program the lab's steps run, checked before anything is made: a missing one is named
  // with its package now, not found later as a line in some child's log.
  preflight(undefined, options.searchPath);
  const step = timed(progress, options.searchPath);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const topologyFile = path.resolve(options.topologyFile ? topologyFileFor(options.topologyFile) : (readLabState(dir)?.topologyFile ?? defaultTopologyFile));
  const topology = loadTopology(topologyFile);
  // Built (minutes, the first time) before the lab's lock is taken, so that nobody waits on a compiler.
  const calicoBuild = topology.nodes.some((n) => n.calico)
    ? await step('calico-node (built on first use, then cached)', () => {
        checkCalicoNodePrograms(options.searchPath);
        return ensureCalicoNode((line) => progress(`  ${line}`));
      })
    : undefined;
  const unlock = lock(dir);
  try {
    const previous = readLabState(dir);
    if (previous && JSON.stringify(previous.topology) !== JSON.stringify(topology)) {
      throw new Error(`a lab with another topology (${previous.topologyFile}) is up: run \`npm run lab -- down\` first`);
    }
    const wantAgents = options.agent ?? true;
    const state: LabState = previous ?? {
      topologyFile,
      topology,
      namespaces: [],
      nodes: {},
      pods: {},
      srcdst: Object.fromEntries(topology.nodes.map((n) => [n.name, true])),
      agents: wantAgents,
    };
    state.agents = wantAgents;
    state.namespaces = [...new Set([...state.namespaces, fabricNetns, ...topology.nodes.map((n) => n.name), ...(wantAgents ? topology.pods.map((p) => p.name) : [])])];
    writeLabState(dir, state);

    // A fabric that is gone takes every node's link with it: rebuild the nodes too.
    const fabricThere = (await namespaces()).has(fabricNetns);
    if (!fabricThere) state.nodes = {};
    await step('fabric: bridges, VPC router, admin link', () => fabricUp(topology), 'fabric');
    const checked = () => topology.nodes.map((n) => ({ name: n.name, address: n.address, checks: state.srcdst[n.name] ?? true }));

    const adminKey = await ensureAdminKey(dir);
    const authorizedKeys = path.join(dir, 'ssh', 'authorized_keys');
    writeFileSync(authorizedKeys, readFileSync(`${adminKey}.pub`));
    await step(`nodes ${topology.nodes.map((n) => n.name).join(', ')}: namespaces, ens5, private mounts, sshd`, () =>
      Promise.all(
        topology.nodes.map(async (node) => {
          const started = await nodeUp(dir, topology, node, authorizedKeys, state.nodes[node.name]?.sshdPid);
          state.nodes[node.name] = { sshdPid: started.sshdPid, hostKey: started.hostKey };
          writeLabState(dir, state);
          progress(`  ${node.name}: ${node.address}, sshd pid ${started.sshdPid}`);
        }),
      ),
      'nodes',
    );
    await step('source/destination checks', () => applySrcdst(checked()));
    const knownHosts = writeKnownHosts(dir, topology.nodes.map((n) => ({ name: n.name, address: n.address, hostKey: state.nodes[n.name]!.hostKey })));
    state.keys = { sshKey: adminKey, knownHosts };

    const { controlPlane } = resolved(topology);
    const plane = await step(`etcd and kube-apiserver on ${controlPlane.name} (${controlPlane.address}:${apiPort})`, () =>
      controlPlaneUp({ stateDir: path.join(dir, 'controlplane'), address: controlPlane.address, port: apiPort, netns: controlPlane.name, progress: (line) => progress(`  ${line}`) }),
      'controlplane',
    );
    state.kubeconfig = plane.kubeconfig;
    writeLabState(dir, state);
    await step('Kubernetes: CRDs, agent RBAC, Nodes, IPPool', () => applyCluster(plane.kubeconfig, topology));

    if (!wantAgents) {
      progress('the agent is left off (--no-agent), and so are the pods, which need its CNI plugin: install the agent (from the console), then `npm run lab -- pods`');
      writeLabState(dir, state);
      return state;
    }
    const [gingham, calico] = [topology.nodes.filter((n) => !n.calico), topology.nodes.filter((n) => n.calico)];
    // One credential per node, bound to its Node: each agent may write its own node's status only.
    const credentials = await step("the agents' credentials (TokenRequest, one bound to each Node)", async () => {
      const admin = new KubeConfig();
      admin.loadFromFile(plane.kubeconfig);
      return new Map(await Promise.all(gingham.map(async (n) => [n.name, (await mintAgentCredential(admin, 30 * 24 * 3600, n.name)).kubeconfig] as const)));
    });
    await step(`the agent on ${calico.length > 0 ? gingham.map((n) => n.name).join(', ') : 'every node'}, over SSH`, () =>
      Promise.all(gingham.map(async (n) => progress(`  ${n.name}: ${await installAgent(state.keys!, n, credentials.get(n.name)!)}`))),
      'agents',
    );
    if (calico.length > 0) {
      await step(`calico-node on ${calico.map((n) => n.name).join(', ')}, over SSH`, () =>
        Promise.all(calico.map(async (n) => progress(`  ${n.name}: ${await installCalicoNode(state.keys!, topology, n, calicoBuild!, readFileSync(plane.kubeconfig, 'utf8'))}`))),
      );
    }
    await step('the agents answering on their control sockets', () => Promise.all(gingham.map((n) => waitForAgent(dir, n.name, 180_000))));
    if (calico.length > 0) await step('calico-node ready (Felix healthy, BIRD up)', () => Promise.all(calico.map((n) => waitForCalicoNode(state.keys!, n, 180_000))));
    await startPods(dir, state, plane.kubeconfig, step, progress);
    progress(`the lab is up. kubeconfig: ${plane.kubeconfig}  ssh key: ${adminKey}`);
    return state;
  } finally {
    unlock();
  }
}

/** The topology's pods, side by side as a kubelet starts them (each CNI call takes seconds on a loaded machine). */
async function startPods(dir: string, state: LabState, kubeconfig: string, step: ReturnType<typeof timed>, progress: (line: string) => void): Promise<void> {
  const { topology } = state;
  state.namespaces = [...new Set([...state.namespaces, ...topology.pods.map((p) => p.name)])];
  writeLabState(dir, state);
  await step(`pods ${topology.pods.map((p) => p.name).join(', ')}: CNI ADD on their nodes, HTTP on :80, Pod objects`, async () => {
    await applyObjects(kubeconfig, topology.pods.map((p) => podObject(p.name, p.node)));
    await Promise.all(
      topology.pods.map(async (pod) => {
        const node = topology.nodes.find((n) => n.name === pod.node)!;
        const started = await podUp(dir, pod, state.nodes[pod.node]!.sshdPid, state.pods[pod.name]);
        await markPodRunning(kubeconfig, pod.name, started.ip, node.address);
        state.pods[pod.name] = started;
        writeLabState(dir, state);
        progress(`  ${pod.name} on ${pod.node}: ${started.ip}`);
      }),
    );
  }, 'pods');
}

/**
 * Starts the pods on a lab brought up with --no-agent, once an agent and its CNI plugin are on
 * their nodes (installed by the console, as a user does). Idempotent: running pods are kept.
 */
export async function labPods(options: { stateDir?: string; progress?: (line: string) => void } = {}): Promise<LabState> {
  const dir = options.stateDir ?? defaultLabDir();
  const progress = options.progress ?? ((line: string) => console.error(`[lab] ${line}`));
  preflight(['pods', 'console']);
  const unlock = lock(dir);
  try {
    const state = readLabState(dir);
    if (!state?.kubeconfig || !(await namespaces()).has(fabricNetns)) throw new Error('the lab is not up: run `npm run lab -- up --no-agent` first');
    const lacking = [...new Set(state.topology.pods.map((p) => p.node))].filter((node) => !existsSync(`/proc/${state.nodes[node]?.sshdPid}/root${agentPaths.cniConfig}`));
    if (lacking.length > 0) {
      throw new Error(`${lacking.join(', ')} ${lacking.length === 1 ? 'has' : 'have'} no CNI configuration (${agentPaths.cniConfig}): install the agent there first (the console's Nodes view, or \`npm run lab -- up\`)`);
    }
    await startPods(dir, state, state.kubeconfig, timed(progress), progress);
    return state;
  } finally {
    unlock();
  }
}

export async function labDown(options: { stateDir?: string; progress?: (line: string) => void } = {}): Promise<void> {
  const dir = options.stateDir ?? defaultLabDir();
  const progress = options.progress ?? ((line: string) => console.error(`[lab] ${line}`));
  if (!existsSync(dir)) return;
  const unlock = lock(dir);
  try {
    const state = readLabState(dir);
    const topology = state?.topology ?? loadTopology(defaultTopologyFile);
    const names = new Set([...(state?.namespaces ?? []), ...topology.pods.map((p) => p.name), ...topology.nodes.map((n) => n.name), fabricNetns]);
    const step = timed(progress);
    await step('pods', () => Promise.all(topology.pods.filter((p) => names.delete(p.name)).map((p) => podDown(p.name))));
    await step('etcd and kube-apiserver', () => controlPlaneDown(path.join(dir, 'controlplane')));
    // A fresh cluster next time: no Nodes, blocks or pods of this one (the CA and keys stay, so kubeconfigs and known_hosts stay valid).
    rmSync(path.join(dir, 'controlplane', 'etcd'), { recursive: true, force: true });
    names.delete(fabricNetns);
    await step('nodes (sshd, agents)', () => Promise.all([...names].map((name) => nodeDown(name))));
    await step('fabric and admin link', () => fabricDown());
    rmSync(stateFile(dir), { force: true });
    rmSync(path.join(dir, 'started-by-fixture'), { force: true });
    progress(`the lab is down (nothing left: namespaces, processes, mounts, the ${adminInterface} link and its routes)`);
  } finally {
    unlock();
  }
}

export interface AgentState {
  state: 'running' | 'not installed' | 'not answering';
  detail?: string;
}

export interface LabStatus {
  up: boolean;
  topologyFile?: string;
  kubeconfig?: string;
  sshKey?: string;
  knownHosts?: string;
  server?: string;
  nodes: Array<{ name: string; address: string; subnet: string; netns: string; sshdPid?: number; srcdstChecks: boolean; agent: AgentState }>;
  pods: Array<{ name: string; node: string; ip: string; netns: string }>;
}

async function agentState(dir: string, node: string): Promise<AgentState> {
  const socket = path.join(nodeRunDir(dir, node), agentPaths.control.replace('/run/', ''));
  if (!existsSync(socket)) return { state: 'not installed' };
  try {
    const status = await callRpc<{ datastore?: { connected?: boolean }; bgp?: { running?: boolean; peers?: Array<{ state: string }> } }>(socket, 'status', undefined, 5000);
    const peers = status.bgp?.peers ?? [];
    const bgp = status.bgp?.running ? `BGP ${peers.filter((p) => p.state === 'up').length}/${peers.length} up` : 'BGP off';
    return { state: 'running', detail: `${status.datastore?.connected ? 'API connected' : 'API not connected'}, ${bgp}` };
  } catch (error) {
    return { state: 'not answering', detail: (error as Error).message };
  }
}

/** A calico-node node's "agent": Felix's health and BIRD's socket. */
async function calicoState(keys: LabKeys, address: string): Promise<AgentState> {
  const health = await calicoNodeHealth(keys, address).catch((error: Error) => ({ felixReady: false, birdSocket: false, detail: error.message }));
  return { state: health.felixReady ? 'running' : 'not answering', detail: `calico-node: ${health.detail}` };
}

async function waitForAgent(dir: string, node: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: AgentState = { state: 'not installed' };
  while (Date.now() < deadline) {
    last = await agentState(dir, node);
    if (last.state === 'running') return;
    await sleep(500);
  }
  throw new Error(`the agent on ${node} did not answer within ${timeoutMs / 1000} s (${last.state}${last.detail ? `: ${last.detail}` : ''}); see ${agentPaths.log} on it (npm run lab -- exec ${node} -- tail ${agentPaths.log})`);
}

export async function labStatus(dir = defaultLabDir()): Promise<LabStatus> {
  const state = readLabState(dir);
  if (!state) return { up: false, nodes: [], pods: [] };
  const plane = await controlPlaneStatus(path.join(dir, 'controlplane'));
  const existing = await namespaces();
  return {
    up: existing.has(fabricNetns) && plane !== undefined,
    topologyFile: state.topologyFile,
    ...(state.kubeconfig ? { kubeconfig: state.kubeconfig } : {}),
    ...(state.keys ? { sshKey: state.keys.sshKey, knownHosts: state.keys.knownHosts } : {}),
    ...(plane ? { server: plane.server } : {}),
    nodes: await Promise.all(
      state.topology.nodes.map(async (n) => ({
        name: n.name,
        address: n.address,
        subnet: subnetOfNode(state.topology, n).cidr,
        netns: n.name,
        ...(state.nodes[n.name] ? { sshdPid: state.nodes[n.name]!.sshdPid } : {}),
        srcdstChecks: state.srcdst[n.name] ?? true,
        agent: n.calico && state.keys ? await calicoState(state.keys, n.address) : await agentState(dir, n.name),
      })),
    ),
    // In the topology's order, whatever order they were made in.
    pods: state.topology.pods.flatMap((t) => {
      const p = state.pods[t.name];
      return p ? [{ name: p.name, node: p.node, ip: p.ip, netns: p.netns }] : [];
    }),
  };
}

/** Switches source/destination checks for one node or all. */
export async function labSrcdst(target: string, on: boolean, dir = defaultLabDir()): Promise<Record<string, boolean>> {
  const unlock = lock(dir);
  try {
    const state = readLabState(dir);
    if (!state) throw new Error('the lab is not up: start it with `npm run lab -- up`');
    const names = state.topology.nodes.map((n) => n.name);
    if (target !== 'all' && !names.includes(target)) throw new Error(`there is no node ${target} (nodes: ${names.join(', ')}, or all)`);
    for (const name of names) if (target === 'all' || name === target) state.srcdst[name] = on;
    await applySrcdst(state.topology.nodes.map((n) => ({ name: n.name, address: n.address, checks: state.srcdst[n.name] ?? true })));
    writeLabState(dir, state);
    return state.srcdst;
  } finally {
    unlock();
  }
}

/** The command line that runs `command` in a node's namespaces (network and mount) or a pod's. */
export async function execArgv(target: string, command: string[], dir = defaultLabDir()): Promise<string[]> {
  const state = readLabState(dir);
  if (!state) throw new Error('the lab is not up: start it with `npm run lab -- up`');
  if (command.length === 0) throw new Error('give a command after --, such as: lab exec worker-1 -- ip route');
  const node = state.nodes[target];
  if (node) return ['nsenter', '-t', String(node.sshdPid), '-m', '-n', '--', ...command];
  if (state.pods[target]) return ['ip', 'netns', 'exec', target, ...command];
  if (target === fabricNetns) return ['ip', 'netns', 'exec', fabricNetns, ...command];
  throw new Error(`there is no node or pod ${target} (nodes: ${Object.keys(state.nodes).join(', ')}; pods: ${Object.keys(state.pods).join(', ') || 'none'}; or fabric)`);
}

