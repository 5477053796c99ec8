// The console API's part for BGP route reflectors (docs/bgp.md, "Route reflectors"): the advice
// (the mesh's session count against the documented thresholds, which nodes would make good
// reflectors), and the migration from the node-to-node mesh to reflectors and back, done so that
// no node ever loses a route: reflectors up and established with every client, their routes
// received, before the mesh goes; the mesh up everywhere before the reflectors go. The run's
// report is pushed as `reflectors.progress` events after each step and answered at the end.
import { z } from 'zod';

const name = z.string().min(1).max(253);

/** What a node is in the cluster's BGP now. */
export const BgpRole = z.enum(['mesh', 'reflector', 'client', 'none']);
export type BgpRole = z.infer<typeof BgpRole>;

export const ReflectorNode = z.object({
  name,
  /** The node's BGP address (Calico's IPv4Address annotation, without its length). */
  address: z.string().optional(),
  /** The node's subnet (the address with its prefix length), and its zone label. */
  subnet: z.string().optional(),
  zone: z.string().optional(),
  role: BgpRole,
  clusterId: z.string().optional(),
});
export type ReflectorNode = z.infer<typeof ReflectorNode>;

/** The figures the advice is judged by, from Calico's documentation and calico#1579. */
export const meshThresholds = {
  /** Calico: route reflectors are worth considering from about 50 nodes... */
  consider: 50,
  /** ...and advised beyond about 100 (a full mesh's sessions grow with the square of the nodes). */
  advised: 100,
  /** calico#1579: a 1000-node full mesh stalled at about 700 nodes. */
  stalledAt: 700,
} as const;

export const ReflectorCandidate = z.object({ node: name, subnet: z.string().optional(), zone: z.string().optional(), why: z.string() });
export type ReflectorCandidate = z.infer<typeof ReflectorCandidate>;

export const ReflectorAdvice = z.object({
  context: z.string(),
  /** How the cluster peers now: a full mesh, reflectors with the mesh off, both (mid-migration), or neither. */
  topology: z.enum(['mesh', 'reflectors', 'mesh-and-reflectors', 'none']),
  nodes: z.array(ReflectorNode),
  /** BGP sessions of the full mesh for these nodes (n(n-1)/2), and per node (n-1). */
  meshSessions: z.int().min(0),
  meshSessionsPerNode: z.int().min(0),
  /** Sessions with the candidates as reflectors (r(n-r) + r(r-1)/2), and per client (r). */
  reflectorSessions: z.int().min(0),
  /** mesh-fine: under `consider` nodes; consider: up to `advised`; advised: beyond. */
  level: z.enum(['mesh-fine', 'consider', 'advised']),
  thresholds: z.object({ consider: z.int(), advised: z.int(), stalledAt: z.int() }),
  /** The advice in words, each with the figure it rests on. */
  reasons: z.array(z.string()),
  /** What in the configuration leaves a node without the sessions it needs (a reflector no BGPPeer peers, a client of none). */
  problems: z.array(z.string()),
  /** The nodes proposed as reflectors: spread over subnets and zones, the current reflectors first. */
  candidates: z.array(ReflectorCandidate),
  /** Sessions the agents publish (GinghamNodeStatus): Established of all, when known. */
  sessions: z.object({ established: z.int().min(0), total: z.int().min(0) }).optional(),
});
export type ReflectorAdvice = z.infer<typeof ReflectorAdvice>;

export const ReflectorTarget = z.enum(['reflectors', 'mesh']);
export type ReflectorTarget = z.infer<typeof ReflectorTarget>;

export const ReflectorStepId = z.enum([
  'check',
  'peering',
  'reflectors',
  'wait-reflected',
  'mesh-off',
  'mesh-on',
  'wait-mesh',
  'unreflect',
  'remove-peering',
  'verify',
]);
export type ReflectorStepId = z.infer<typeof ReflectorStepId>;

export const ReflectorStep = z.object({
  id: ReflectorStepId,
  title: z.string(),
  state: z.enum(['pending', 'running', 'done', 'failed', 'skipped']),
  /** ms from the start of the run when the step began, and how long it took. */
  startedMs: z.number().optional(),
  ms: z.number().optional(),
  detail: z.string().optional(),
});
export type ReflectorStep = z.infer<typeof ReflectorStep>;

export const ReflectorMigrationReport = z.object({
  id: z.string(),
  context: z.string(),
  to: ReflectorTarget,
  /** The reflector nodes (to reflectors: those made reflectors; to the mesh: those that were). */
  reflectors: z.array(z.string()),
  clusterId: z.string(),
  state: z.enum(['running', 'done', 'failed']),
  message: z.string(),
  startedAt: z.string(),
  ms: z.number(),
  steps: z.array(ReflectorStep),
  log: z.array(z.string()),
});
export type ReflectorMigrationReport = z.infer<typeof ReflectorMigrationReport>;

/** Calico's documented example: the label the BGPPeer selects reflectors by, and a cluster ID. */
export const reflectorLabel = 'route-reflector';
export const defaultClusterId = '244.0.0.1';
/** The BGPPeer the migration creates: every node peers with every reflector (Calico's documented form). */
export const reflectorPeerName = 'gingham-route-reflectors';

export const reflectorsRequests = {
  /** The advice for the context's cluster. Changes nothing. */
  'reflectors.advice': {
    params: z.object({ context: name }),
    result: ReflectorAdvice,
  },
  /**
   * From the mesh to reflectors on `nodes` (default: the advice's candidates), or back to the
   * mesh. A step that cannot be completed stops the run where it is, which routes nothing less
   * than before it (each step only adds sessions before one removes any). `id` names the run in its events.
   */
  'reflectors.migrate': {
    params: z.object({
      context: name,
      to: ReflectorTarget,
      nodes: z.array(name).max(64).optional(),
      clusterId: z.string().optional(),
      id: z.string().min(1).max(128),
    }),
    result: ReflectorMigrationReport,
  },
} as const;

export const reflectorsEvents = {
  /** The run's report so far, after each step. */
  'reflectors.progress': ReflectorMigrationReport,
} as const;
