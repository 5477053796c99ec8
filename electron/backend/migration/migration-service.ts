// The node migration behind the console API (`migration.plan`, `migration.run` with
// `migration.progress` events) and the script command (migration-cli.ts): the plan made on the
// real cluster (migration-node.ts), run by migration-runner.ts. One migration per node at a time.
import type { KubeConfig } from '@kubernetes/client-node';
import type { EventEmitter, RequestHandlers } from '../../../shared/api/console-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import type { MigrationPlan, MigrationReport, MigrationTarget } from '../../../shared/api/migration-contract.ts';
import { defaultArtifactDir, loadArtifact } from '../installer/artifact.ts';
import type { NodeStore } from '../nodes/node-store.ts';
import { clusterNodeClient } from '../ssh/cluster-node-client.ts';
import type { SshManager } from '../ssh/ssh-manager.ts';
import { MigrationNode } from './migration-node.ts';
import { runMigration } from './migration-runner.ts';

export interface MigrationParams {
  context: string;
  node: string;
  to: MigrationTarget;
}

export interface MigrationServiceOptions {
  /** The agent build to install (out/agent by default), as the installer's. */
  artifactDir?: string;
  startWaitSeconds?: number;
}

export class MigrationService {
  private readonly running = new Set<string>();

  constructor(
    private readonly ssh: SshManager,
    private readonly nodes: NodeStore,
    private readonly kubeConfigFor: (context: string) => KubeConfig,
    private readonly options: MigrationServiceOptions = {},
  ) {}

  private node(params: MigrationParams): MigrationNode {
    return new MigrationNode({
      context: params.context,
      node: params.node,
      kubeConfig: this.kubeConfigFor(params.context),
      clientFor: (node, addresses) => clusterNodeClient(this.ssh, this.nodes, node, addresses),
      artifact: () => loadArtifact(this.options.artifactDir ?? defaultArtifactDir()),
      ...(this.options.startWaitSeconds ? { startWaitSeconds: this.options.startWaitSeconds } : {}),
    });
  }

  plan(params: MigrationParams): Promise<MigrationPlan> {
    return this.node(params).makePlan(params.to);
  }

  /** Plans again (the node may have changed since the plan was shown) and runs it. */
  async run(params: MigrationParams & { id: string }, progress?: (report: MigrationReport) => void): Promise<MigrationReport> {
    const lock = `${params.context}/${params.node}`;
    if (this.running.has(lock)) throw new ConsoleError('conflict', `A migration of ${params.node} is running already: wait for its report.`);
    this.running.add(lock);
    try {
      const node = this.node(params);
      const plan = await node.makePlan(params.to);
      return await runMigration(plan, node.sides(), { id: params.id, ...(progress ? { progress } : {}) });
    } finally {
      this.running.delete(lock);
    }
  }

  handlers(emit: EventEmitter): Pick<RequestHandlers, 'migration.plan' | 'migration.run'> {
    return {
      'migration.plan': async (params) => this.plan(params),
      'migration.run': async (params) => this.run(params, (report) => emit('migration.progress', report)),
    };
  }
}
