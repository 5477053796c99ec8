// Waiting for the agents: a node has converged when its Gingham routes are exactly the plan's.
import { parseDataplaneState } from '../../../shared/model/dataplane-state.ts';
import { ginghamRouteProtocol, planDataplane } from '../../../shared/dataplane-plan/index.ts';
import { inNs, waitFor, type PoolMode, type SeedNode, type SeedTopology } from '../../../lab/testing/seed-topology.ts';

export function plannedRoutes(topology: SeedTopology, node: SeedNode, mode: PoolMode): string[] {
  const state = parseDataplaneState(topology.stateFor(node, mode));
  return planDataplane(state, { mtu: 1500, gateway: node.gateway }).routes.map((r) => `${r.dst} ${r.dev ?? ''} ${r.gateway ?? ''}`).sort();
}

export function kernelRoutes(node: SeedNode): string[] {
  const text = inNs(node.netns, ['ip', '-json', '-4', 'route', 'show', 'proto', String(ginghamRouteProtocol)]);
  const routes = JSON.parse(text) as Array<{ dst: string; dev?: string; gateway?: string }>;
  return routes.map((r) => `${r.dst.includes('/') ? r.dst : `${r.dst}/32`} ${r.dev ?? ''} ${r.gateway ?? ''}`).sort();
}

/** Waits until every node's Gingham routes are the plan's for `mode`; returns the time it took. */
export async function converged(topology: SeedTopology, mode: PoolMode, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  await Promise.all(topology.nodes.map((node) => {
    const want = JSON.stringify(plannedRoutes(topology, node, mode));
    return waitFor(
      () => `${node.name}'s routes in ${mode}: want ${want}, have ${JSON.stringify(kernelRoutes(node))}\n${topology.agentLog(node)}`,
      () => JSON.stringify(kernelRoutes(node)) === want,
      timeoutMs,
      50,
    );
  }));
  return Date.now() - started;
}
