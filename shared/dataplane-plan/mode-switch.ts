// A routing-mode switch that loses nothing (#18), the pure half: which pool modes a node applies
// (the pool's, or a staged rollout's override for that node), what it publishes, and which
// encapsulations it must keep receiving because peers still send them. The agent adds the one
// thing that is not pure, a bounded wait (node-agent.ts), and the console's preview uses the rest
// as it is. docs/dataplane.md says how each switch is ordered.
import type { ClusterNode, ClusterSnapshot } from '../model/cluster-snapshot.ts';
import type { IPPool } from '../model/ippool.ts';
import { normalizeMode } from '../model/modes.ts';
import { appliedMode, encapsulationOf, type AppliedMode, type Encapsulation, type NodeEncapsulations, type PoolModesOverride } from '../model/node-encapsulation.ts';
import { bgpWanted } from './bgp-wanted.ts';
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
 * What peers may send `nodeName` beyond what its own pools want, in two parts:
 * - `expected`: what peers' own modes send (the pool's, or a canary's override): a live peer sends
 *   it for as long as those modes stand, so it is kept for as long (a canary stage may last
 *   minutes; the nodes not yet switched receive the canary's VXLAN and the canary their IP-in-IP).
 *   A peer that published nothing (stock calico-node, an older agent) counts by its modes too.
 * - `leftover`: what peers published they still send although their modes no longer do: they
 *   are between modes and will say so when they have moved; an agent that stopped never will,
 *   so the agent keeps these only for a bounded time (node-agent.ts).
 */
export interface FromPeers {
  expected: Set<Encapsulation>;
  leftover: Set<Encapsulation>;
}

export function encapsulationsFromPeers(snapshot: ClusterSnapshot, nodeName: string): FromPeers {
  const me = snapshot.nodes.find((n) => n.name === nodeName);
  const own = encapsulationsOfPools(effectivePools(snapshot.pools, me?.poolModes));
  const expected = new Set<Encapsulation>();
  const published = new Set<Encapsulation>();
  for (const peer of others(snapshot, nodeName)) {
    const modes = encapsulationsOfPools(effectivePools(snapshot.pools, peer.poolModes));
    for (const e of modes) expected.add(e);
    for (const e of peer.encapsulations?.sends ?? []) if (!modes.has(e)) published.add(e);
  }
  for (const e of own) {
    expected.delete(e);
    published.delete(e);
  }
  for (const e of expected) published.delete(e);
  return { expected, leftover: published };
}

/** Every encapsulation peers may send this node beyond its own pools' (the console's preview keeps them all). */
export function allFromPeers(snapshot: ClusterSnapshot, nodeName: string): Encapsulation[] {
  const { expected, leftover } = encapsulationsFromPeers(snapshot, nodeName);
  return [...new Set([...expected, ...leftover])].sort();
}

/**
 * Whether some peer still routes by BGP while this node's pools are all VXLAN, in the same two
 * parts: `expected`, a peer whose own modes route by BGP (the nodes not yet switched, while a
 * canary is in VXLAN); `leftover`, a peer whose modes are all VXLAN now but whose published modes
 * are not yet. The speaker stays up meanwhile, so that the peer keeps this node's routes until it
 * has moved (BGP is withdrawn only after the new path exists everywhere).
 */
export function peersOnBgp(snapshot: ClusterSnapshot, nodeName: string): { expected: boolean; leftover: boolean } {
  let expected = false;
  let leftover = false;
  for (const peer of others(snapshot, nodeName)) {
    if (bgpWanted(effectivePools(snapshot.pools, peer.poolModes).map((p) => p.spec))) expected = true;
    else if (Object.values(peer.encapsulations?.modes ?? {}).some((mode) => !mode.startsWith('VXLAN'))) leftover = true;
  }
  return { expected, leftover };
}
