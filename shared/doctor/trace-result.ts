// A trace's answer, as the console API, the renderer and `doctor trace --json` carry it: the hops
// in the order a packet meets them (the way back after the way there), each with the evidence it
// was judged on and a verdict, and one final verdict with a stable code (docs/doctor.md).
import { z } from 'zod';
import { reasonCodes } from './reason-codes.ts';

export const HopStatus = z.enum(['ok', 'warn', 'fail', 'unknown']);
export type HopStatus = z.infer<typeof HopStatus>;

export const HopKind = z.enum(['source-pod', 'source-node', 'underlay', 'destination-node', 'destination-pod', 'return-node', 'return-underlay', 'return-arrival', 'probe']);
export type HopKind = z.infer<typeof HopKind>;

export const ReasonCode = z.enum(reasonCodes);
export type ReasonCode = z.infer<typeof ReasonCode>;

export const HopVerdict = z.object({ status: HopStatus, code: ReasonCode, message: z.string() });
export type HopVerdict = z.infer<typeof HopVerdict>;

export const TraceHop = z.object({
  node: z.string(),
  kind: HopKind,
  /** One line for the hop: `worker-1: route lookup`. */
  title: z.string(),
  /** What was read, one fact a line: the command and what it answered, the address compared, the BGP path. */
  evidence: z.array(z.string()),
  verdict: HopVerdict,
});
export type TraceHop = z.infer<typeof TraceHop>;

export const TraceEnd = z.object({ text: z.string(), ip: z.string(), pod: z.string().optional(), node: z.string().optional() });

export const TraceVerdict = z.object({ ok: z.boolean(), code: ReasonCode, message: z.string() });
export type TraceVerdict = z.infer<typeof TraceVerdict>;

export const TraceResult = z.object({
  source: TraceEnd,
  destination: TraceEnd,
  port: z.number().optional(),
  /** How the packet travels: `IP-in-IP`, `VXLAN`, `direct`, `local` (same node). */
  encapsulation: z.string().optional(),
  verdict: TraceVerdict,
  hops: z.array(TraceHop),
  /** The live probe's outcome, when one was asked for (--probe): its hop is the last. */
  probe: z.object({ ok: z.boolean(), replies: z.number(), where: z.string() }).optional(),
  /** What could not be read. */
  gaps: z.array(z.string()),
  collectedAt: z.string(),
  /** Collection and analysis time, ms. */
  ms: z.number().optional(),
});
export type TraceResult = z.infer<typeof TraceResult>;
