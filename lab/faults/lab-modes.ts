// The lab's routing modes as the fault tests and the fault report run them: the IPPool's two
// fields and the fabric's source/destination checks (off where pod addresses travel on the
// wire unencapsulated, as on a cloud that needs them off), and which pod pairs can talk in each.
// Switching waits until every agent reads the pool, BGP is as the mode wants, and every pair
// that should answer does, so that a fault starts from a settled cluster.
import { kubectlOk, poolName } from '../cluster/objects.ts';
import { labSrcdst } from '../lab.ts';
import { sleep } from '../sh.ts';
import { agentStatus, bgpStatus } from '../testing/probes.ts';
import { reachablePairs, type Pod } from '../testing/traffic.ts';
import type { FaultContext } from './fault.ts';

export type LabMode = 'ipip-always' | 'ipip-crosssubnet' | 'never' | 'vxlan-always';

export interface ModeSpec {
  pool: { ipipMode: 'Always' | 'CrossSubnet' | 'Never'; vxlanMode: 'Always' | 'Never' };
  srcdstChecks: boolean;
  bgp: boolean;
  /** Pod pairs that answer in the seed's topology (pod-1 and pod-2 share a subnet, pod-3 is across the gateway). */
  pairs: Array<[string, string]>;
}

const all: Array<[string, string]> = [
  ['pod-1', 'pod-2'],
  ['pod-1', 'pod-3'],
  ['pod-2', 'pod-3'],
];

export const labModes: Record<LabMode, ModeSpec> = {
  // The lab's kernel has no ipip module: tunl0 is the user-space helper.
  'ipip-always': { pool: { ipipMode: 'Always', vxlanMode: 'Never' }, srcdstChecks: true, bgp: true, pairs: all },
  'ipip-crosssubnet': { pool: { ipipMode: 'CrossSubnet', vxlanMode: 'Never' }, srcdstChecks: false, bgp: true, pairs: all },
  // No encapsulation: the gateway between the subnets has no pod routes, so only pod-1 <-> pod-2.
  never: { pool: { ipipMode: 'Never', vxlanMode: 'Never' }, srcdstChecks: false, bgp: true, pairs: [['pod-1', 'pod-2']] },
  'vxlan-always': { pool: { ipipMode: 'Never', vxlanMode: 'Always' }, srcdstChecks: true, bgp: false, pairs: all },
};

export const modeNames = Object.keys(labModes) as LabMode[];

export function labPods(context: FaultContext): Pod[] {
  return context.state.topology.pods.flatMap((t) => {
    const p = context.state.pods[t.name];
    return p ? [{ name: p.name, ip: p.ip }] : [];
  });
}

export function kubeconfigOf(context: FaultContext): string {
  if (!context.state.kubeconfig) throw new Error('the lab has no kubeconfig: start it with its agents (npm run lab -- up)');
  return context.state.kubeconfig;
}

/** Is every agent settled in `mode`: the pool read, BGP sessions all up (or none), nothing stale? */
async function settled(context: FaultContext, spec: ModeSpec): Promise<string | undefined> {
  for (const node of context.state.topology.nodes) {
    const status = (await agentStatus(context.stateDir, node.name)) as Awaited<ReturnType<typeof agentStatus>> & { datastore?: { synced?: boolean } };
    if (!status.datastore?.synced) return `${node.name}: datastore not synced`;
    const pool = status.state?.pools[0];
    if (pool?.ipipMode !== spec.pool.ipipMode || pool.vxlanMode !== spec.pool.vxlanMode) return `${node.name}: pool still ${pool?.ipipMode}/${pool?.vxlanMode}`;
    if (status.bgp.running !== spec.bgp) return `${node.name}: BGP ${status.bgp.running ? 'running' : 'off'}`;
    if (spec.bgp) {
      const peers = (await bgpStatus(context.stateDir, node.name)).peers;
      if (peers.length !== context.state.topology.nodes.length - 1 || peers.some((p) => p.state !== 'up' || p.stale > 0)) {
        return `${node.name}: BGP peers ${peers.map((p) => `${p.address} ${p.state}${p.stale ? ` ${p.stale} stale` : ''}`).join(', ')}`;
      }
    }
  }
  return undefined;
}

/** Switches the lab to `mode` and returns the pod pairs that answer in it, once settled. */
export async function setLabMode(context: FaultContext, mode: LabMode, timeoutMs = 120_000): Promise<Array<[Pod, Pod]>> {
  const spec = labModes[mode];
  const kubeconfig = kubeconfigOf(context);
  // Checks go off before pod addresses go on the wire, and on only after they left it.
  if (!spec.srcdstChecks) await labSrcdst('all', false, context.stateDir);
  await kubectlOk(kubeconfig, ['patch', 'ippools.crd.projectcalico.org', poolName, '--type=merge', '-p', JSON.stringify({ spec: spec.pool })]);
  const pods = labPods(context);
  const byName = new Map(pods.map((p) => [p.name, p]));
  const want = spec.pairs.map(([a, b]) => `${a}-${b}`).sort();
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let checksOn = !spec.srcdstChecks;
  while (Date.now() < deadline) {
    const why = await settled(context, spec).catch((error: Error) => error.message);
    if (!why) {
      if (spec.srcdstChecks && !checksOn) {
        await labSrcdst('all', true, context.stateDir);
        checksOn = true;
      }
      const pairs = await reachablePairs(pods);
      const have = pairs.map(([a, b]) => `${a.name}-${b.name}`).sort();
      if (JSON.stringify(have) === JSON.stringify(want)) return spec.pairs.map(([a, b]) => [byName.get(a)!, byName.get(b)!]);
      last = `pairs answering: ${have.join(', ') || 'none'}; want ${want.join(', ')}`;
    } else last = why;
    await sleep(500);
  }
  throw new Error(`the lab did not settle in ${mode} within ${timeoutMs / 1000} s (${last})`);
}
