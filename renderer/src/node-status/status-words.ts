// An agent's published status in the words the Nodes and BGP peers tables show, the same in both.
import type { NodeStatusEntry } from '../../../shared/api/node-status-contract.ts';
import type { NodeAgentStatus } from '../../../shared/model/node-agent-status.ts';

/** A timestamp as the clock on the wall shows it (24 h), for the tables. */
// One formatter for every cell: toLocaleTimeString() builds one per call (~0.1 ms), which was
// most of the time a table took to draw the rows a scroll brings in.
const clock = new Intl.DateTimeFormat([], { hour: 'numeric', minute: 'numeric', second: 'numeric', hour12: false });

export function clockTime(iso: string | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : clock.format(date);
}

/** Ready, Degraded, Starting, or that the agent no longer reports. */
export function agentWords(entry: NodeStatusEntry): string {
  if (!entry.status) return `Unreadable status: ${entry.invalid ?? 'invalid'}`;
  if (entry.stale) return `Not reporting since ${clockTime(entry.status.heartbeatAt)}`;
  return entry.status.health;
}

/** The value of data-health: the agent's health, or stale / invalid. */
export function healthKey(entry: NodeStatusEntry): string {
  if (!entry.status) return 'invalid';
  return entry.stale ? 'stale' : entry.status.health;
}

export function sessionWords(status: NodeAgentStatus): string {
  return status.bgp.running ? `${status.bgp.established} of ${status.bgp.total} sessions up` : 'Off';
}

/** The mode the agent programs: the mode alone for one pool, each pool's otherwise. */
export function modeWords(status: NodeAgentStatus): string {
  if (status.pools.length === 0) return 'no pool';
  if (status.pools.length === 1) return status.pools[0]!.mode;
  return status.pools.map((p) => `${p.name}: ${p.mode}`).join('; ');
}

/** Whether the last pass applied the current desired state. */
export function passWords(status: NodeAgentStatus): string {
  return status.dataplane.inSync ? 'In sync' : 'Not in sync';
}

/** When the last pass ran and what it took, as of the agent's last write. */
export function passDetail(status: NodeAgentStatus): string {
  const { lastPassAt, lastPassMs } = status.dataplane;
  return [lastPassAt ? clockTime(lastPassAt) : '', lastPassMs !== undefined ? `${Math.round(lastPassMs)} ms` : ''].filter(Boolean).join(', ');
}

/** The agent's problems and its dataplane's, as one list. */
export function problemsOf(status: NodeAgentStatus): string[] {
  return [...status.problems, ...status.dataplane.problems];
}

/** A node's status by its Kubernetes name, or by the name of the cluster node that has `address` as its InternalIP. */
export function statusFor(
  statuses: ReadonlyMap<string, NodeStatusEntry>,
  name: string,
  address: string | undefined,
  clusterNodes: ReadonlyArray<{ name: string; addresses: ReadonlyArray<{ type: string; address: string }> }>,
): NodeStatusEntry | undefined {
  const byName = statuses.get(name);
  if (byName) return byName;
  const node = clusterNodes.find((n) => n.addresses.some((a) => a.type === 'InternalIP' && a.address === address));
  return node ? statuses.get(node.name) : undefined;
}
