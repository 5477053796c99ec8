// The status each node's agent publishes in the Kubernetes API, one object per node, so that the
// console watches a whole cluster with one watch instead of an SSH round trip per node (docs/status.md).
// Its size is bounded whatever the cluster's size: a node of a 500-node mesh lists its sessions
// only while they are few or failing, and counts the rest, so 500 nodes keep the API server's
// store and watch traffic small (bench/status-scale.ts measures it).
import { z } from 'zod';

export const ginghamGroup = 'gingham.io';
export const nodeAgentStatusKind = {
  apiVersion: `${ginghamGroup}/v1alpha1`,
  kind: 'GinghamNodeStatus',
  plural: 'ginghamnodestatuses',
  scope: 'Cluster',
} as const;

/** Sessions listed one by one up to this many; beyond it only those that are not Established. */
export const listedSessionsMax = 32;
/** Problems kept per part (the log has the rest). */
export const problemsMax = 10;
/** How often an agent refreshes `heartbeatAt` when nothing else changes. */
export const heartbeatSeconds = 60;
/** A status whose heartbeat is older than this is from an agent that stopped or cannot reach the API. */
export const staleAfterSeconds = 3 * heartbeatSeconds;

const session = z.object({
  address: z.string(),
  /** As `calicoctl node status` names it: node-to-node mesh, global, node specific. */
  type: z.string(),
  state: z.string(),
  since: z.string().optional(),
  lastError: z.string().optional(),
});

export const nodeAgentStatusSchema = z.object({
  agentVersion: z.string(),
  /** Ready: programming its plan; Degraded: running with problems (listed); Starting. */
  health: z.enum(['Ready', 'Degraded', 'Starting']),
  problems: z.array(z.string()).max(problemsMax),
  address: z.string().optional(),
  /** The routing mode the agent programs for each pool (the plan's, not the pool's spec). */
  pools: z.array(z.object({ name: z.string(), cidr: z.string(), mode: z.string() })),
  datastore: z.object({ connected: z.boolean() }),
  bgp: z.object({
    running: z.boolean(),
    asn: z.number().optional(),
    established: z.int().min(0),
    total: z.int().min(0),
    /** Every session while there are few, else those not Established (`listed` says which). */
    listed: z.enum(['all', 'not-established']),
    sessions: z.array(session),
  }),
  dataplane: z.object({
    /** The last pass applied the current desired state without a failure. */
    inSync: z.boolean(),
    lastPassAt: z.string().optional(),
    lastPassMs: z.number().optional(),
    routes: z.int().min(0).optional(),
    problems: z.array(z.string()).max(problemsMax),
  }),
  /** When the content last changed. */
  changedAt: z.string(),
  heartbeatAt: z.string(),
});
export type NodeAgentStatus = z.infer<typeof nodeAgentStatusSchema>;

export const nodeAgentStatusObjectSchema = z.object({
  apiVersion: z.literal(nodeAgentStatusKind.apiVersion),
  kind: z.literal(nodeAgentStatusKind.kind),
  metadata: z.looseObject({ name: z.string(), resourceVersion: z.string().optional() }),
  status: nodeAgentStatusSchema,
});
export type NodeAgentStatusObject = z.infer<typeof nodeAgentStatusObjectSchema>;

/** The part of a status that counts as a change (the timestamps do not). */
export function statusContent(status: NodeAgentStatus): string {
  const { changedAt: _changed, heartbeatAt: _heartbeat, dataplane, ...rest } = status;
  const { lastPassAt: _at, lastPassMs: _ms, ...pass } = dataplane;
  return JSON.stringify({ ...rest, dataplane: pass });
}

/**
 * Whether a status is older than its heartbeat allows: the agent has stopped or lost the API.
 * `heartbeatAt` is the agent's clock and `now` the reader's: three heartbeats leave room for skew.
 */
export function isStale(status: Pick<NodeAgentStatus, 'heartbeatAt'>, now = Date.now()): boolean {
  return now - Date.parse(status.heartbeatAt) > staleAfterSeconds * 1000;
}

/** The sessions to list: all while few, else those not Established; the counts always cover all. */
export function sessionsToList<T extends { state: string }>(sessions: readonly T[]): { listed: 'all' | 'not-established'; sessions: T[] } {
  if (sessions.length <= listedSessionsMax) return { listed: 'all', sessions: [...sessions] };
  return { listed: 'not-established', sessions: sessions.filter((s) => s.state !== 'Established').slice(0, listedSessionsMax) };
}

/** The CRD of GinghamNodeStatus: cluster-scoped, named after its node, checked by the schema above. */
export function nodeAgentStatusCrd() {
  const str = { type: 'string' };
  const strings = { type: 'array', items: str };
  const sessionSchema = { type: 'object', required: ['address', 'type', 'state'], properties: { address: str, type: str, state: str, since: str, lastError: str } };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${nodeAgentStatusKind.plural}.${ginghamGroup}`, labels: { 'app.kubernetes.io/managed-by': 'gingham' } },
    spec: {
      group: ginghamGroup,
      names: { kind: nodeAgentStatusKind.kind, listKind: `${nodeAgentStatusKind.kind}List`, plural: nodeAgentStatusKind.plural, singular: nodeAgentStatusKind.kind.toLowerCase(), shortNames: ['gns'] },
      scope: nodeAgentStatusKind.scope,
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          additionalPrinterColumns: [
            { name: 'Health', type: 'string', jsonPath: '.status.health' },
            { name: 'BGP', type: 'string', jsonPath: '.status.bgp.established', description: 'established sessions' },
            { name: 'Sessions', type: 'integer', jsonPath: '.status.bgp.total' },
            { name: 'In sync', type: 'boolean', jsonPath: '.status.dataplane.inSync' },
            { name: 'Heartbeat', type: 'date', jsonPath: '.status.heartbeatAt' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                apiVersion: str,
                kind: str,
                metadata: { type: 'object' },
                status: {
                  type: 'object',
                  required: ['agentVersion', 'health', 'heartbeatAt'],
                  properties: {
                    agentVersion: str,
                    health: { type: 'string', enum: ['Ready', 'Degraded', 'Starting'] },
                    problems: { ...strings, maxItems: problemsMax },
                    address: str,
                    pools: { type: 'array', items: { type: 'object', properties: { name: str, cidr: str, mode: str } } },
                    datastore: { type: 'object', properties: { connected: { type: 'boolean' } } },
                    bgp: {
                      type: 'object',
                      properties: {
                        running: { type: 'boolean' },
                        asn: { type: 'integer' },
                        established: { type: 'integer', minimum: 0 },
                        total: { type: 'integer', minimum: 0 },
                        listed: { type: 'string', enum: ['all', 'not-established'] },
                        sessions: { type: 'array', maxItems: listedSessionsMax, items: sessionSchema },
                      },
                    },
                    dataplane: {
                      type: 'object',
                      properties: {
                        inSync: { type: 'boolean' },
                        lastPassAt: str,
                        lastPassMs: { type: 'number' },
                        routes: { type: 'integer', minimum: 0 },
                        problems: { ...strings, maxItems: problemsMax },
                      },
                    },
                    changedAt: str,
                    heartbeatAt: str,
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
}
