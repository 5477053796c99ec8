// A scan's answer, as the console API, the renderer and `doctor scan --json` carry it: findings,
// each with a stable code (docs/doctor.md, "Scan codes"), the node, what was read, and the fix.
// A fix is `safe` when the console may run it on the admin's word: it removes only something
// nothing else relies on (a leftover device or address, a stale entry, a route with Gingham's own
// protocol number) or does what Felix itself does; its commands are shown before they run.
import { z } from 'zod';
import { scanCodes } from './scan-codes.ts';

export const ScanCode = z.enum(scanCodes);
export const ScanSeverity = z.enum(['error', 'warning', 'info']);
export type ScanSeverity = z.infer<typeof ScanSeverity>;

export const FindingFix = z.object({
  /** What to do, in words (always there, also when nothing can be run for the admin). */
  description: z.string(),
  /** Whether the console offers to run `commands` (on the admin's confirmation). */
  safe: z.boolean(),
  /** The exact commands, run on the node as root, one a line. Empty when the fix is not the console's to make. */
  commands: z.array(z.string()),
});
export type FindingFix = z.infer<typeof FindingFix>;

export const ScanFinding = z.object({
  /** Stable within a scan and across scans of the same state: `code@node:subject`. */
  id: z.string(),
  code: ScanCode,
  /** The node it was found on (`(cluster)` for the API server). */
  node: z.string(),
  severity: ScanSeverity,
  message: z.string(),
  evidence: z.array(z.string()),
  fix: FindingFix.optional(),
});
export type ScanFinding = z.infer<typeof ScanFinding>;

export const ScanResult = z.object({
  findings: z.array(ScanFinding),
  /** The nodes that were read, and how many checks each passed through. */
  nodes: z.array(z.object({ name: z.string(), read: z.boolean(), speaker: z.enum(['agent', 'bird', 'none']).optional() })),
  gaps: z.array(z.string()),
  collectedAt: z.string(),
  ms: z.number().optional(),
});
export type ScanResult = z.infer<typeof ScanResult>;

export const FixResult = z.object({
  finding: ScanFinding,
  /** Each command as it ran, with its exit status and output. */
  ran: z.array(z.object({ command: z.string(), code: z.number(), output: z.string() })),
  /** The node scanned again after the fix: the finding is gone. */
  verified: z.boolean(),
  /** What the scan after the fix still finds on that node. */
  after: z.array(ScanFinding),
});
export type FixResult = z.infer<typeof FixResult>;
