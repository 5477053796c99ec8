// Whether each node has converged on a pool's new mode, as its published status says: the agent
// programs the pool in that mode and its last pass applied the desired state without a failure.
// What the IP pools' convergence check can wait on from the watch (NodeStatusHub.subscribe)
// instead of asking every agent over SSH four times a second; the kernel's routes against the
// plan still need one SSH read per node, once its status says it has converged. Nodes without a
// status (no agent publishing) are left out: the caller asks them over SSH as before.
import type { NodeConvergence, PoolFields } from '../../../shared/api/cluster-ops-contract.ts';
import type { NodeStatusEntry } from '../../../shared/api/node-status-contract.ts';
import { normalizeMode } from '../../../shared/model/modes.ts';
import { appliedMode } from '../../../shared/model/node-encapsulation.ts';

export function statusConvergence(entries: readonly NodeStatusEntry[], pool: string, fields: Pick<PoolFields, 'ipipMode' | 'vxlanMode'>): NodeConvergence[] {
  const wanted = appliedMode(normalizeMode(fields.ipipMode), normalizeMode(fields.vxlanMode));
  return entries.map((entry): NodeConvergence => {
    const { node, status } = entry;
    if (!status) return { node, converged: false, detail: `its status cannot be read (${entry.invalid ?? 'invalid'})` };
    if (entry.stale) return { node, converged: false, detail: `its agent has not reported since ${status.heartbeatAt}: stopped, or cut off from the API server` };
    const programmed = status.pools.find((p) => p.name === pool);
    if (!programmed) return { node, converged: false, detail: `the agent does not program pool ${pool}` };
    if (programmed.mode !== wanted) return { node, converged: false, detail: `the agent programs ${programmed.mode}, not yet ${wanted}` };
    if (!status.dataplane.inSync) {
      const problems = status.dataplane.problems;
      return { node, converged: false, detail: problems.length > 0 ? `the last pass failed: ${problems.join('; ')}` : `the agent has ${wanted}; its dataplane pass has not applied it yet` };
    }
    return { node, converged: true, detail: `programs ${wanted}${status.dataplane.lastPassAt ? `, last pass at ${status.dataplane.lastPassAt}` : ''}` };
  });
}
