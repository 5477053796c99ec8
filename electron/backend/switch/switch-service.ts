// The staged switch behind the console API (`switch.plan`, `switch.run` with `switch.progress`
// events) and the script command (switch-cli.ts): the real cluster sides (switch-cluster.ts), the
// preview from the IP pools' code, the doctor's trace of a pair that broke. One switch per pool at
// a time.
import type { KubeConfig } from '@kubernetes/client-node';
import type { EventEmitter, RequestHandlers } from '../../../shared/api/console-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import type { AppliedMode } from '../../../shared/model/node-encapsulation.ts';
import { StagePlanError } from '../../../shared/switch/stage-plan.ts';
import type { SwitchPlan, SwitchReport } from '../../../shared/switch/switch-report.ts';
import { ClusterOpsService } from '../cluster-ops/cluster-ops-service.ts';
import type { DoctorService } from '../doctor/doctor-service.ts';
import type { NodeStore } from '../nodes/node-store.ts';
import { clusterNodeClient } from '../ssh/cluster-node-client.ts';
import type { SshManager } from '../ssh/ssh-manager.ts';
import { SwitchCluster } from './switch-cluster.ts';
import { runSwitch, type RunOptions } from './switch-runner.ts';

export interface SwitchParams {
  context: string;
  pool: string;
  mode: AppliedMode;
  canary?: string[];
}

export class SwitchService {
  private readonly running = new Set<string>();
  private readonly clusterOps: ClusterOpsService;

  constructor(
    private readonly ssh: SshManager,
    private readonly nodes: NodeStore,
    private readonly kubeConfigFor: (context: string) => KubeConfig,
    private readonly doctor?: DoctorService,
    private readonly runOptions: Omit<RunOptions, 'id' | 'progress'> = {},
  ) {
    this.clusterOps = new ClusterOpsService(ssh, nodes, kubeConfigFor);
  }

  private cluster(context: string, pool: string): SwitchCluster {
    const doctor = this.doctor;
    return new SwitchCluster({
      context,
      pool,
      kubeConfig: this.kubeConfigFor(context),
      clientFor: (node, addresses) => clusterNodeClient(this.ssh, this.nodes, node, addresses),
      preview: (name, fields) => this.clusterOps.preview(context, name, fields),
      ...(doctor ? { trace: (pair) => doctor.trace(context, { source: pair.from, destination: pair.to }) } : {}),
    });
  }

  private async planWith(cluster: SwitchCluster, params: SwitchParams): Promise<SwitchPlan> {
    try {
      return await cluster.plan({ mode: params.mode, ...(params.canary && params.canary.length > 0 ? { canary: params.canary } : {}) });
    } catch (error) {
      if (error instanceof StagePlanError) throw new ConsoleError('invalid-field', error.message);
      throw error;
    }
  }

  plan(params: SwitchParams): Promise<SwitchPlan> {
    return this.planWith(this.cluster(params.context, params.pool), params);
  }

  /** Plans again (the cluster may have changed since the plan was shown) and runs it. */
  async run(params: SwitchParams & { id: string; expectFrom?: AppliedMode }, progress?: (report: SwitchReport) => void): Promise<SwitchReport> {
    const lock = `${params.context}/${params.pool}`;
    if (this.running.has(lock)) throw new ConsoleError('conflict', `A switch of IP pool ${params.pool} is running already: wait for its report.`);
    this.running.add(lock);
    try {
      const cluster = this.cluster(params.context, params.pool);
      const plan = await this.planWith(cluster, params);
      if (params.expectFrom && plan.from.mode !== params.expectFrom) {
        throw new ConsoleError('conflict', `IP pool ${params.pool} is in ${plan.from.mode} now, not ${params.expectFrom} as when the plan was shown: plan again.`);
      }
      return await runSwitch(plan, cluster.sides(), { ...this.runOptions, id: params.id, ...(progress ? { progress } : {}) });
    } finally {
      this.running.delete(lock);
    }
  }

  handlers(emit: EventEmitter): Pick<RequestHandlers, 'switch.plan' | 'switch.run'> {
    return {
      'switch.plan': async (params) => this.plan(params),
      'switch.run': async (params) => this.run(params, (report) => emit('switch.progress', report)),
    };
  }
}
