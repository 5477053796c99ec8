// Whether a node runs BGP at all, from its pools: the agent decides it, and the console's preview
// says what a pool change would do to the sessions, with this one rule.
import type { EncapsulationMode } from '../model/modes.ts';

export interface PoolForBgp {
  disabled?: boolean;
  vxlanMode: EncapsulationMode;
}

/** BGP runs unless every enabled pool is a VXLAN pool (Calico runs no BIRD in VXLAN-only clusters). */
export function bgpWanted(pools: readonly PoolForBgp[]): boolean {
  const active = pools.filter((p) => !p.disabled);
  return active.length === 0 || active.some((p) => p.vxlanMode === 'Never');
}
