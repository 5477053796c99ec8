// The console API's part for the staged mode switch of one IP pool (shared/switch/): the plan
// first (stages, what is checked, the server's dry run, wave 1's preview), then the run, whose
// report is pushed as `switch.progress` events while it runs and answered when it has ended.
import { z } from 'zod';
import { SwitchMode, SwitchPlan, SwitchReport } from '../switch/switch-report.ts';

const name = z.string().min(1).max(253);

const switchParams = z.object({
  context: name,
  pool: name,
  mode: SwitchMode,
  /** Nodes for the canary stage; none: chosen as the plan says (or all at once in a small cluster). */
  canary: z.array(name).max(500).optional(),
});

export const switchRequests = {
  /** What the switch would do: its stages, the checks after each, the pod pairs, the dry run and wave 1's preview. Changes nothing. */
  'switch.plan': {
    params: switchParams,
    result: SwitchPlan,
  },
  /**
   * Plans again and runs the switch stage by stage, rolling back on its own when a stage makes a
   * pair worse. `id` names the run in its `switch.progress` events; `expectFrom` refuses the run
   * (a conflict) when the pool is no longer in the mode the plan was shown for.
   */
  'switch.run': {
    params: switchParams.extend({ id: z.string().min(1).max(128), expectFrom: SwitchMode.optional() }),
    result: SwitchReport,
  },
} as const;

export const switchEvents = {
  /** The run's report so far, after each step (a stage applied, a node converged, a pair probed, the rollback). */
  'switch.progress': SwitchReport,
} as const;
