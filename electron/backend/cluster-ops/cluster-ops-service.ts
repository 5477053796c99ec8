// The console's view of the cluster's networking, per node: agent health and BGP state, routes,
// peers; and the IP pools with their preview and convergence. Nodes are reached over the
// console's SSH connections; the agent over its RPC socket through them; where no agent answers,
// the kernel (`ip -json route`) and BIRD's socket are read instead and the result is read-only.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Client } from 'ssh2';
import type { BgpPeerRow, NodeConvergence, NodeOverview, NodePeers, NodePreview, NodeRoutes, PoolFields } from '../../../shared/api/cluster-ops-contract.ts';
import type { RequestHandlers } from '../../../shared/api/console-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import type { DataplaneState } from '../../../shared/model/dataplane-state.ts';
import { AgentUnreachable, callAgent } from '../agent-rpc/agent-rpc.ts';
import { connectivityMatrix } from '../connectivity/connectivity-matrix.ts';
import { nodePaths } from '../installer/node-scripts.ts';
import { runScript } from '../installer/remote.ts';
import { IPPoolStore } from '../ippools/ippool-store.ts';
import { plannedRouteKeys, previewNode } from '../ippools/mode-preview.ts';
import { checkConvergence } from '../ippools/convergence-check.ts';
import type { NodeStore } from '../nodes/node-store.ts';
import { birdSockets, readBirdProtocols } from '../peers/bird-socket.ts';
import { kernelRouteRows } from '../routes/kernel-routes.ts';
import { calicoNodeOverview } from './calico-node-status.ts';
import type { SshManager } from '../ssh/ssh-manager.ts';

type Handlers = Pick<RequestHandlers, 'cluster.overview' | 'node.routes' | 'node.peers' | 'ippools.list' | 'ippools.save' | 'ippools.dryRun' | 'ippools.delete' | 'ippools.preview' | 'ippools.convergence' | 'connectivity.matrix'>;

export class ClusterOpsService {
  constructor(
    private readonly ssh: SshManager,
    private readonly nodes: NodeStore,
    private readonly kubeConfigFor: (context: string) => KubeConfig,
  ) {}

  /** The node's SSH connection, opened if need be; a node whose host key is not yet accepted is an error that says so. */
  private async client(nodeId: string): Promise<Client> {
    const result = await this.ssh.connect(nodeId);
    if (result.state !== 'connected') {
      throw new ConsoleError('ssh-disconnected', `Accept ${this.nodes.get(nodeId).name}'s host key first (Nodes, Connect): the console does not connect to a host it has not verified.`);
    }
    return this.ssh.client(nodeId);
  }

  /** SSH nodes by cluster node name: the same name, or the node's InternalIP as host. */
  private sshNodeFor(name: string, internalIp?: string): string | undefined {
    const list = this.nodes.list();
    return (list.find((n) => n.name === name) ?? list.find((n) => internalIp !== undefined && n.host === internalIp))?.id;
  }

  async clusterNodes(context: string): Promise<{ name: string; internalIp?: string; subnet?: string; sshNodeId?: string }[]> {
    const list = await this.kubeConfigFor(context).makeApiClient(CoreV1Api).listNode();
    return list.items.map((node) => {
      const name = node.metadata?.name ?? '';
      const internalIp = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
      const subnet = node.metadata?.annotations?.['projectcalico.org/IPv4Address'];
      const sshNodeId = this.sshNodeFor(name, internalIp);
      return { name, ...(internalIp ? { internalIp } : {}), ...(subnet ? { subnet } : {}), ...(sshNodeId ? { sshNodeId } : {}) };
    });
  }

  /** A node left out of the SSH round: its addresses and SSH node only. */
  private notRead(node: { name: string; internalIp?: string; subnet?: string; sshNodeId?: string }): NodeOverview {
    return { ...node, agent: { health: 'not-read' }, bgp: { state: 'unknown' } };
  }

  private async overviewOf(node: { name: string; internalIp?: string; subnet?: string; sshNodeId?: string }): Promise<NodeOverview> {
    const base = { name: node.name, ...(node.internalIp ? { internalIp: node.internalIp } : {}), ...(node.subnet ? { subnet: node.subnet } : {}), ...(node.sshNodeId ? { sshNodeId: node.sshNodeId } : {}) };
    if (!node.sshNodeId) return { ...base, agent: { health: 'no-ssh', message: 'No SSH node matches this node: add one (Nodes) with its name or address.' }, bgp: { state: 'unknown' } };
    let client: Client;
    try {
      client = await this.client(node.sshNodeId);
    } catch (error) {
      return { ...base, agent: { health: 'ssh-disconnected', message: (error as Error).message }, bgp: { state: 'unknown' } };
    }
    try {
      const status = await callAgent(client, 'status');
      const version = (await runScript(client, 'reading the agent version', `sed -n 's/^version=//p' ${nodePaths.current}/.manifest 2>/dev/null`)).stdout.trim();
      return {
        ...base,
        agent: {
          health: 'running',
          ...(version ? { version } : { version: 'not installed by the console' }),
          datastoreConnected: status.datastore.connected,
          ...(status.dataplane ? { lastPass: { changes: status.dataplane.changes, failures: status.dataplane.failures.length, ms: status.dataplane.ms } } : {}),
        },
        bgp: status.bgp.running
          ? { state: 'running', peers: status.bgp.peers.length, established: status.bgp.peers.filter((p) => p.state === 'up' || p.state === 'Established').length }
          : { state: 'off', reason: status.bgp.reason },
      };
    } catch (error) {
      if (!(error instanceof AgentUnreachable)) throw error;
      const installed = (await runScript(client, 'looking for the agent', `[ -e ${nodePaths.current} ] && echo yes`)).stdout.trim() === 'yes';
      const calico = installed ? undefined : await calicoNodeOverview(client);
      if (calico) return { ...base, ...calico };
      return { ...base, agent: installed ? { health: 'not-answering', message: error.message } : { health: 'not-installed' }, bgp: { state: 'unknown' } };
    }
  }

  async routes(nodeId: string): Promise<NodeRoutes> {
    const client = await this.client(nodeId);
    try {
      const routes = await callAgent(client, 'routes');
      return { nodeId, source: 'agent', readOnly: false, routes };
    } catch (error) {
      if (!(error instanceof AgentUnreachable)) throw error;
      const result = await runScript(client, 'reading the routes', 'ip -json route show');
      if (result.code !== 0) throw new ConsoleError('internal', `ip -json route show failed on the node: ${result.stderr.trim()}`);
      return { nodeId, source: 'kernel', readOnly: true, routes: kernelRouteRows(result.stdout), note: `No Gingham agent answers on this node (${error.message}); the kernel's table is shown, read-only, without owners.` };
    }
  }

  async peers(nodeId: string): Promise<NodePeers> {
    const client = await this.client(nodeId);
    try {
      const status = await callAgent(client, 'bgp.status');
      const leftOut = Object.entries(status.leftOut ?? {}).map(([peer, reason]) => ({ peer, reason }));
      const peers: BgpPeerRow[] = status.peers.map((p) => ({ address: p.address, type: p.type, state: p.state, since: p.since, info: p.info, received: p.received, advertised: p.advertised, ...(p.lastError ? { lastError: p.lastError } : {}) }));
      if (status.reason) return { nodeId, source: 'agent', readOnly: false, running: false, reason: `${status.reason}: VXLAN carries the pods' traffic to the other nodes' blocks, which the agent knows from IPAM, so no BGP sessions are needed.`, peers };
      return { nodeId, source: 'agent', readOnly: false, running: true, ...(status.asn ? { asn: status.asn } : {}), peers, ...(leftOut.length > 0 ? { leftOut } : {}) };
    } catch (error) {
      if (!(error instanceof AgentUnreachable)) throw error;
      for (const socket of birdSockets) {
        try {
          const peers = await readBirdProtocols(client, socket);
          return { nodeId, source: 'bird', readOnly: true, running: true, reason: `Read from BIRD at ${socket} (no Gingham agent on this node).`, peers };
        } catch {
          // next socket
        }
      }
      return { nodeId, source: 'none', readOnly: true, running: false, reason: `Neither a Gingham agent nor BIRD answers on this node (${error.message}).`, peers: [] };
    }
  }

  /** Each cluster node's agent state, for a preview or a convergence check. */
  private async states(context: string): Promise<{ node: string; client?: Client; state?: DataplaneState; reason?: string }[]> {
    // The planner needs the subnet gateway (direct routes to other subnets go through it); the agent
    // reads it from the kernel's default route when its state has none, so the console does too.
    const withGateway = async (client: Client, state: DataplaneState): Promise<DataplaneState> => {
      if (state.node.gateway) return state;
      const routes = await callAgent(client, 'routes');
      const gateway = routes.find((r) => r.destination === '0.0.0.0' && r.genmask === '0.0.0.0' && r.gateway !== '0.0.0.0')?.gateway;
      return gateway ? { ...state, node: { ...state.node, gateway } } : state;
    };
    const nodes = await this.clusterNodes(context);
    return Promise.all(
      nodes.map(async (node) => {
        if (!node.sshNodeId) return { node: node.name, reason: 'no SSH node matches it' };
        try {
          const client = await this.client(node.sshNodeId);
          const status = await callAgent(client, 'status');
          return status.state ? { node: node.name, client, state: await withGateway(client, status.state) } : { node: node.name, client, reason: 'the agent has no desired state yet' };
        } catch (error) {
          return { node: node.name, reason: (error as Error).message };
        }
      }),
    );
  }

  async preview(context: string, name: string, fields: PoolFields): Promise<NodePreview[]> {
    const empty = { routes: { added: [], removed: [] }, devices: { added: [], removed: [] }, bgp: { added: [], removed: [] } };
    return (await this.states(context)).map(({ node, state, reason }) => (state ? previewNode(node, state, name, fields) : { node, available: false, reason: reason ?? 'unknown', ...empty }));
  }

  async convergence(context: string, name: string, fields: PoolFields): Promise<NodeConvergence[]> {
    return Promise.all(
      (await this.states(context)).map(async ({ node, client, state, reason }): Promise<NodeConvergence> => {
        if (!state || !client) return { node, converged: false, detail: reason ?? 'no agent state' };
        const pool = state.pools.find((p) => p.name === name);
        if (!pool || pool.ipipMode !== fields.ipipMode || pool.vxlanMode !== fields.vxlanMode || pool.natOutgoing !== fields.natOutgoing) {
          return { node, converged: false, detail: 'the agent has not seen the change yet' };
        }
        return { node, ...checkConvergence(plannedRouteKeys(state), await callAgent(client, 'routes')) };
      }),
    );
  }

  handlers(): Handlers {
    return {
      'cluster.overview': async ({ context, sshFor }) => {
        const wanted = sshFor ? new Set(sshFor) : undefined;
        return { nodes: await Promise.all((await this.clusterNodes(context)).map((n) => (!wanted || wanted.has(n.name) ? this.overviewOf(n) : this.notRead(n)))) };
      },
      'node.routes': async ({ nodeId }) => this.routes(nodeId),
      'node.peers': async ({ nodeId }) => this.peers(nodeId),
      'ippools.list': async ({ context }) => ({ pools: await new IPPoolStore(this.kubeConfigFor(context)).list() }),
      'ippools.save': async ({ context, name, fields, resourceVersion }) => new IPPoolStore(this.kubeConfigFor(context)).save(name, fields, resourceVersion),
      'ippools.dryRun': async ({ context, name, fields, resourceVersion }) => new IPPoolStore(this.kubeConfigFor(context)).dryRun(name, fields, resourceVersion),
      'ippools.delete': async ({ context, name, resourceVersion }) => ({ deleted: await new IPPoolStore(this.kubeConfigFor(context)).delete(name, resourceVersion) }),
      'ippools.preview': async ({ context, name, fields }) => ({ nodes: await this.preview(context, name, fields) }),
      'ippools.convergence': async ({ context, name, fields }) => ({ nodes: await this.convergence(context, name, fields) }),
      'connectivity.matrix': async ({ context, port }) => {
        const nodes = await this.clusterNodes(context);
        return connectivityMatrix(this.kubeConfigFor(context), async (nodeName) => {
          const sshNodeId = nodes.find((n) => n.name === nodeName)?.sshNodeId;
          if (!sshNodeId) throw new Error(`no SSH node matches ${nodeName}: add one (Nodes)`);
          return this.client(sshNodeId);
        }, port);
      },
    };
  }
}
