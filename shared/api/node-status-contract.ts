// The console API's part for the agents' published state (GinghamNodeStatus, one object per node):
// the renderer subscribes per cluster context, the backend keeps one list+watch of the kind for
// that context whoever subscribes, and pushes its state as events: the full state first (in parts
// when large), then one delta per change. Spread into console-contract.ts.
import { z } from 'zod';
import { nodeAgentStatusSchema } from '../model/node-agent-status.ts';

const id = z.string().min(1).max(128);
const name = z.string().min(1).max(253);

export const NodeStatusEntry = z.object({
  /** The node's name (the object's). */
  node: name,
  resourceVersion: z.string().optional(),
  /** The heartbeat is older than the schema allows (staleAfterSeconds): the agent stopped or lost the API server. */
  stale: z.boolean(),
  /** Absent when the object does not match the schema (`invalid` says why). */
  status: nodeAgentStatusSchema.optional(),
  invalid: z.string().optional(),
});
export type NodeStatusEntry = z.infer<typeof NodeStatusEntry>;

export const NodeStatusWatchState = z.object({
  /** The last list or watch reached the API server. */
  connected: z.boolean(),
  /** A first list has been read: the statuses are the cluster's (absent ones are nodes without the agent). */
  synced: z.boolean(),
  /** The cluster has no GinghamNodeStatus kind: no Gingham agent has been installed there. */
  missing: z.boolean(),
  error: z.string().optional(),
});
export type NodeStatusWatchState = z.infer<typeof NodeStatusWatchState>;

export const nodeStatusRequests = {
  /**
   * Starts (or shares) the watch of the context's GinghamNodeStatus objects; its state arrives as
   * `nodeStatus.snapshot` events, then `nodeStatus.delta`. Subscribing again to the same context
   * returns the same subscription, sends the full state again and retries at once a watch that
   * waits to retry (the kind may just have been installed).
   */
  'nodeStatus.subscribe': {
    params: z.object({ context: name }),
    result: z.object({ subscriptionId: id }),
  },
  'nodeStatus.unsubscribe': {
    params: z.object({ subscriptionId: id }),
    result: z.object({ unsubscribed: z.boolean() }),
  },
} as const;

export const nodeStatusEvents = {
  /** The full state, in parts: the first part replaces what the subscriber held, the last completes it. */
  'nodeStatus.snapshot': z.object({
    subscriptionId: id,
    context: name,
    watch: NodeStatusWatchState,
    statuses: z.array(NodeStatusEntry),
    first: z.boolean(),
    last: z.boolean(),
  }),
  /** What changed since: statuses added or changed (or turned stale), nodes whose status went, and the watch's state. */
  'nodeStatus.delta': z.object({
    subscriptionId: id,
    context: name,
    watch: NodeStatusWatchState,
    upserted: z.array(NodeStatusEntry),
    deleted: z.array(name),
  }),
} as const;
