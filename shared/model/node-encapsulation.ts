// Two annotations on the core v1 Node that make a routing-mode switch lose nothing (#18), beside
// Calico's own (calico-node.ts); calicoctl ignores annotations it does not know, so the cluster it
// reads stays valid during and after a switch.
//
// - `gingham.dev/Encapsulations`, written by the node's agent after each reconcile pass that
//   changes it: which encapsulations its kernel accepts now, which its routes send with now, and
//   the mode it has applied per pool. A peer sends to it with a new encapsulation only once it
//   accepts it, and it removes an old device only once no peer still sends it that kind.
// - `gingham.dev/IPPoolModes`, written by the console on the canary nodes of a staged rollout
//   (and removed at its end): the pool's modes for this node only, which its agent honours.
import { z } from 'zod';
import { encapsulationModes, type EncapsulationMode } from './modes.ts';
import { parseWith } from './validation.ts';

export const encapsulationsAnnotation = 'gingham.dev/Encapsulations';
export const poolModesAnnotation = 'gingham.dev/IPPoolModes';

export const encapsulations = ['IPIP', 'VXLAN'] as const;
export type Encapsulation = (typeof encapsulations)[number];

/** A pool's mode as one word pair, as the planner names it (RouteMode in shared/dataplane-plan). */
export const appliedModes = ['IPIP Always', 'IPIP CrossSubnet', 'VXLAN Always', 'VXLAN CrossSubnet', 'Never'] as const;
export type AppliedMode = (typeof appliedModes)[number];

const encapsulationList = z.array(z.enum(encapsulations, { error: (issue) => `must be IPIP or VXLAN (got ${JSON.stringify(issue.input)})` }));

export const nodeEncapsulationsSchema = z.object({
  accepts: encapsulationList.meta({ description: "Encapsulations the node's kernel receives now (device up, admission in place)." }),
  sends: encapsulationList.meta({ description: 'Encapsulations its routes use now, to any peer.' }),
  modes: z.record(z.string(), z.enum(appliedModes)).default({}).meta({ description: 'Per pool, the mode the agent has applied (the pool, or its override for this node).' }),
});
export type NodeEncapsulations = z.output<typeof nodeEncapsulationsSchema>;

const modeSchema = z.enum(encapsulationModes, { error: (issue) => `must be one of Never, Always, CrossSubnet (got ${JSON.stringify(issue.input)})` });
export const poolModesOverrideSchema = z.record(
  z.string().min(1),
  z
    .object({ ipipMode: modeSchema.default('Never'), vxlanMode: modeSchema.default('Never') })
    .refine((m) => m.ipipMode === 'Never' || m.vxlanMode === 'Never', { error: 'a pool uses IP-in-IP or VXLAN, not both: one of ipipMode and vxlanMode must be Never' }),
);
export type PoolModesOverride = z.output<typeof poolModesOverrideSchema>;

function json(text: string, subject: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${subject} is not JSON (${(error as Error).message}): write it as ${subject.includes(poolModesAnnotation) ? '{"default-ipv4-ippool":{"ipipMode":"Never","vxlanMode":"Always"}}' : '{"accepts":["IPIP"],"sends":["IPIP"],"modes":{}}'}`);
  }
}

/** Reads an agent's published annotation; throws a ValidationError naming the bad field. */
export function parseNodeEncapsulations(text: string, node = 'a Node'): NodeEncapsulations {
  const subject = `the ${encapsulationsAnnotation} annotation of ${node}`;
  return parseWith(nodeEncapsulationsSchema, json(text, subject), subject);
}

/** The annotation's text: sorted, so that an unchanged state gives the same text. */
export function formatNodeEncapsulations(value: NodeEncapsulations): string {
  const modes = Object.fromEntries(Object.entries(value.modes).sort(([a], [b]) => a.localeCompare(b)));
  return JSON.stringify({ accepts: [...new Set(value.accepts)].sort(), sends: [...new Set(value.sends)].sort(), modes });
}

/** Reads a stage override; throws a ValidationError naming the bad field. */
export function parsePoolModesOverride(text: string, node = 'a Node'): PoolModesOverride {
  const subject = `the ${poolModesAnnotation} annotation of ${node}`;
  return parseWith(poolModesOverrideSchema, json(text, subject), subject);
}

/** The annotation's text: pools sorted, so that an unchanged override gives the same text. */
export function formatPoolModesOverride(value: PoolModesOverride): string {
  return JSON.stringify(Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b))));
}

export function appliedMode(ipipMode: EncapsulationMode, vxlanMode: EncapsulationMode): AppliedMode {
  if (ipipMode !== 'Never') return `IPIP ${ipipMode}`;
  if (vxlanMode !== 'Never') return `VXLAN ${vxlanMode}`;
  return 'Never';
}

/** The encapsulation a mode sends with to some peer (none for Never). */
export function encapsulationOf(mode: AppliedMode): Encapsulation | undefined {
  return mode.startsWith('IPIP') ? 'IPIP' : mode.startsWith('VXLAN') ? 'VXLAN' : undefined;
}

/**
 * Whether a node's published state is the steady state of `target` (pool -> mode): every pool
 * applied as the target says, and it accepts exactly the target's encapsulations (no old kind
 * kept for peers that have not moved yet). What the console's staged rollout waits for per node.
 * `sends` may be fewer than the target's (CrossSubnet with every peer on the node's subnet).
 */
export function hasConverged(published: NodeEncapsulations | undefined, target: Readonly<Record<string, AppliedMode>>): boolean {
  if (!published) return false;
  const wanted = new Set(Object.values(target).flatMap((mode) => encapsulationOf(mode) ?? []));
  for (const [pool, mode] of Object.entries(target)) if (published.modes[pool] !== mode) return false;
  const accepts = new Set(published.accepts);
  return accepts.size === wanted.size && [...wanted].every((e) => accepts.has(e)) && published.sends.every((e) => wanted.has(e));
}
