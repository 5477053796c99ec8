// The console API's part for running the cluster's networking: each node's agent and BGP state,
// its route table and BGP peers (from the agent over SSH, or read-only from the kernel and BIRD
// where no agent runs), and the IP pools with a preview of a mode change and each node's
// convergence after it. Kept apart from console-contract.ts, which spreads these in.
import { z } from 'zod';
import { encapsulationModes } from '../model/modes.ts';
import { RouteRow } from './agent-contract.ts';

const id = z.string().min(1).max(128);
const name = z.string().min(1).max(253);
const context = name;

export { RouteRow } from './agent-contract.ts';

export const NodeRoutes = z.object({
  nodeId: id,
  /** `agent`: the agent's routes RPC, with owners. `kernel`: `ip -json route` over SSH, read-only. */
  source: z.enum(['agent', 'kernel']),
  readOnly: z.boolean(),
  routes: z.array(RouteRow),
  /** Why the agent was not used, for a read-only table. */
  note: z.string().optional(),
});
export type NodeRoutes = z.infer<typeof NodeRoutes>;

export const BgpPeerRow = z.object({
  address: z.string(),
  type: z.string(),
  state: z.string(),
  since: z.string(),
  info: z.string(),
  received: z.number().optional(),
  advertised: z.number().optional(),
  lastError: z.string().optional(),
});
export type BgpPeerRow = z.infer<typeof BgpPeerRow>;

export const NodePeers = z.object({
  nodeId: id,
  source: z.enum(['agent', 'bird', 'none']),
  readOnly: z.boolean(),
  /** False when BGP is off on the node; `reason` says why (VXLAN-only pools, no agent, ...). */
  running: z.boolean(),
  reason: z.string().optional(),
  asn: z.number().optional(),
  peers: z.array(BgpPeerRow),
  /** BGPPeers the agent leaves out, and why (their password Secret cannot be read). */
  leftOut: z.array(z.object({ peer: z.string(), reason: z.string() })).optional(),
});
export type NodePeers = z.infer<typeof NodePeers>;

/** As read over SSH; `not-read`: left out of the SSH round (its agent publishes its status, see node-status-contract.ts). */
export const AgentHealth = z.enum(['running', 'not-answering', 'not-installed', 'no-ssh', 'ssh-disconnected', 'not-read']);

export const NodeOverview = z.object({
  name,
  internalIp: z.string().optional(),
  /** Calico's projectcalico.org/IPv4Address: the address with the subnet's prefix length. */
  subnet: z.string().optional(),
  /** The SSH node that reaches it, matched by name or address. */
  sshNodeId: id.optional(),
  agent: z.object({
    health: AgentHealth,
    version: z.string().optional(),
    datastoreConnected: z.boolean().optional(),
    lastPass: z.object({ changes: z.number(), failures: z.number(), ms: z.number() }).optional(),
    message: z.string().optional(),
  }),
  bgp: z.object({ state: z.enum(['running', 'off', 'unknown']), established: z.number().optional(), peers: z.number().optional(), reason: z.string().optional() }),
});
export type NodeOverview = z.infer<typeof NodeOverview>;

/** The fields of an IPPool the console edits; the rest of a pool's spec is kept as it is. */
export const PoolFields = z.object({
  cidr: z.string(),
  blockSize: z.number().int(),
  ipipMode: z.enum(encapsulationModes),
  vxlanMode: z.enum(encapsulationModes),
  natOutgoing: z.boolean(),
  disabled: z.boolean(),
});
export type PoolFields = z.infer<typeof PoolFields>;

export const PoolRow = z.object({ name, resourceVersion: z.string(), fields: PoolFields });
export type PoolRow = z.infer<typeof PoolRow>;

/** One spec field as stored and as the API server would store it after the change (JSON text). */
export const SpecChange = z.object({ field: z.string(), before: z.string().optional(), after: z.string().optional() });
export type SpecChange = z.infer<typeof SpecChange>;

export const PoolDryRun = z.object({ created: z.boolean(), changes: z.array(SpecChange) });
export type PoolDryRun = z.infer<typeof PoolDryRun>;

export const PlannedRoute = z.object({ dst: z.string(), via: z.string(), owner: z.string() });
export type PlannedRoute = z.infer<typeof PlannedRoute>;

export const NodePreview = z.object({
  node: name,
  /** False when the node's desired state could not be read (no agent): then `reason`. */
  available: z.boolean(),
  reason: z.string().optional(),
  routes: z.object({ added: z.array(PlannedRoute), removed: z.array(PlannedRoute) }),
  devices: z.object({ added: z.array(z.string()), removed: z.array(z.string()) }),
  bgp: z.object({ added: z.array(z.string()), removed: z.array(z.string()) }),
});
export type NodePreview = z.infer<typeof NodePreview>;

export const NodeConvergence = z.object({ node: name, converged: z.boolean(), detail: z.string() });
export type NodeConvergence = z.infer<typeof NodeConvergence>;

const Reach = z.object({ ok: z.boolean(), ms: z.number().optional(), status: z.number().optional(), error: z.string().optional() });

export const MatrixCell = z.object({ from: name, to: name, ping: Reach, http: Reach });
export type MatrixCell = z.infer<typeof MatrixCell>;

export const ConnectivityMatrix = z.object({
  pods: z.array(z.object({ name, namespace: name, node: name, ip: z.string() })),
  cells: z.array(MatrixCell),
  /** Pods whose agent could not run the probe, and why. */
  errors: z.array(z.object({ pod: name, message: z.string() })),
  ms: z.number(),
});
export type ConnectivityMatrix = z.infer<typeof ConnectivityMatrix>;

export const clusterOpsRequests = {
  /** Every pod to every other pod: ping and HTTP GET (port 80) from the source pod's namespace, run by the agent on its node. */
  'connectivity.matrix': {
    params: z.object({ context, port: z.number().int().min(1).max(65535).default(80) }),
    result: ConnectivityMatrix,
  },
  /**
   * The cluster's nodes (addresses, subnet, matching SSH node) and, for those in `sshFor` (every
   * node when absent), the agent and BGP state read over SSH; the others are `not-read`: the
   * renderer has their agents' published status from nodeStatus.subscribe.
   */
  'cluster.overview': {
    params: z.object({ context, sshFor: z.array(name).max(5000).optional() }),
    result: z.object({ nodes: z.array(NodeOverview) }),
  },
  'node.routes': {
    params: z.object({ nodeId: id }),
    result: NodeRoutes,
  },
  'node.peers': {
    params: z.object({ nodeId: id }),
    result: NodePeers,
  },
  'ippools.list': {
    params: z.object({ context }),
    result: z.object({ pools: z.array(PoolRow) }),
  },
  /** Creates (no resourceVersion) or updates (the resourceVersion the user edited) a pool; a newer object on the server is a `conflict`. */
  'ippools.save': {
    params: z.object({ context, name, fields: PoolFields, resourceVersion: z.string().optional() }),
    result: PoolRow,
  },
  /** The save sent as a server-side dry run (dryRun=All): what the API server would store, nothing stored. */
  'ippools.dryRun': {
    params: z.object({ context, name, fields: PoolFields, resourceVersion: z.string().optional() }),
    result: PoolDryRun,
  },
  'ippools.delete': {
    params: z.object({ context, name, resourceVersion: z.string() }),
    result: z.object({ deleted: z.boolean() }),
  },
  /** What each node would add and remove if pool `name` had `fields`: the agent's own planner, run on each node's desired state. */
  'ippools.preview': {
    params: z.object({ context, name, fields: PoolFields }),
    result: z.object({ nodes: z.array(NodePreview) }),
  },
  /** Whether each node's agent has taken pool `name` as `fields` and its kernel routes match the plan. */
  'ippools.convergence': {
    params: z.object({ context, name, fields: PoolFields }),
    result: z.object({ nodes: z.array(NodeConvergence) }),
  },
} as const;
