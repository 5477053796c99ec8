// The console API's part for measuring a path: throughput, latency and path MTU between two pods,
// measured by the agents from the pods' own namespaces, with the same two nodes host to host as
// the reference. Runs are kept per cluster, so a later run compares with an earlier one.
import { z } from 'zod';
import { measurementSchema } from './measurement.ts';

const name = z.string().min(1).max(253);

export const measureRunSchema = z.object({
  at: z.string(),
  /** The routing mode of the source pod's pool when the run was made, as the IP pools page names it ("IPIP Always", "VXLAN CrossSubnet", "Never"). */
  mode: z.string(),
  source: z.object({ pod: z.string(), node: z.string() }),
  destination: z.object({ pod: z.string(), node: z.string() }),
  /** Pod to pod, from the pods' namespaces. */
  pods: measurementSchema,
  /** The two nodes host to host: the path without the pod network's encapsulation. */
  hosts: measurementSchema,
});
export type MeasureRun = z.infer<typeof measureRunSchema>;

export const measureRequests = {
  /** Measures source -> destination (pods, as the doctor names them) in the cluster's current mode; kept in the history. */
  'measure.run': {
    params: z.object({
      context: name,
      source: z.string().min(1).max(300),
      destination: z.string().min(1).max(300),
      seconds: z.number().min(1).max(30).optional(),
    }),
    result: measureRunSchema,
  },
  /** The runs kept for this cluster, oldest first. */
  'measure.history': {
    params: z.object({ context: name }),
    result: z.object({ runs: z.array(measureRunSchema) }),
  },
} as const;
