// A routing-mode switch that loses nothing (#18), the pure half: which pool modes a node applies
// (the pool's, or a staged rollout's override for that node), what it publishes, and which
// encapsulations it must keep receiving because peers still send them. The agent adds the one
// thing that is not pure, a bounded wait (node-agent.ts), and the console's preview uses the rest
// as it is. docs/dataplane.md says how each switch is ordered.
import type { ClusterNode, ClusterSnapshot } from '../model/cluster-snapshot.ts';
import type { IPPool } from '../model/ippool.ts';
import { normalizeMode } from '../model/modes.ts';
import { appliedMode, encapsulationOf, type AppliedMode, type Encapsulation, type NodeEncapsulations, type PoolModesOverride } from '../model/node-encapsulation.ts';
import type { DataplanePlan } from './desired.ts';

/** The pools as `node` applies them: a stage override replaces a pool's two modes for that node only. */
export function effectivePools(pools: readonly IPPool[], override: PoolModesOverride | undefined): IPPool[] {
  if (!override) return [...pools];
  return pools.map((pool) => {
    const modes = override[pool.metadata.name];
    return modes ? { ...pool, spec: { ...pool.spec, ipipMode: modes.ipipMode, vxlanMode: modes.vxlanMode } } : pool;
  });
}

/** Per enabled pool, the mode it has for a node with these pools. */
export function modesOfPools(pools: readonly IPPool[]): Record<string, AppliedMode> {
  return Object.fromEntries(pools.filter((p) => !p.spec.disabled).map((p) => [p.metadata.name, appliedMode(normalizeMode(p.spec.ipipMode), normalizeMode(p.spec.vxlanMode))]));
}

/** The encapsulations these pools send with (to some peer). */
export function encapsulationsOfPools(pools: readonly IPPool[]): Set<Encapsulation> {
  return new Set(Object.values(modesOfPools(pools)).flatMap((mode) => encapsulationOf(mode) ?? []));
}

/**
 * What an agent publishes after a pass: what the kernel accepts and the routes send with, and the
 * modes applied. `vxlanReady` says whether vxlan.calico has the address the node's annotation
 * gives: peers route to that address, so VXLAN is accepted only once it is there (one route
 * change per peer, not a guessed address first and the real one after).
 */
export function publishedEncapsulations(plan: DataplanePlan, vxlanReady = true): NodeEncapsulations {
  const accepts: Encapsulation[] = [...(plan.ipip ? ['IPIP' as const] : []), ...(plan.vxlan && vxlanReady ? ['VXLAN' as const] : [])];
  const sends = new Set<Encapsulation>();
  for (const route of plan.routes) {
    if (route.owner.kind !== 'remote-block') continue;
    if (route.owner.path === 'tunl0') sends.add('IPIP');
    if (route.owner.path === 'vxlan') sends.add('VXLAN');
  }
  return { accepts, sends: [...sends].sort(), modes: plan.modes ?? {} };
}

const others = (snapshot: ClusterSnapshot, nodeName: string): ClusterNode[] => snapshot.nodes.filter((n) => n.name !== nodeName);

/**
 * The encapsulations peers may send `nodeName` beyond what its own pools want: each peer's
 * published `sends` (the old kind, until that peer has moved), and what an overridden peer's
 * modes send (a canary sends the new kind before the pool has it). A peer that published nothing
 * (stock calico-node, an older agent) sends what the pool says, which the node's pools want already.
 */
export function encapsulationsFromPeers(snapshot: ClusterSnapshot, nodeName: string): Set<Encapsulation> {
  const me = snapshot.nodes.find((n) => n.name === nodeName);
  const own = encapsulationsOfPools(effectivePools(snapshot.pools, me?.poolModes));
  const out = new Set<Encapsulation>();
  for (const peer of others(snapshot, nodeName)) {
    for (const e of peer.encapsulations?.sends ?? []) out.add(e);
    if (peer.poolModes) for (const e of encapsulationsOfPools(effectivePools(snapshot.pools, peer.poolModes))) out.add(e);
  }
  for (const e of own) out.delete(e);
  return out;
}

/**
 * Whether some peer still routes by BGP (its published modes are not all VXLAN) while this node's
 * pools are all VXLAN: the speaker then stays up, so that the peer keeps this node's routes until
 * it has moved (BGP is withdrawn only after the new path exists everywhere).
 */
export function peersStillOnBgp(snapshot: ClusterSnapshot, nodeName: string): boolean {
  return others(snapshot, nodeName).some((peer) => {
    const modes = peer.encapsulations ? Object.values(peer.encapsulations.modes) : [];
    return modes.some((mode) => !mode.startsWith('VXLAN'));
  });
}
