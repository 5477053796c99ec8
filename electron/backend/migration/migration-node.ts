// The migration's real sides: the Kubernetes API (the Node, its pods, the pools, Calico's
// DaemonSet) and the node over the console's SSH connection (calico-node's service, the kernel's
// routes, the CNI configuration), the console's agent installer (installer/install-node.ts) and
// the staged switch's continuous ping (switch/continuous-probe.ts). The plan is made here too:
// it reads what runs on the node, and refuses (ConsoleError) what cannot be migrated.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject, type V1Node, type V1Pod } from '@kubernetes/client-node';
import type { Client } from 'ssh2';
import { networkAgentLabel } from '../../../shared/api/agent-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import type { CalicoRunsAs, MigrationPlan, MigrationStep, MigrationStepId, MigrationTarget, NodePod } from '../../../shared/api/migration-contract.ts';
import { nodeAgentStatusKind } from '../../../shared/model/node-agent-status.ts';
import { encapsulationsAnnotation } from '../../../shared/model/node-encapsulation.ts';
import { callAgent } from '../agent-rpc/agent-rpc.ts';
import { probedPods } from '../connectivity/connectivity-matrix.ts';
import { applyAgentManifests, requestAgentToken } from '../installer/agent-credential.ts';
import { verifyArtifact, type AgentArtifact } from '../installer/artifact.ts';
import { installOnNode } from '../installer/install-node.ts';
import { nodePaths, uninstallScript } from '../installer/node-scripts.ts';
import { runScriptOk } from '../installer/remote.ts';
import { IPPoolStore } from '../ippools/ippool-store.ts';
import { startContinuousProbe } from '../switch/continuous-probe.ts';
import { calicoNodeGone, calicoNodeReady, daemonSetExcludesLabel, daemonSetExclusion, hostService, startHostService, stopHostService } from './calico-service.ts';
import { handOverRoutes } from './route-handover.ts';
import type { MigrationSides } from './migration-runner.ts';

export interface MigrationNodeDeps {
  context: string;
  node: string;
  kubeConfig: KubeConfig;
  clientFor(node: string, addresses: string[]): Promise<Client>;
  /** The agent build the installer puts on the node (towards the agent only). */
  artifact(): AgentArtifact;
  /** Seconds a new agent has to answer before the installer rolls it back. */
  startWaitSeconds?: number;
  /** How long calico-node has to become ready after a start. */
  calicoReadyMs?: number;
}

/** Calico's CNI configuration as its install-cni writes it, and where a configuration is put aside (a runtime reads only .conf, .conflist and .json). */
const cniFiles = { calico: '/etc/cni/net.d/10-calico.conflist', gingham: nodePaths.cniConfig, aside: '.gingham-aside' } as const;
/** The agent's nftables tables (agent/dataplane/nat-manager.ts, tunnel-admission.ts) and Felix's, by family and name. */
const ginghamTables = ['ip gingham', 'inet gingham-tunnels'];
const fieldManager = 'gingham-console';

const stepTitles: Record<MigrationStepId, string> = {
  check: 'Check the node and what runs there',
  'probe-start': 'Start the continuous ping between pods on every pair of nodes',
  record: "Record the node's pods: address and interface",
  'stop-calico': 'Stop calico-node (routes stay in the kernel)',
  'hand-over-routes': "Hand the node's routes over in place",
  'start-agent': 'Install and start the Gingham agent',
  cni: 'Switch the CNI configuration',
  'stop-agent': 'Stop the Gingham agent (SIGTERM: routes stay, peers keep ours)',
  'start-calico': 'Start calico-node and wait until Felix is ready',
  'clean-up': 'Remove what the other side left',
  verify: 'Verify: the new side answers, every pod kept its address and interface',
  'probe-stop': 'Stop the ping and count the losses',
};

function steps(to: MigrationTarget): MigrationStep[] {
  const ids: MigrationStepId[] =
    to === 'gingham'
      ? ['check', 'probe-start', 'record', 'stop-calico', 'hand-over-routes', 'start-agent', 'cni', 'clean-up', 'verify', 'probe-stop']
      : ['check', 'probe-start', 'record', 'stop-agent', 'hand-over-routes', 'cni', 'start-calico', 'clean-up', 'verify', 'probe-stop'];
  return ids.map((id) => ({ id, title: stepTitles[id], state: 'pending' }));
}

function addressesOf(node: V1Node): string[] {
  const internal = node.status?.addresses?.filter((a) => a.type === 'InternalIP').map((a) => a.address) ?? [];
  const calico = node.metadata?.annotations?.['projectcalico.org/IPv4Address']?.split('/')[0];
  return [...internal, ...(calico ? [calico] : [])];
}

/** The node's routes to its pods: `ip -json route`, each /32 on a device. */
export function podsFromRoutes(routesJson: string, pods: { name: string; ip: string }[]): NodePod[] {
  const routes = JSON.parse(routesJson || '[]') as Array<{ dst: string; dev?: string; type?: string }>;
  return pods.flatMap((p) => {
    const route = routes.find((r) => (r.dst === p.ip || r.dst === `${p.ip}/32`) && r.dev && (r.type ?? 'unicast') === 'unicast');
    return route ? [{ name: p.name, ip: p.ip, iface: route.dev! }] : [];
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class MigrationNode {
  private readonly core: CoreV1Api;
  private readonly objects: KubernetesObjectApi;
  private addresses = new Map<string, string[]>();
  private runsAs: CalicoRunsAs = 'init-script';
  private daemonSet: { namespace: string; name: string } | undefined;
  private plan: MigrationPlan | undefined;

  constructor(private readonly deps: MigrationNodeDeps) {
    this.core = deps.kubeConfig.makeApiClient(CoreV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(deps.kubeConfig);
  }

  private client(node = this.deps.node): Promise<Client> {
    return this.deps.clientFor(node, this.addresses.get(node) ?? []);
  }

  private async agentAnswers(client: Client): Promise<boolean> {
    try {
      await callAgent(client, 'status', undefined, 5_000);
      return true;
    } catch {
      return false;
    }
  }

  private async calicoPod(): Promise<V1Pod | undefined> {
    const pods = await this.core.listPodForAllNamespaces({ labelSelector: 'k8s-app=calico-node', fieldSelector: `spec.nodeName=${this.deps.node}` });
    return pods.items.find((p) => !p.metadata?.deletionTimestamp);
  }

  /** What runs on the node and how calico-node is (or was) run there; refuses what cannot be migrated. */
  async makePlan(to: MigrationTarget): Promise<MigrationPlan> {
    const { node, context } = this.deps;
    const nodes = (await this.core.listNode()).items;
    this.addresses = new Map(nodes.map((n) => [n.metadata?.name ?? '', addressesOf(n)]));
    const object = nodes.find((n) => n.metadata?.name === node);
    if (!object) throw new ConsoleError('not-found', `${context} has no node named ${node}: its nodes are ${nodes.map((n) => n.metadata?.name).join(', ')}.`);
    const client = await this.client();
    const agent = await this.agentAnswers(client);
    // Said first: a node on the agent has no calico-node either, and that is not the news.
    if (to === 'gingham' && agent) throw new ConsoleError('conflict', `${node} runs the Gingham agent already: nothing to migrate. To go back, migrate it --to calico.`);
    const pod = await this.calicoPod();
    const service = pod ? undefined : await hostService(client);
    const notes: string[] = [];
    if (pod) {
      this.runsAs = 'daemonset';
      const owner = pod.metadata?.ownerReferences?.find((o) => o.kind === 'DaemonSet');
      const namespace = pod.metadata?.namespace ?? 'kube-system';
      if (!owner) throw new ConsoleError('conflict', `calico-node's pod ${namespace}/${pod.metadata?.name} on ${node} has no DaemonSet: the migration stops calico-node through its DaemonSet only.`);
      this.daemonSet = { namespace, name: owner.name };
      const ds = await this.deps.kubeConfig.makeApiClient(AppsV1Api).readNamespacedDaemonSet({ namespace, name: owner.name });
      if (!daemonSetExcludesLabel(ds.spec?.template.spec?.affinity)) {
        throw new ConsoleError(
          'conflict',
          `calico-node's DaemonSet ${namespace}/${owner.name} does not keep off nodes labelled ${networkAgentLabel.key}=${networkAgentLabel.value}, so the migration cannot stop it on ${node} alone. Add the exclusion once (it changes no node without the label): ${daemonSetExclusion(namespace, owner.name)}`,
        );
      }
    } else if (service) {
      this.runsAs = service.runsAs;
    } else if (object.metadata?.labels?.[networkAgentLabel.key] === networkAgentLabel.value) {
      this.runsAs = 'daemonset';
      const ds = (await this.deps.kubeConfig.makeApiClient(AppsV1Api).listDaemonSetForAllNamespaces()).items.find((d) => d.spec?.template.metadata?.labels?.['k8s-app'] === 'calico-node');
      if (ds) this.daemonSet = { namespace: ds.metadata?.namespace ?? 'kube-system', name: ds.metadata?.name ?? 'calico-node' };
    } else {
      throw new ConsoleError('conflict', `${node} has no calico-node: no pod of Calico's DaemonSet, no calico-node.service, no /etc/init.d/calico-node. The migration moves a node between calico-node and the agent; to install the agent on a node without Calico, use Nodes, Install.`);
    }

    if (to === 'gingham') {
      if (this.runsAs !== 'daemonset' && !service?.active) throw new ConsoleError('conflict', `calico-node is not running on ${node} (its ${service?.runsAs} service is stopped): start it, or install the agent from Nodes.`);
      if (this.runsAs === 'daemonset' && !pod) throw new ConsoleError('conflict', `calico-node's DaemonSet has no pod on ${node} (the node carries ${networkAgentLabel.key}=${networkAgentLabel.value}).`);
      this.deps.artifact();
    } else {
      if (!agent) throw new ConsoleError('conflict', `${node} does not run the Gingham agent (it does not answer on ${nodePaths.control}): nothing to migrate back.`);
      if (pod || service?.active) throw new ConsoleError('conflict', `calico-node runs on ${node} already, beside the agent: stop one of them by hand first.`);
      if (this.runsAs === 'daemonset' && !this.daemonSet) throw new ConsoleError('conflict', `no DaemonSet of calico-node was found to start it again on ${node}.`);
    }

    const pools = await new IPPoolStore(this.deps.kubeConfig).list();
    const modes = pools.filter((p) => !p.fields.disabled).map((p) => ({ pool: p.name, ipipMode: p.fields.ipipMode, vxlanMode: p.fields.vxlanMode }));
    const bgp = modes.some((m) => m.vxlanMode === 'Never');
    const pods = await probedPods(this.deps.kubeConfig);
    const nodePods = pods.filter((p) => p.node === node).map((p) => ({ name: p.name, ip: p.ip }));
    const pairs = pods.flatMap((a) => pods.filter((b) => b.node !== a.node).map((b) => ({ from: a.name, to: b.name })));
    if (bgp) {
      notes.push(
        `A pool routes by BGP: BIRD and the agent's speaker both need TCP port 179, so the node has no speaker for a moment. ` +
          `The old one is stopped without a Cease (SIGKILL for BIRD, SIGTERM for the agent), so peers with graceful restart keep its routes as stale until the new one has sent them again.`,
      );
    }
    if (this.runsAs === 'daemonset') {
      notes.push(
        `calico-node runs from its DaemonSet: it is stopped by the label ${networkAgentLabel.key}=${networkAgentLabel.value} and started again by removing it. ` +
          `Its pod ends with SIGTERM and its preStop hook (BIRD then sends Cease, and the hook marks the Node NetworkUnavailable, which the migration clears). Not tested on the lab, whose calico-node runs as a host service.`,
      );
    }
    if (nodePods.length === 0) notes.push(`${node} has no pods: nothing to keep, and no pair to ping from or to it.`);
    this.plan = { context, node, from: to === 'gingham' ? 'calico' : 'gingham', to, calicoRunsAs: this.runsAs, modes, bgp, pods: nodePods, pairs, steps: steps(to), notes };
    return this.plan;
  }

  private async waitFor(what: string, timeoutMs: number, test: () => Promise<{ ok: boolean; detail: string }>): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const r = await test().catch((error: Error) => ({ ok: false, detail: error.message }));
      if (r.ok) return r.detail;
      last = r.detail;
      await sleep(500);
    }
    throw new Error(`${what} within ${timeoutMs / 1000} s (${last})`);
  }

  private async label(on: boolean): Promise<void> {
    const patch = { apiVersion: 'v1', kind: 'Node', metadata: { name: this.deps.node, labels: { [networkAgentLabel.key]: on ? networkAgentLabel.value : null } } };
    await this.objects.patch(patch as unknown as KubernetesObject, undefined, undefined, fieldManager, undefined, PatchStrategy.MergePatch);
  }

  private async stopCalico(): Promise<string> {
    if (this.runsAs === 'daemonset') {
      await this.label(true);
      await this.waitFor(`calico-node's pod did not leave ${this.deps.node}`, 120_000, async () => {
        const pod = await this.core.listPodForAllNamespaces({ labelSelector: 'k8s-app=calico-node', fieldSelector: `spec.nodeName=${this.deps.node}` });
        return { ok: pod.items.length === 0, detail: `${pod.items.length} pod(s) left` };
      });
      await calicoNodeGone(await this.client());
      return `labelled ${networkAgentLabel.key}=${networkAgentLabel.value}; the DaemonSet's pod is gone`;
    }
    return stopHostService(await this.client(), this.runsAs);
  }

  private async startCalico(): Promise<string> {
    let started: string;
    if (this.runsAs === 'daemonset') {
      await this.label(false);
      started = 'label removed, the DaemonSet starts its pod';
    } else {
      started = await startHostService(await this.client(), this.runsAs);
    }
    const bgp = this.plan?.bgp ?? false;
    const ready = await this.waitFor(`calico-node on ${this.deps.node} was not ready`, this.deps.calicoReadyMs ?? 180_000, async () => {
      const r = await calicoNodeReady(await this.client());
      return { ok: r.felix && (!bgp || r.bird), detail: r.detail };
    });
    return `${started}; ${ready}`;
  }

  private async startAgent(say: (line: string) => void): Promise<string> {
    const artifact = this.deps.artifact();
    await verifyArtifact(artifact);
    const node = await this.core.readNode({ name: this.deps.node });
    const address = node.metadata?.annotations?.['projectcalico.org/IPv4Address'];
    const admin = this.deps.kubeConfig;
    let last = '';
    const result = await installOnNode(
      { nodeId: this.deps.node, label: this.deps.node, connect: () => this.client(), config: { nodeName: this.deps.node, ...(address ? { address } : {}) } },
      artifact,
      { applyManifests: (yaml) => applyAgentManifests(admin, yaml), agentKubeconfig: (nodeName) => requestAgentToken(admin, undefined, nodeName) },
      (progress) => {
        if (progress.message !== last && !progress.bytesSent) say(`  installer: ${progress.message}`);
        last = progress.message;
      },
      this.deps.startWaitSeconds ? { startWaitSeconds: this.deps.startWaitSeconds } : {},
    );
    if (result.phase !== 'done') throw new Error(result.message);
    return `agent ${result.version ?? artifact.manifest.version} answers (${result.outcome})`;
  }

  private async stopAgent(): Promise<string> {
    const script = `
set -u
if [ -d /run/systemd/system ] && [ -f ${nodePaths.unit} ]; then
  systemctl disable gingham-agent >/dev/null 2>&1; systemctl stop gingham-agent; echo "the agent's unit was stopped"; exit 0
fi
pid=$(cat ${nodePaths.run}/supervisor.pid 2>/dev/null || true)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
  kill -0 "$pid" 2>/dev/null && { echo "the agent's supervisor did not stop within 30 s" >&2; exit 1; }
  echo "the agent was stopped (SIGTERM: its routes stay)"
else
  echo "the agent was not running"
fi
`;
    return (await runScriptOk(await this.client(), 'stopping the agent', script, [], 60_000)).trim();
  }

  /** Puts `side`'s CNI configuration in place (back from aside if needed) and the other one aside: never a moment with none. */
  private async useCni(side: MigrationTarget): Promise<string> {
    const want = cniFiles[side];
    const other = cniFiles[side === 'gingham' ? 'calico' : 'gingham'];
    const aside = cniFiles.aside;
    const script = `
set -u
[ -f ${want} ] || { [ -f ${want}${aside} ] && mv -f ${want}${aside} ${want}; }
if [ ! -f ${want} ]; then echo "${want} is not on the node" >&2; exit 1; fi
[ -f ${other} ] && mv -f ${other} ${other}${aside}
echo "${want} in place; ${other} put aside"
`;
    if (side === 'calico' && this.runsAs === 'daemonset') {
      // Calico's install-cni (the DaemonSet's init container) writes its configuration again.
      return (await runScriptOk(await this.client(), 'switching the CNI configuration', `[ -f ${other} ] && mv -f ${other} ${other}${aside}; echo "${other} put aside; install-cni writes ${want}"`)).trim();
    }
    return (await runScriptOk(await this.client(), 'switching the CNI configuration', script)).trim();
  }

  private async cleanUp(left: MigrationTarget): Promise<string> {
    const client = await this.client();
    if (left === 'calico') {
      // Felix's chains know only the pods it was told of: a pod the agent starts would meet their drop.
      const out = await runScriptOk(client, "removing Felix's nftables tables", `nft list tables | awk '$3 ~ /^calico/ {print $2, $3}' | while read f t; do nft delete table $f $t && echo "$f $t"; done; true`);
      const node = await this.core.readNode({ name: this.deps.node });
      const condition = node.status?.conditions?.find((c) => c.type === 'NetworkUnavailable');
      let cleared = '';
      if (condition?.status === 'True') {
        const now = new Date().toISOString();
        await this.core.patchNodeStatus({ name: this.deps.node, body: { status: { conditions: [{ type: 'NetworkUnavailable', status: 'False', reason: 'GinghamIsUp', message: 'The Gingham agent runs on this node', lastTransitionTime: now, lastHeartbeatTime: now }] } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
        cleared = '; NetworkUnavailable cleared';
      }
      const tables = out.trim().split('\n').filter(Boolean);
      return `Felix's nftables tables removed: ${tables.join(', ') || 'none'}${cleared}`;
    }
    const tables = await runScriptOk(client, "removing the agent's nftables tables", ginghamTables.map((t) => `nft delete table ${t} 2>/dev/null && echo "${t}"`).join('; ') + '; true');
    const init = (await runScriptOk(client, 'reading the init system', '[ -d /run/systemd/system ] && echo systemd || echo daemon')).trim();
    // Safe now that the agent has stopped: its signal to remove routes reaches no agent.
    await runScriptOk(client, "removing the agent's files", `${uninstallScript}\nrm -f ${cniFiles.gingham}${cniFiles.aside}`, [init], 90_000);
    const patch = { apiVersion: 'v1', kind: 'Node', metadata: { name: this.deps.node, annotations: { [encapsulationsAnnotation]: null } } };
    await this.objects.patch(patch as unknown as KubernetesObject, undefined, undefined, fieldManager, undefined, PatchStrategy.MergePatch);
    const [group, version] = nodeAgentStatusKind.apiVersion.split('/') as [string, string];
    await this.deps.kubeConfig
      .makeApiClient(CustomObjectsApi)
      .deleteClusterCustomObject({ group, version, plural: nodeAgentStatusKind.plural, name: this.deps.node })
      .catch((error: { code?: number }) => {
        if (error.code !== 404) throw error;
      });
    return `the agent's tables (${tables.trim().split('\n').filter(Boolean).join(', ') || 'none'}), files, ${encapsulationsAnnotation} and ${nodeAgentStatusKind.kind} removed`;
  }

  private async check(side: MigrationTarget): Promise<string> {
    const client = await this.client();
    if (side === 'gingham') {
      const status = await callAgent(client, 'status');
      if (!status.state) throw new Error('the agent answers but has no desired state yet');
      return 'the agent answers with its desired state';
    }
    const r = await calicoNodeReady(client);
    if (!r.felix) throw new Error(r.detail);
    return r.detail;
  }

  private async readPods(): Promise<NodePod[]> {
    const out = await runScriptOk(await this.client(), "reading the node's routes", 'ip -json route show table main');
    return podsFromRoutes(out, this.plan?.pods ?? []);
  }

  sides(): MigrationSides {
    return {
      startLossProbe: async (pairs) => {
        const pods = new Map((await probedPods(this.deps.kubeConfig)).map((p) => [p.name, p]));
        const sources = [...new Set(pairs.map((p) => p.from))].map((from) => {
          const pod = pods.get(from)!;
          return { pod: from, node: pod.node, ip: pod.ip, targets: pairs.filter((p) => p.from === from).map((p) => ({ pod: p.to, ip: pods.get(p.to)!.ip })) };
        });
        return startContinuousProbe(sources, (node) => this.client(node));
      },
      readPods: () => this.readPods(),
      stopCalico: () => this.stopCalico(),
      startCalico: () => this.startCalico(),
      handOverRoutes: async (to) => (await handOverRoutes(await this.client(), to)).moved,
      startAgent: (say) => this.startAgent(say),
      stopAgent: () => this.stopAgent(),
      useCni: (side) => this.useCni(side),
      cleanUp: (left) => this.cleanUp(left),
      check: (side) => this.check(side),
      now: () => Date.now(),
    };
  }
}

