// The agents' published status (GinghamNodeStatus) of the connected cluster, shared by the views:
// one subscription per window for the context, fed by the backend's one watch of the kind. The
// full state arrives first (in parts), then deltas; deltas are applied at most once a frame, so
// that a mode switch on a large cluster (every node writing twice within seconds) redraws the
// tables a few dozen times rather than a thousand.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import type { NodeStatusEntry, NodeStatusWatchState } from '../../../shared/api/node-status-contract.ts';
import { isTransportLoss, useClient } from '../api/client-context.ts';

export interface NodeStatusState {
  context: string | undefined;
  /** The backend's watch: undefined until its first event. */
  watch: NodeStatusWatchState | undefined;
  statuses: ReadonlyMap<string, NodeStatusEntry>;
  /** The cluster's full list has been read: a node without a status has no agent publishing one. */
  complete: boolean;
  /** The watch has said which nodes publish (`complete`), or that it cannot (no such kind, a first list that failed): read the rest over SSH. */
  settled: boolean;
  /** Asks for the full state again, and the backend to retry at once (after an agent install). */
  resync(): void;
}

const empty: ReadonlyMap<string, NodeStatusEntry> = new Map();
const NodeStatusContext = createContext<NodeStatusState>({ context: undefined, watch: undefined, statuses: empty, complete: false, settled: true, resync: () => undefined });

export function useNodeStatus(): NodeStatusState {
  return useContext(NodeStatusContext);
}

export function NodeStatusProvider({ context, children }: { context: string | undefined; children: ReactNode }) {
  const client = useClient();
  const [watch, setWatch] = useState<NodeStatusWatchState | undefined>();
  const [statuses, setStatuses] = useState<ReadonlyMap<string, NodeStatusEntry>>(empty);
  const [snapshotDone, setSnapshotDone] = useState(false);

  useEffect(() => {
    setWatch(undefined);
    setStatuses(empty);
    setSnapshotDone(false);
    if (!context) return;
    let subscriptionId: string | undefined;
    let stopped = false;
    // What the events built, committed to React state at most once a frame.
    let held = new Map<string, NodeStatusEntry>();
    let building: Map<string, NodeStatusEntry> | undefined;
    let latestWatch: NodeStatusWatchState | undefined;
    let frame: number | undefined;
    const commit = () => {
      frame = undefined;
      if (stopped) return;
      setStatuses(new Map(held));
      setWatch(latestWatch);
    };
    const later = () => {
      frame ??= window.requestAnimationFrame(commit);
    };
    const offSnapshot = client.on('nodeStatus.snapshot', (event) => {
      if (event.context !== context) return;
      if (event.first) building = new Map();
      for (const entry of event.statuses) building?.set(entry.node, entry);
      if (event.last && building) {
        held = building;
        building = undefined;
        latestWatch = event.watch;
        setSnapshotDone(true);
        later();
      }
    });
    const offDelta = client.on('nodeStatus.delta', (event) => {
      if (event.context !== context) return;
      for (const name of event.deleted) held.delete(name);
      for (const entry of event.upserted) held.set(entry.node, entry);
      latestWatch = event.watch;
      later();
    });
    client.request('nodeStatus.subscribe', { context }).then(
      (answer) => {
        subscriptionId = answer.subscriptionId;
        if (stopped) void client.request('nodeStatus.unsubscribe', { subscriptionId }).catch(() => undefined);
      },
      (error: unknown) => {
        if (!stopped && !isTransportLoss(error)) setWatch({ connected: false, synced: false, missing: false, error: (error as Error).message });
      },
    );
    return () => {
      stopped = true;
      offSnapshot();
      offDelta();
      if (frame !== undefined) window.cancelAnimationFrame(frame);
      if (subscriptionId) void client.request('nodeStatus.unsubscribe', { subscriptionId }).catch(() => undefined);
    };
  }, [client, context]);

  // Subscribing again to the same context is the backend's resend (and retry now).
  const resync = useCallback(() => {
    if (context) void client.request('nodeStatus.subscribe', { context }).catch(() => undefined);
  }, [client, context]);

  const complete = snapshotDone && watch?.synced === true;
  const settled = !context || complete || watch?.missing === true || (watch !== undefined && !watch.synced && watch.error !== undefined);
  return <NodeStatusContext.Provider value={{ context, watch, statuses, complete, settled, resync }}>{children}</NodeStatusContext.Provider>;
}
