// Calico's encapsulation modes, shared by the model, the dataplane planner and the console.
import { z } from 'zod';

/** The modes an IPPool's ipipMode and vxlanMode take. */
export const encapsulationModes = ['Never', 'Always', 'CrossSubnet'] as const;
export type EncapsulationMode = (typeof encapsulationModes)[number];

/**
 * A mode as stored: Calico's own enum, plus the empty string that objects applied straight with
 * kubectl may carry. Use `normalizeMode` to read it: empty means Never.
 */
export const storedModeSchema = z.enum(['', ...encapsulationModes], {
  error: (issue) => `must be one of Never, Always, CrossSubnet (got ${JSON.stringify(issue.input)})`,
});

export function normalizeMode(mode: string | undefined): EncapsulationMode {
  return mode === undefined || mode === '' ? 'Never' : (mode as EncapsulationMode);
}
