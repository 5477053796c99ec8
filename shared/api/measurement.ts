// What `gingham-agent measure run --json` prints and the console reads: a pod's (or node's) view of
// one path, measured from its own network namespace by the agent's built-in client against the
// agent's built-in server at the other end (agent/measure). One schema for both sides.
import { z } from 'zod';

/** The TCP port the measuring server listens on (only while a measurement runs). */
export const measurePort = 40_100;

export const streamResultSchema = z.object({
  streams: z.int().min(1),
  seconds: z.number(),
  bytes: z.number(),
  /** The sum of the streams' receiver figures, as iperf3's receiver line. */
  gbitPerSecond: z.number(),
});

export const requestResponseResultSchema = z.object({
  seconds: z.number(),
  transactions: z.int(),
  perSecond: z.number(),
  p50Us: z.number(),
  p99Us: z.number(),
});

export const pathMtuSchema = z.object({
  /** Bytes of the largest IPv4 packet that arrived whole (Don't Fragment set). */
  mtu: z.int(),
  /** The outgoing interface's MTU, where the search started. */
  interfaceMtu: z.int(),
});

export const measurementSchema = z.object({
  from: z.string().meta({ description: "The pod's address, or the node's for a host-to-host reference." }),
  to: z.string(),
  at: z.string().meta({ description: 'When it started (ISO 8601).' }),
  streams: z.array(streamResultSchema),
  requestResponse: requestResponseResultSchema,
  pathMtu: pathMtuSchema,
});

export type StreamResult = z.infer<typeof streamResultSchema>;
export type RequestResponseResult = z.infer<typeof requestResponseResultSchema>;
export type Measurement = z.infer<typeof measurementSchema>;
