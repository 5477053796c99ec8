// One node as the scan sees it: its kernel's tables parsed from the scan script's sections, and
// what they should be: the plan the agent's own planner makes for the node from the cluster's
// objects (shared/dataplane-plan), with the node's host interface, MTU and gateway as read.
import { desiredDataplane, planDataplane, type DataplanePlan, type LocalFacts } from '../dataplane-plan/index.ts';
import type { ClusterNode, ClusterSnapshot } from '../model/cluster-snapshot.ts';
import type { DataplaneState } from '../model/dataplane-state.ts';
import { formatIPv4, type InterfaceAddress } from '../net/index.ts';
import { listOf, type FdbEntry, type IpAddr, type IpLink, type IpNeigh, type IpRoute } from './ip-json.ts';
import type { ScanNodeEvidence } from './scan-evidence.ts';
import type { FindingFix, ScanFinding, ScanSeverity } from './scan-result.ts';
import type { ScanCode } from './scan-codes.ts';

export interface NodeScan {
  name: string;
  me: ClusterNode & { ipv4Address: InterfaceAddress };
  nodeIp: string;
  evidence: ScanNodeEvidence;
  snapshot: ClusterSnapshot;
  routes: IpRoute[];
  links: IpLink[];
  addrs: (IpAddr & { mtu?: number })[];
  neigh: IpNeigh[];
  fdb: FdbEntry[];
  hostInterface: string | undefined;
  hostMtu: number;
  gateway: string | undefined;
  state: DataplaneState;
  plan: DataplanePlan;
  /** The node's clock (epoch seconds) when the script ran. */
  clock: number | undefined;
}

export function nodeScan(snapshot: ClusterSnapshot, evidence: ScanNodeEvidence): NodeScan | string {
  const me = snapshot.nodes.find((n) => n.name === evidence.node);
  if (!me) return `${evidence.node} is not a Node of the cluster`;
  if (!me.ipv4Address) return `${evidence.node} has no projectcalico.org/IPv4Address annotation, so its plan cannot be made (is calico-node or the Gingham agent running on it?)`;
  const s = evidence.sections;
  const routes = listOf<IpRoute>(s['routes']);
  const links = listOf<IpLink>(s['links']);
  const addrs = listOf<IpAddr & { mtu?: number }>(s['addrs']);
  const nodeIp = formatIPv4(me.ipv4Address.address);
  const hostInterface = addrs.find((a) => (a.addr_info ?? []).some((i) => i.local === nodeIp))?.ifname;
  const hostMtu = links.find((l) => l.ifname === hostInterface)?.mtu ?? 1500;
  const gateway = routes.find((r) => r.dst === 'default')?.gateway;
  const local: LocalFacts = {
    nodeName: me.name,
    interface: hostInterface ?? 'eth0',
    address: me.ipv4Address,
    ...(me.ipipTunnelAddress ? { ipipTunnelAddress: me.ipipTunnelAddress } : {}),
    ...(me.vxlanTunnelAddress ? { vxlanTunnelAddress: me.vxlanTunnelAddress } : {}),
  };
  let state: DataplaneState;
  let plan: DataplanePlan;
  try {
    state = desiredDataplane(snapshot, local, undefined);
    plan = planDataplane(state, { mtu: hostMtu, ...(gateway ? { gateway } : {}) });
  } catch (error) {
    return `${evidence.node}'s plan cannot be made from the cluster's objects: ${(error as Error).message}`;
  }
  const clock = Number((s['clock'] ?? '').trim().split(/\s+/)[0]);
  return {
    name: me.name,
    me: me as NodeScan['me'],
    nodeIp,
    evidence,
    snapshot,
    routes,
    links,
    addrs,
    neigh: listOf<IpNeigh>(s['vxlan-neigh']),
    fdb: listOf<FdbEntry>(s['vxlan-fdb']),
    hostInterface,
    hostMtu,
    gateway,
    state,
    plan,
    clock: Number.isFinite(clock) && clock > 0 ? clock : undefined,
  };
}

export function finding(code: ScanCode, node: string, subject: string, severity: ScanSeverity, message: string, evidence: string[], fix?: FindingFix): ScanFinding {
  return { id: `${code}@${node}:${subject}`, code, node, severity, message, evidence, ...(fix ? { fix } : {}) };
}

/** A fix the console may run (shown first, run on the admin's word). */
export const safeFix = (description: string, commands: string[]): FindingFix => ({ description, safe: true, commands });
/** What to do, when it is not the console's to do. */
export const advice = (description: string): FindingFix => ({ description, safe: false, commands: [] });
