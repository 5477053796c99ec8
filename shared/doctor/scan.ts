// The scan: for every node, what its state should be (the agent's own planner, from the cluster's
// objects) against what its kernel and speaker hold, and the node's health; each finding with its
// code, the evidence and the fix (docs/doctor.md). Pure: a saved evidence file gives the same
// findings. `probeTargets` says which path-MTU probes the scan script sends from a node.
import { formatIPv4 } from '../net/index.ts';
import { bgpFindings } from './scan-bgp.ts';
import { dataplaneFindings } from './scan-dataplane.ts';
import { snapshotFromObjects, type ScanEvidence } from './scan-evidence.ts';
import { agentFindings, diskFindings } from './scan-health.ts';
import { mtuFindings } from './scan-mtu.ts';
import { advice, finding, nodeScan } from './scan-node-facts.ts';
import type { ScanFinding, ScanResult } from './scan-result.ts';
import type { ClusterSnapshot } from '../model/cluster-snapshot.ts';
import { desiredDataplane, planDataplane } from '../dataplane-plan/index.ts';

const severityOrder = { error: 0, warning: 1, info: 2 } as const;

export function sortFindings(findings: ScanFinding[]): ScanFinding[] {
  return [...findings].sort((a, b) => severityOrder[a.severity] - severityOrder[b.severity] || a.node.localeCompare(b.node) || a.id.localeCompare(b.id));
}

export function scanFromEvidence(evidence: ScanEvidence): ScanResult {
  const findings: ScanFinding[] = [];
  const gaps = [...evidence.gaps];
  if (evidence.apiError !== undefined) {
    findings.push(finding('api-server-unreachable', '(cluster)', 'api', 'error', `The API server does not answer: ${evidence.apiError}. Without the cluster's objects nothing can be planned, and the agents keep their last state.`, [evidence.apiError], advice('Check the control plane (kube-apiserver, etcd) and the kubeconfig\'s server address.')));
  }
  for (const u of evidence.unreachable) {
    findings.push(finding('node-unreachable', u.node, 'ssh', 'error', `${u.node} cannot be read over SSH: ${u.error}`, [u.error], advice('Check that the node is up and reachable (a cut link, a stopped sshd), or connect to it under Nodes.')));
  }
  const nodes: ScanResult['nodes'] = evidence.unreachable.map((u) => ({ name: u.node, read: false }));
  if (evidence.objects) {
    const { snapshot, unread } = snapshotFromObjects(evidence.objects);
    for (const u of unread) {
      if (u.ipv6) findings.push(finding('ipv6-not-scanned', '(cluster)', `${u.kind}/${u.name}`, 'info', `${u.kind} ${u.name} is IPv6: the doctor (like the agent) handles IPv4 only for now, so nothing of it is scanned or traced.`, [u.reason]));
      else gaps.push(`${u.kind} ${u.name} left out: ${u.reason}`);
    }
    for (const e of evidence.nodes) {
      nodes.push({ name: e.node, read: true, speaker: e.bgp.source });
      const n = nodeScan(snapshot, e);
      if (typeof n === 'string') {
        findings.push(finding('node-not-scanned', e.node, 'plan', 'warning', n, [n]));
        continue;
      }
      const agent = agentFindings(n);
      findings.push(...dataplaneFindings(n), ...bgpFindings(n, agent.some((f) => f.code === 'agent-not-running')), ...mtuFindings(n, evidence.objects.felixConfigurations), ...agent, ...diskFindings(n));
      gaps.push(...n.plan.warnings.map((w) => `${n.name}'s plan: ${w}`));
    }
  } else {
    for (const e of evidence.nodes) nodes.push({ name: e.node, read: true, speaker: e.bgp.source });
  }
  return { findings: sortFindings(findings), nodes, gaps, collectedAt: evidence.collectedAt };
}

/** A path-MTU probe: `KIND ADDRESS DEV PEER`, DEV `-` for the route's own device (the underlay). */
export interface ProbeTarget {
  kind: 'underlay' | 'ipip' | 'vxlan';
  address: string;
  dev: string;
  peer: string;
}

/**
 * From `node`, one probe over the underlay to every other node, and one through the tunnel the
 * pair uses (the plan's route to the peer's block: tunl0 or vxlan.calico) to the peer's tunnel
 * address. Host facts are not known yet (the probes run in the same script), so the plan is made
 * with a nominal MTU: only which device carries each pair matters here.
 */
export function probeTargets(snapshot: ClusterSnapshot, node: string): ProbeTarget[] {
  const me = snapshot.nodes.find((n) => n.name === node);
  if (!me?.ipv4Address) return [];
  const targets: ProbeTarget[] = [];
  let plan;
  try {
    plan = planDataplane(desiredDataplane(snapshot, { nodeName: node, interface: 'eth0', address: me.ipv4Address, ...(me.ipipTunnelAddress ? { ipipTunnelAddress: me.ipipTunnelAddress } : {}), ...(me.vxlanTunnelAddress ? { vxlanTunnelAddress: me.vxlanTunnelAddress } : {}) }, undefined), { mtu: 1500 });
  } catch {
    plan = undefined;
  }
  for (const peer of snapshot.nodes) {
    if (peer.name === node || !peer.ipv4Address) continue;
    targets.push({ kind: 'underlay', address: formatIPv4(peer.ipv4Address.address), dev: '-', peer: peer.name });
    const paths = new Set((plan?.routes ?? []).flatMap((r) => (r.owner.kind === 'remote-block' && r.owner.node === peer.name ? [r.owner.path] : [])));
    if (paths.has('tunl0') && peer.ipipTunnelAddress) targets.push({ kind: 'ipip', address: peer.ipipTunnelAddress, dev: 'tunl0', peer: peer.name });
    if (paths.has('vxlan') && peer.vxlanTunnelAddress) targets.push({ kind: 'vxlan', address: peer.vxlanTunnelAddress, dev: 'vxlan.calico', peer: peer.name });
  }
  return targets;
}
