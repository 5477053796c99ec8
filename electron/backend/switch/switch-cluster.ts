// The staged switch's real sides: the Kubernetes API (the IPPool, the Nodes' annotations, the
// pods) and the nodes over the console's SSH connections (each agent's desired state and routes,
// the pair probes, the continuous ping, the doctor's trace). switch-runner.ts drives them.
import { ApiException, CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject, type V1Node } from '@kubernetes/client-node';
import type { Client } from 'ssh2';
import type { NodePreview, PoolFields } from '../../../shared/api/cluster-ops-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import type { TraceResult } from '../../../shared/doctor/trace-result.ts';
import { parseCalicoNode } from '../../../shared/model/calico-node.ts';
import { appliedMode, formatPoolModesOverride, parsePoolModesOverride, poolModesAnnotation, type PoolModesOverride } from '../../../shared/model/node-encapsulation.ts';
import type { DataplaneState } from '../../../shared/model/dataplane-state.ts';
import type { PodPair, SwitchPlan } from '../../../shared/switch/switch-report.ts';
import { callAgent } from '../agent-rpc/agent-rpc.ts';
import { probedPods, probeFromPod } from '../connectivity/connectivity-matrix.ts';
import { checkConvergence } from '../ippools/convergence-check.ts';
import { IPPoolStore, poolRow } from '../ippools/ippool-store.ts';
import { plannedRouteKeys } from '../ippools/mode-preview.ts';
import { startContinuousProbe } from './continuous-probe.ts';
import type { NodeObservation } from './node-judgement.ts';
import { planShape, type SwitchFacts, type SwitchRequest } from './switch-plan.ts';
import type { PairAnswer, PoolModes, SwitchSides } from './switch-runner.ts';

export interface SwitchClusterDeps {
  context: string;
  /** The IP pool being switched. */
  pool: string;
  kubeConfig: KubeConfig;
  /** The SSH connection to a cluster node (by name, or one of its addresses). */
  clientFor(node: string, addresses: string[]): Promise<Client>;
  /** Wave 1's preview: the agents' planner on each node's state with the pool changed. */
  preview(pool: string, fields: PoolFields): Promise<NodePreview[]>;
  trace?(pair: PodPair): Promise<TraceResult>;
  /** The HTTP port the pair probes GET. */
  port?: number;
}

const fieldManager = 'gingham-console';

function addressesOf(node: V1Node): string[] {
  const internal = node.status?.addresses?.filter((a) => a.type === 'InternalIP').map((a) => a.address) ?? [];
  const calico = node.metadata?.annotations?.['projectcalico.org/IPv4Address']?.split('/')[0];
  return [...internal, ...(calico ? [calico] : [])];
}

function overrideOf(node: V1Node): PoolModesOverride {
  const text = node.metadata?.annotations?.[poolModesAnnotation];
  return text ? parsePoolModesOverride(text, `Node ${node.metadata?.name ?? ''}`) : {};
}

/** The gateway the planner needs for direct routes to other subnets: the agent reads it from the default route when its state has none, so this does too. */
function withGateway(state: DataplaneState, routes: { destination: string; genmask: string; gateway: string }[]): DataplaneState {
  if (state.node.gateway) return state;
  const gateway = routes.find((r) => r.destination === '0.0.0.0' && r.genmask === '0.0.0.0' && r.gateway !== '0.0.0.0')?.gateway;
  return gateway ? { ...state, node: { ...state.node, gateway } } : state;
}

/** Why a probe did not answer, short: ping's summary line says only that no reply came. */
const whyNot = (r: { ok: boolean; error?: string; status?: number }) => (r.error === undefined || /100% packet loss/.test(r.error) ? (r.status ? `status ${r.status}` : 'no reply') : r.error);

export class SwitchCluster {
  private readonly core: CoreV1Api;
  private readonly objects: KubernetesObjectApi;
  private readonly pools: IPPoolStore;
  private addresses = new Map<string, string[]>();
  private pods = new Map<string, { name: string; node: string; ip: string }>();
  private poolVersion: string | undefined;

  constructor(private readonly deps: SwitchClusterDeps) {
    this.core = deps.kubeConfig.makeApiClient(CoreV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(deps.kubeConfig);
    this.pools = new IPPoolStore(deps.kubeConfig);
  }

  private client(node: string): Promise<Client> {
    return this.deps.clientFor(node, this.addresses.get(node) ?? []);
  }

  private async listNodes(): Promise<V1Node[]> {
    const nodes = (await this.core.listNode()).items;
    this.addresses = new Map(nodes.map((n) => [n.metadata?.name ?? '', addressesOf(n)]));
    return nodes;
  }

  /** The pool, the nodes (what each publishes, whether its agent answers, an override left over) and the pods. */
  async facts(): Promise<SwitchFacts> {
    const pool = this.deps.pool;
    const [stored, nodes, pods] = await Promise.all([this.storedPool(pool), this.listNodes(), probedPods(this.deps.kubeConfig)]);
    const row = poolRow(stored);
    this.poolVersion = row.resourceVersion;
    this.pods = new Map(pods.map((p) => [p.name, p]));
    const names = nodes.map((n) => n.metadata?.name ?? '').filter(Boolean);
    const seen = await this.observe(names, nodes);
    return {
      context: this.deps.context,
      pool: { name: pool, fields: row.fields },
      nodes: nodes.map((n) => {
        const name = n.metadata?.name ?? '';
        const left = overrideOf(n)[pool];
        return {
          name,
          publishes: parseCalicoNode(n).encapsulations !== undefined,
          agent: !seen.find((o) => o.node === name)?.unreadable,
          ...(left ? { override: JSON.stringify(left) } : {}),
        };
      }),
      pods: pods.map((p) => ({ name: p.name, node: p.node, ip: p.ip })),
    };
  }

  private async storedPool(pool: string) {
    try {
      return await this.pools.get(pool);
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404)) throw error;
      const names = (await this.pools.list()).map((p) => p.name);
      throw new ConsoleError('not-found', `There is no IP pool ${pool} in ${this.deps.context}: its pools are ${names.join(', ') || 'none'}.`);
    }
  }

  /** The plan: its shape from the facts, the server's dry run of the pool change, wave 1's preview. */
  async plan(request: SwitchRequest): Promise<SwitchPlan> {
    const facts = await this.facts();
    const shape = planShape(facts, request);
    const wave1 = new Set(shape.stages[0]?.nodes ?? []);
    const [dryRun, preview] = await Promise.all([this.pools.dryRun(shape.pool, shape.to.fields, this.poolVersion), this.deps.preview(shape.pool, shape.to.fields)]);
    return { ...shape, dryRun, preview: preview.filter((p) => wave1.has(p.node)) };
  }

  private async observe(names: string[], listed?: V1Node[]): Promise<NodeObservation[]> {
    const nodes = listed ?? (await this.listNodes());
    const pool = this.deps.pool;
    return Promise.all(
      names.map(async (name): Promise<NodeObservation> => {
        const object = nodes.find((n) => n.metadata?.name === name);
        if (!object) return { node: name, unreadable: 'the Node is gone' };
        const published = parseCalicoNode(object).encapsulations;
        try {
          const client = await this.client(name);
          const status = await callAgent(client, 'status');
          if (!status.state) return { node: name, unreadable: 'the agent has no desired state yet', ...(published ? { published } : {}) };
          const routes = await callAgent(client, 'routes');
          const p = status.state.pools.find((x) => x.name === pool);
          return {
            node: name,
            ...(p ? { mode: appliedMode(p.ipipMode, p.vxlanMode) } : {}),
            routes: checkConvergence(plannedRouteKeys(withGateway(status.state, routes)), routes),
            ...(published ? { published } : {}),
          };
        } catch (error) {
          return { node: name, unreadable: (error as Error).message, ...(published ? { published } : {}) };
        }
      }),
    );
  }

  /** The sides for running a plan made by `plan` (its pods, its pool's resourceVersion). */
  sides(): SwitchSides {
    return {
      observeNodes: (names) => this.observe(names),
      probePairs: (pairs) => this.probePairs(pairs),
      startLossProbe: (pairs) => {
        const sources = [...new Set(pairs.map((p) => p.from))].map((from) => {
          const pod = this.pod(from);
          return { pod: from, node: pod.node, ip: pod.ip, targets: pairs.filter((p) => p.from === from).map((p) => ({ pod: p.to, ip: this.pod(p.to).ip })) };
        });
        return startContinuousProbe(sources, (node) => this.client(node));
      },
      setOverride: (pool, nodes, modes) => this.setOverride(pool, nodes, modes),
      writePool: (pool, modes) => this.writePool(pool, modes),
      ...(this.deps.trace ? { trace: this.deps.trace } : {}),
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    };
  }

  private pod(name: string): { name: string; node: string; ip: string } {
    const pod = this.pods.get(name);
    if (!pod) throw new Error(`pod ${name} is not among the pods read for the plan`);
    return pod;
  }

  private async probePairs(pairs: PodPair[]): Promise<PairAnswer[]> {
    const sources = [...new Set(pairs.map((p) => p.from))];
    const answers = await Promise.all(
      sources.map(async (from): Promise<PairAnswer[]> => {
        const mine = pairs.filter((p) => p.from === from);
        const pod = this.pod(from);
        try {
          const results = await probeFromPod(await this.client(pod.node), pod, mine.map((p) => this.pod(p.to).ip), this.deps.port ?? 80);
          return mine.map((p) => {
            const r = results.find((x) => x.to === this.pod(p.to).ip);
            if (!r) return { ...p, ping: false, http: false, pingError: 'the probe gave no answer for it', httpError: 'the probe gave no answer for it' };
            return { ...p, ping: r.ping.ok, http: r.http.ok, ...(r.ping.ok ? {} : { pingError: whyNot(r.ping) }), ...(r.http.ok ? {} : { httpError: whyNot(r.http) }) };
          });
        } catch (error) {
          const why = `the probe from ${from} on ${pod.node} failed: ${(error as Error).message}`;
          return mine.map((p) => ({ ...p, ping: false, http: false, pingError: why, httpError: why }));
        }
      }),
    );
    return answers.flat();
  }

  private async setOverride(pool: string, nodes: string[], modes: PoolModes | undefined): Promise<void> {
    await Promise.all(
      nodes.map(async (name) => {
        const next = { ...overrideOf(await this.core.readNode({ name })) };
        if (modes) next[pool] = modes;
        else delete next[pool];
        const value = Object.keys(next).length > 0 ? formatPoolModesOverride(next) : null;
        // A merge patch of this one annotation: the agents write their own (gingham.dev/Encapsulations) meanwhile.
        const patch = { apiVersion: 'v1', kind: 'Node', metadata: { name, annotations: { [poolModesAnnotation]: value } } };
        await this.objects.patch(patch as unknown as KubernetesObject, undefined, undefined, fieldManager, undefined, PatchStrategy.MergePatch);
      }),
    );
  }

  /** The pool's two modes, with the resourceVersion the switch last saw: someone else's change in between is a conflict. */
  private async writePool(pool: string, modes: PoolModes): Promise<void> {
    const current = poolRow(await this.pools.get(pool));
    const saved = await this.pools.save(pool, { ...current.fields, ...modes }, this.poolVersion ?? current.resourceVersion);
    this.poolVersion = saved.resourceVersion;
  }
}
