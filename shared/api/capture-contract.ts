// The console API for live packet captures: start tcpdump on a node's interface with a
// capture filter, packet rows streamed in batches with flow control (the renderer acknowledges
// rows it has taken; rows it could not take are counted as skipped, never dropped from the
// export), one packet's bytes on demand for the detail tree and hex pane, and pcap/pcapng export.
// And flow captures: one flow between two pods captured at every hop on both nodes at once, its
// packets matched hop by hop (shared/capture/), exported as one pcapng. Spread into console-contract.ts.
import { z } from 'zod';
import { FlowPlan } from '../capture/flow-hops.ts';

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

const exportResult = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('saved'), path: z.string(), packets: z.number().int(), bytes: z.number().int() }),
  z.object({ kind: z.literal('download'), fileName: z.string(), base64: z.string(), packets: z.number().int(), bytes: z.number().int() }),
  z.object({ kind: z.literal('cancelled') }),
]);

/** One capture point of a flow capture as it runs: the plan's point, its capture and how far it got. */
export const FlowPointState = z.object({
  /** The point's capture: capture.packet reads its packets. */
  captureId: id,
  command: z.string(),
  captured: z.number().int().min(0),
  bytes: z.number().int().min(0),
  state: z.enum(['running', 'ended']),
  reason: z.string().optional(),
  error: z.boolean().optional(),
  kernelDropped: z.number().int().min(0).optional(),
});
export type FlowPointState = z.infer<typeof FlowPointState>;

/** One journey at one hop (shared/capture/packet-correlation.ts). */
export const JourneyHop = z.object({
  packets: z.array(z.number().int().min(1)),
  count: z.number().int().min(1),
  /** Microseconds after the report's origin. */
  t: z.number(),
  coverage: z.number().min(0).max(1),
  shape: z.enum(['same', 'split', 'joined']),
  outer: z.string().optional(),
});
export type JourneyHop = z.infer<typeof JourneyHop>;

export const JourneyStatus = z.enum(['complete', 'vanished', 'missed', 'unjudged']);

/** One inner packet followed across the hops of its direction. */
export const Journey = z.object({
  id: z.number().int().min(1),
  direction: z.enum(['forward', 'reverse']),
  summary: z.string(),
  /** Its decoded row (outer header from the underlay): what the display filter reads. */
  record: PacketRow,
  hops: z.array(JourneyHop.nullable()),
  status: JourneyStatus,
  firstSeen: z.number().int(),
  lastSeen: z.number().int(),
});
export type Journey = z.infer<typeof Journey>;

const LegLatency = z.object({ from: z.number().int(), to: z.number().int(), count: z.number().int(), p50Us: z.number(), p99Us: z.number(), minUs: z.number(), maxUs: z.number() });

export const DirectionReport = z.object({
  direction: z.enum(['forward', 'reverse']),
  label: z.string(),
  hops: z.array(z.number().int()),
  journeys: z.number().int(),
  complete: z.number().int(),
  vanished: z.number().int(),
  missed: z.number().int(),
  unjudged: z.number().int(),
  seen: z.array(z.number().int()),
  legs: z.array(LegLatency),
  endToEnd: LegLatency.optional(),
});
export type DirectionReport = z.infer<typeof DirectionReport>;

export const captureRequests = {
  'capture.start': {
    params: z.object({
      nodeId: id,
      interface: CaptureInterface,
      filter: CaptureFilter.default(''),
      /** tcpdump's -s on the node: bytes kept of each packet, 0 (the default) for whole packets. */
      snapLen: z.number().int().min(0).max(262144).optional(),
    }),
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
    result: exportResult,
  },
  /**
   * Follows the flow between two pods: the doctor's evidence names the interfaces its packets cross
   * on both nodes (veth, tunnel device, underlay), and tcpdump starts on each at once, filtered on
   * the node for the two pods' addresses (inside the outer header on the underlay, and the VNI).
   * Resolves once every point listens. The points' packets are not streamed as rows: progress comes
   * as capture.flowProgress, the correlation from capture.flowReport.
   */
  'capture.flowStart': {
    params: z.object({
      context: z.string().min(1).max(253),
      /** Pods, as the doctor names them (`pod-1`, `namespace/pod-1`, or an address). */
      source: z.string().min(1).max(300),
      destination: z.string().min(1).max(300),
      protocol: z.enum(['tcp', 'udp', 'icmp']).optional(),
      port: z.number().int().min(1).max(65535).optional(),
      /** tcpdump's -s on every point: 0 (default) keeps whole packets. */
      snapLen: z.number().int().min(0).max(262144).optional(),
    }),
    result: z.object({
      flowId: id,
      plan: FlowPlan,
      points: z.array(FlowPointState),
      /** The doctor's prediction for the path, in one sentence. */
      predicted: z.object({ ok: z.boolean(), code: z.string(), message: z.string() }),
    }),
  },
  /** Stops every point of the flow (each waits out tcpdump's buffer first, as capture.stop does). */
  'capture.flowStop': {
    params: z.object({ flowId: id }),
    result: z.object({ stopped: z.boolean() }),
  },
  'capture.flowDiscard': {
    params: z.object({ flowId: id }),
    result: z.object({ discarded: z.boolean() }),
  },
  /**
   * The flow's journeys so far: every inner packet matched across the hops of its direction, with
   * its time at each, and per direction the packets seen at each hop and each hop's latency.
   * `filter` is a display filter (ip.addr, vxlan.vni, tcp.port ... as in the Captures list) on the
   * journeys' rows; `status` picks one kind (complete, vanished: lost after its last hop, missed: a capture missed it
   * at a hop but a later one saw it, unjudged: outside the time every point was capturing); `offset`/`limit` page the list.
   */
  'capture.flowReport': {
    params: z.object({
      flowId: id,
      filter: z.string().max(1024).optional(),
      status: z.enum(['all', 'complete', 'vanished', 'missed', 'unjudged']).optional(),
      direction: z.enum(['both', 'forward', 'reverse']).optional(),
      offset: z.number().int().min(0).optional(),
      limit: z.number().int().min(1).max(5000).optional(),
    }),
    result: z.object({
      flowId: id,
      running: z.boolean(),
      points: z.array(FlowPointState),
      /** Seconds since the epoch: journeys' times are microseconds after it. */
      origin: z.number(),
      directions: z.array(DirectionReport),
      /** Journeys passing the filter, and the page of them. */
      total: z.number().int(),
      journeys: z.array(Journey),
      /** Per point: packets that belong to no journey of the flow. */
      unmatched: z.array(z.number().int()),
      /** The display filter's complaint, when it does not compile. */
      filterError: z.string().optional(),
    }),
  },
  /** The whole flow as one pcapng: an interface block per node and hop (`worker-1/ens5`), packet comments naming each packet's journey and hop. */
  'capture.flowExport': {
    params: z.object({ flowId: id }),
    result: exportResult,
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
    /**
     * Packets (and their bytes) the console dropped, oldest first, to keep the capture within its
     * bound in bytes: the capture keeps running and keeps the newest. Rows numbered below
     * `dropped + 1` can no longer be opened or exported.
     */
    dropped: z.number().int().min(0),
    droppedBytes: z.number().int().min(0),
    /** tcpdump's count so far of packets the node's kernel dropped (its ring was full: the console or the link did not keep up). */
    kernelDropped: z.number().int().min(0).optional(),
    /** Seconds since the epoch when the batch was cut (backend clock). */
    at: z.number(),
    tally: EncapTally,
  }),
  /** A flow capture's points: packets captured so far and which have ended (at most 4 a second). */
  'capture.flowProgress': z.object({ flowId: id, points: z.array(FlowPointState), running: z.boolean() }),
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
