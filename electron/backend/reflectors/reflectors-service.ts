// Route reflectors behind the console API (`reflectors.advice`, `reflectors.migrate` with
// `reflectors.progress` events) and the script command (reflectors-cli.ts): the advice from the
// cluster's objects (advisor.ts), the migration (migration.ts) on the real cluster
// (reflector-cluster.ts). One migration per context at a time.
import type { KubeConfig } from '@kubernetes/client-node';
import type { EventEmitter, RequestHandlers } from '../../../shared/api/console-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { defaultClusterId, type ReflectorAdvice, type ReflectorMigrationReport, type ReflectorTarget } from '../../../shared/api/reflectors-contract.ts';
import { effectiveBgpSettings } from '../../../shared/model/bgp-configuration.ts';
import type { NodeStore } from '../nodes/node-store.ts';
import { clusterNodeClient } from '../ssh/cluster-node-client.ts';
import type { SshManager } from '../ssh/ssh-manager.ts';
import { adviseReflectors } from './advisor.ts';
import { runReflectorMigration } from './migration.ts';
import { ReflectorCluster } from './reflector-cluster.ts';

export interface ReflectorMigrateParams {
  context: string;
  to: ReflectorTarget;
  nodes?: string[];
  clusterId?: string;
  id: string;
}

export class ReflectorsService {
  private readonly running = new Set<string>();

  constructor(
    private readonly ssh: SshManager,
    private readonly nodes: NodeStore,
    private readonly kubeConfigFor: (context: string) => KubeConfig,
  ) {}

  private cluster(context: string): ReflectorCluster {
    return new ReflectorCluster({ kubeConfig: this.kubeConfigFor(context), clientFor: (node, addresses) => clusterNodeClient(this.ssh, this.nodes, node, addresses) });
  }

  async advice(context: string): Promise<ReflectorAdvice> {
    const cluster = this.cluster(context);
    const [nodes, bgpConfigurations, bgpPeers, sessions] = await Promise.all([cluster.clusterNodes(), cluster.bgpConfigurations(), cluster.bgpPeers(), cluster.publishedSessions()]);
    const meshEnabled = effectiveBgpSettings(bgpConfigurations).nodeToNodeMeshEnabled;
    return adviseReflectors({ context, nodes, meshEnabled, bgpPeers, bgpConfigurations, ...(sessions ? { sessions } : {}) });
  }

  async migrate(params: ReflectorMigrateParams, progress?: (report: ReflectorMigrationReport) => void): Promise<ReflectorMigrationReport> {
    if (this.running.has(params.context)) throw new ConsoleError('conflict', `A reflector migration of ${params.context} is running already: wait for its report.`);
    this.running.add(params.context);
    try {
      const nodes = params.to === 'reflectors' && !params.nodes?.length ? (await this.advice(params.context)).candidates.map((c) => c.node) : (params.nodes ?? []);
      return await runReflectorMigration(this.cluster(params.context).sides(), {
        id: params.id,
        context: params.context,
        to: params.to,
        nodes,
        clusterId: params.clusterId ?? defaultClusterId,
        ...(progress ? { progress } : {}),
      });
    } finally {
      this.running.delete(params.context);
    }
  }

  handlers(emit: EventEmitter): Pick<RequestHandlers, 'reflectors.advice' | 'reflectors.migrate'> {
    return {
      'reflectors.advice': async ({ context }) => this.advice(context),
      'reflectors.migrate': async (params) => this.migrate(params, (report) => emit('reflectors.progress', report)),
    };
  }
}
