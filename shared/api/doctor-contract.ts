// The console API's part for the doctor: a path trace between two pods (or a pod and an address),
// answered hop by hop from what the nodes and the Kubernetes API say (shared/doctor/).
import { z } from 'zod';
import { NodePairTable } from '../doctor/pairs.ts';
import { FixResult, ScanResult } from '../doctor/scan-result.ts';
import { TraceResult } from '../doctor/trace-result.ts';
import { BundleResult } from '../doctor/bundle-contents.ts';

const name = z.string().min(1).max(253);

export const doctorRequests = {
  /** Why can (or can't) `source` reach `destination`: the path as the kernels will forward it, with evidence per hop. */
  'doctor.trace': {
    params: z.object({
      context: name,
      /** A pod (`pod-1`, `namespace/pod-1`) or its address. */
      source: z.string().min(1).max(300),
      /** A pod or any IPv4 address. */
      destination: z.string().min(1).max(300),
      port: z.number().int().min(1).max(65535).optional(),
      /** Also ping from the source's namespace with a short capture at each hop (about 4 s). */
      probe: z.boolean().optional(),
    }),
    result: TraceResult,
  },
  /** For every ordered pair of nodes and pool: encapsulated or direct, and why; subnet crossings and asymmetric pairs. */
  'doctor.pairs': {
    params: z.object({ context: name }),
    result: NodePairTable,
  },
  /** Every node (or those named): the plan against the kernel, leftovers, BGP, MTU, offloads, the node's health. */
  'doctor.scan': {
    params: z.object({ context: name, nodes: z.array(name).max(500).optional() }),
    result: ScanResult,
  },
  /** Runs a finding's safe fix on its node (found again by a fresh scan, never taken from the caller), then scans the node again. */
  'doctor.fix': {
    params: z.object({ context: name, id: z.string().min(1).max(600) }),
    result: FixResult,
  },
  /** One archive for a ticket: the scan (and a trace), each node's tables, BGP, log tail and configuration, Calico's resources; secrets redacted. */
  'doctor.bundle': {
    params: z.object({ context: name, nodes: z.array(name).min(1).max(50), trace: z.object({ source: z.string().min(1).max(300), destination: z.string().min(1).max(300) }).optional() }),
    result: BundleResult,
  },
} as const;
