// The console API's part for moving one node from Project Calico's calico-node to the Gingham
// agent, or back (docs/mixed-clusters.md, "Moving a node"): the plan first (what runs on the node
// now and how it is stopped, its pods, the pod pairs the continuous ping watches), then the run,
// whose report is pushed as `migration.progress` events after each step and answered at the end.
// Nothing is drained: the pods keep their addresses and interfaces; the node's routes are handed
// from one side's kernel protocol to the other's in place, so none is ever missing.
import { z } from 'zod';
import { PairLoss } from '../switch/switch-report.ts';

const name = z.string().min(1).max(253);

/** Where the node goes: the Gingham agent, or back to calico-node. */
export const MigrationTarget = z.enum(['gingham', 'calico']);
export type MigrationTarget = z.infer<typeof MigrationTarget>;

/**
 * How calico-node runs on the node, which says how it is stopped and started again:
 * - `daemonset`: a pod of Calico's DaemonSet; stopped by a node label the DaemonSet's node
 *   affinity excludes (the admin adds that exclusion once; the plan says how when it is missing);
 * - `systemd`: a host service `calico-node.service`;
 * - `init-script`: a host service with an init script `/etc/init.d/calico-node` (the lab's nodes).
 */
export const CalicoRunsAs = z.enum(['daemonset', 'systemd', 'init-script']);
export type CalicoRunsAs = z.infer<typeof CalicoRunsAs>;

export const MigrationStepId = z.enum([
  'check',
  'probe-start',
  'record',
  'stop-calico',
  'hand-over-routes',
  'start-agent',
  'cni',
  'stop-agent',
  'start-calico',
  'clean-up',
  'verify',
  'probe-stop',
]);
export type MigrationStepId = z.infer<typeof MigrationStepId>;

export const MigrationStep = z.object({
  id: MigrationStepId,
  title: z.string(),
  state: z.enum(['pending', 'running', 'done', 'failed', 'skipped', 'undone']),
  /** ms from the start of the run when the step began, and how long it took. */
  startedMs: z.number().optional(),
  ms: z.number().optional(),
  detail: z.string().optional(),
});
export type MigrationStep = z.infer<typeof MigrationStep>;

/** A pod on the node: its address and host-side interface, which the migration must keep. */
export const NodePod = z.object({ name: z.string(), ip: z.string(), iface: z.string().optional() });
export type NodePod = z.infer<typeof NodePod>;

export const MigrationPlan = z.object({
  context: z.string(),
  node: z.string(),
  from: MigrationTarget,
  to: MigrationTarget,
  /** How calico-node runs (or ran, and will run again) on the node. */
  calicoRunsAs: CalicoRunsAs,
  /** The pool modes in use, and whether they route by BGP (then port 179 changes hands). */
  modes: z.array(z.object({ pool: z.string(), ipipMode: z.string(), vxlanMode: z.string() })),
  bgp: z.boolean(),
  pods: z.array(NodePod),
  /** Ordered pod pairs the continuous ping watches: every pair of pods on different nodes. */
  pairs: z.array(z.object({ from: z.string(), to: z.string() })),
  steps: z.array(MigrationStep),
  /** What the admin should know before running it (nothing blocks the run). */
  notes: z.array(z.string()),
});
export type MigrationPlan = z.infer<typeof MigrationPlan>;

export const MigrationReport = z.object({
  id: z.string(),
  plan: MigrationPlan,
  state: z.enum(['running', 'migrated', 'rolled-back', 'failed']),
  /** What is happening now, or how it ended, in words. */
  message: z.string(),
  startedAt: z.string(),
  ms: z.number(),
  steps: z.array(MigrationStep),
  /** Routes whose kernel protocol changed hands in place, by the protocol they went to. */
  routesHandedOver: z.record(z.string(), z.number()),
  /** After the run: each pod of the node with its address and interface, and whether both are as before. */
  pods: z.array(NodePod.extend({ kept: z.boolean() })),
  loss: z.array(PairLoss),
  log: z.array(z.string()),
});
export type MigrationReport = z.infer<typeof MigrationReport>;

const migrationParams = z.object({ context: name, node: name, to: MigrationTarget });

export const migrationRequests = {
  /** What the migration would do on the node, and the checks that would refuse it. Changes nothing. */
  'migration.plan': {
    params: migrationParams,
    result: MigrationPlan,
  },
  /** Plans again and runs it; a failing step rolls the node back to what it ran before. `id` names the run in its events. */
  'migration.run': {
    params: migrationParams.extend({ id: z.string().min(1).max(128) }),
    result: MigrationReport,
  },
} as const;

export const migrationEvents = {
  /** The run's report so far, after each step. */
  'migration.progress': MigrationReport,
} as const;
