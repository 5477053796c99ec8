// The console API for live packet captures: start tcpdump on a node's interface with a
// capture filter, packet rows streamed in batches with flow control (the renderer acknowledges
// rows it has taken; rows it could not take are counted as skipped, never dropped from the
// export), one packet's bytes on demand for the detail tree and hex pane, and pcap/pcapng export.
// Spread into console-contract.ts.
import { z } from 'zod';

const id = z.string().min(1).max(128);

/** An interface name as the kernel allows them (IFNAMSIZ 16) or `any`; no shell metacharacters. */
export const CaptureInterface = z
  .string()
  .min(1)
  .max(15)
  .regex(/^[A-Za-z0-9_.:@-]+$/, 'an interface name (letters, digits, _ . : @ -) or any');

/** A BPF capture filter; quoted for the node's shell by the backend. */
export const CaptureFilter = z.string().max(1024).regex(/^[^\0\n\r]*$/, 'a single-line filter');

/** One decoded packet as the live list shows it (shared/packets/packet-record.ts). */
export const PacketRow = z.object({
  n: z.number().int().min(1),
  t: z.number(),
  len: z.number().int().min(0),
  caplen: z.number().int().min(0),
  encap: z.enum(['direct', 'IPIP', 'VXLAN']),
  encapText: z.string(),
  src: z.string(),
  dst: z.string(),
  proto: z.string(),
  info: z.string(),
  outerSrc: z.string().optional(),
  outerDst: z.string().optional(),
  vni: z.number().int().optional(),
  sport: z.number().int().optional(),
  dport: z.number().int().optional(),
  ipProto: z.number().int().optional(),
  app: z.enum(['BGP', 'HTTP']).optional(),
  mark: z.enum(['truncated', 'malformed']).optional(),
});
export type PacketRow = z.infer<typeof PacketRow>;

const Tally = z.object({ packets: z.number().int().min(0), bytes: z.number().int().min(0) });

/** Packets and bytes per encapsulation since the previous batch, skipped rows included: the chart's input. */
export const EncapTally = z.object({ direct: Tally, IPIP: Tally, VXLAN: Tally });
export type EncapTally = z.infer<typeof EncapTally>;

export const captureRequests = {
  'capture.start': {
    params: z.object({ nodeId: id, interface: CaptureInterface, filter: CaptureFilter.default('') }),
    result: z.object({ captureId: id, node: z.string(), interface: z.string(), filter: z.string(), command: z.string() }),
  },
  'capture.stop': {
    params: z.object({ captureId: id }),
    result: z.object({ stopped: z.boolean() }),
  },
  /** Forgets a capture's packets (stopping it first). */
  'capture.discard': {
    params: z.object({ captureId: id }),
    result: z.object({ discarded: z.boolean() }),
  },
  /** One packet's bytes, for the detail tree and the hex pane (decoded in the renderer). */
  'capture.packet': {
    params: z.object({ captureId: id, n: z.number().int().min(1) }),
    result: z.object({ n: z.number().int(), linkType: z.number().int(), origLen: z.number().int(), tsSec: z.number(), tsNsec: z.number(), base64: z.string() }),
  },
  /**
   * The packets of one or more captures as a file, merged in time order; pcapng keeps one
   * interface block per capture, with the node and filter in comments. Saved to `path` when the
   * app chose one (Electron's save dialog), else returned for a download (web mode).
   */
  'capture.export': {
    params: z.object({ captureIds: z.array(id).min(1).max(32), format: z.enum(['pcap', 'pcapng']) }),
    result: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('saved'), path: z.string(), packets: z.number().int(), bytes: z.number().int() }),
      z.object({ kind: z.literal('download'), fileName: z.string(), base64: z.string(), packets: z.number().int(), bytes: z.number().int() }),
      z.object({ kind: z.literal('cancelled') }),
    ]),
  },
} as const;

export const captureNotifications = {
  /** The renderer has taken this many more rows of the capture: see flow-control.ts. */
  'capture.ack': z.object({ captureId: id, rows: z.number().int().min(0) }),
} as const;

export const captureEvents = {
  /**
   * A batch of rows. `skipped` counts (from the start) the rows not sent because the renderer
   * was behind; those packets are still in the capture and in every export.
   */
  'capture.packets': z.object({
    captureId: id,
    rows: z.array(PacketRow),
    captured: z.number().int().min(0),
    bytes: z.number().int().min(0),
    skipped: z.number().int().min(0),
    /** Seconds since the epoch when the batch was cut (backend clock). */
    at: z.number(),
    tally: EncapTally,
  }),
  /** The capture ended: stopped, tcpdump failed, or the connection dropped. Its packets are kept. */
  'capture.end': z.object({
    captureId: id,
    reason: z.string(),
    captured: z.number().int().min(0),
    /** tcpdump's own count of packets the kernel dropped, when it said so. */
    kernelDropped: z.number().int().min(0).optional(),
    error: z.boolean(),
  }),
} as const;
