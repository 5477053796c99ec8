// Where to capture one flow between two pods: the interfaces its packets cross on both nodes (the
// source pod's veth, the tunnel device, the underlay interface towards the other node, and the
// same on the far side), read from the doctor's evidence exactly as the doctor's trace reads them
// (`local-dev`, the `forward` route lookup, `peer-get`, the `arrive DEV` sections), and for each
// interface a BPF filter tcpdump applies on the node: the two pods' addresses, on the underlay
// inside the outer header (IP-in-IP's inner addresses at fixed offsets, VXLAN's VNI and inner
// frame), so the node sends only this flow over SSH. Pure: the same evidence gives the same plan.
import { z } from 'zod';
import { parseIPv4 } from '../net/index.ts';
import { podLabel, resolveEndpoint } from '../doctor/endpoints.ts';
import { nodeAddress } from '../doctor/encapsulation.ts';
import type { NodeEvidence, TraceEvidence } from '../doctor/evidence.ts';
import { listOf, parseJsonArray, type IpLink, type IpRoute } from '../doctor/ip-json.ts';

export const FlowEncap = z.enum(['ipip', 'vxlan', 'direct', 'local']);
export type FlowEncap = z.infer<typeof FlowEncap>;

export const HopRole = z.enum(['pod', 'tunnel', 'underlay']);
export type HopRole = z.infer<typeof HopRole>;

/** One interface captured: a node's device, what it is on the path, and tcpdump's filter there. */
export const FlowCapturePoint = z.object({
  node: z.string(),
  iface: z.string(),
  role: HopRole,
  /** `worker-1/ens5`: the name the export's interface block carries. */
  name: z.string(),
  /** In words: `pod-1's veth (cali83dbd022cd5) on worker-1`. */
  title: z.string(),
  /** The BPF capture filter run on the node. */
  filter: z.string(),
});
export type FlowCapturePoint = z.infer<typeof FlowCapturePoint>;

/** One direction of the flow: its inner source and destination, and the capture points in the order a packet meets them. */
export const FlowDirection = z.object({
  from: z.string(),
  to: z.string(),
  /** `pod-1 -> pod-3`. */
  label: z.string(),
  encap: FlowEncap,
  /** Indices into the plan's points. */
  hops: z.array(z.number().int().min(0)),
  /** The outer header on the underlay, when encapsulated. */
  outerSrc: z.string().optional(),
  outerDst: z.string().optional(),
});
export type FlowDirection = z.infer<typeof FlowDirection>;

export const FlowPlan = z.object({
  source: z.object({ pod: z.string(), ip: z.string(), node: z.string() }),
  destination: z.object({ pod: z.string(), ip: z.string(), node: z.string() }),
  points: z.array(FlowCapturePoint),
  forward: FlowDirection,
  reverse: FlowDirection,
  vni: z.number().int().optional(),
  /** What could not be read or decided, in words. */
  notes: z.array(z.string()),
});
export type FlowPlan = z.infer<typeof FlowPlan>;

/** Which inner packets of the flow to capture, besides the two pods' addresses. */
export interface FlowSelection {
  protocol?: 'tcp' | 'udp' | 'icmp';
  /** A TCP or UDP port on either side. */
  port?: number;
}

const hex = (ip: string) => `0x${(parseIPv4(ip) >>> 0).toString(16).padStart(8, '0')}`;

function devOf(text: string | undefined): string | undefined {
  const parsed = parseJsonArray<IpRoute>(text);
  return parsed.ok ? parsed.value[0]?.dev : undefined;
}

function encapOf(dev: string | undefined): FlowEncap | undefined {
  if (!dev) return undefined;
  if (dev.startsWith('cali')) return 'local';
  if (dev === 'tunl0') return 'ipip';
  if (dev === 'vxlan.calico') return 'vxlan';
  return 'direct';
}

const protoNumber = { tcp: 6, udp: 17, icmp: 1 } as const;

/** The filter for an interface where the pods' packets are plain IPv4 (a veth, tunl0, vxlan.calico, a direct underlay). */
export function plainFilter(a: string, b: string, selection: FlowSelection = {}): string {
  const parts = [`ip and host ${a} and host ${b}`];
  const proto = selection.protocol;
  if (selection.port !== undefined && proto !== 'icmp') parts.push(`${proto ? `${proto} ` : ''}port ${selection.port}`);
  else if (proto) parts.push(proto);
  return parts.join(' and ');
}

/**
 * The underlay filter for IP-in-IP: protocol 4 between the two nodes, the inner addresses read at
 * their offsets behind a 20-byte outer header (what Linux and the user-space tunnel send), inner
 * ports behind a 20-byte inner header.
 */
export function ipipFilter(nodeA: string, nodeB: string, a: string, b: string, selection: FlowSelection = {}): string {
  const [ha, hb] = [hex(a), hex(b)];
  const parts = [`ip proto 4 and host ${nodeA} and host ${nodeB}`, `((ip[32:4] = ${ha} and ip[36:4] = ${hb}) or (ip[32:4] = ${hb} and ip[36:4] = ${ha}))`];
  if (selection.protocol) parts.push(`ip[29] = ${protoNumber[selection.protocol]}`);
  if (selection.port !== undefined && selection.protocol !== 'icmp') parts.push(`(ip[40:2] = ${selection.port} or ip[42:2] = ${selection.port})`);
  return parts.join(' and ');
}

/**
 * The underlay filter for VXLAN: UDP 4789 between the two nodes, the VNI (libpcap 1.10 has no
 * `vxlan` keyword: the header's bytes 4-6, udp[12:3]), an IPv4 inner frame and its addresses
 * (UDP 8 + VXLAN 8 + Ethernet 14 bytes in: udp[30] is the inner IP header).
 */
export function vxlanFilter(nodeA: string, nodeB: string, a: string, b: string, vni: number | undefined, port = 4789, selection: FlowSelection = {}): string {
  const [ha, hb] = [hex(a), hex(b)];
  const parts = [`udp dst port ${port} and host ${nodeA} and host ${nodeB}`];
  if (vni !== undefined) parts.push(`(udp[12:4] & 0xffffff00) = 0x${((vni << 8) >>> 0).toString(16)}`);
  parts.push('udp[28:2] = 0x0800', `((udp[42:4] = ${ha} and udp[46:4] = ${hb}) or (udp[42:4] = ${hb} and udp[46:4] = ${ha}))`);
  if (selection.protocol) parts.push(`udp[39] = ${protoNumber[selection.protocol]}`);
  if (selection.port !== undefined && selection.protocol !== 'icmp') parts.push(`(udp[50:2] = ${selection.port} or udp[52:2] = ${selection.port})`);
  return parts.join(' and ');
}

interface SideFacts {
  label: string;
  ip: string;
  node: string;
  evidence: NodeEvidence;
  veth?: string;
  /** How this side sends to the other: the route lookup for the other pod from this pod. */
  sends?: FlowEncap;
  sendDev?: string;
  underlay?: string;
  address?: string;
}

function vxlanFacts(evidence: NodeEvidence): { vni?: number; port?: number } {
  const info = listOf<IpLink>(evidence.sections['links']).find((l) => l.ifname === 'vxlan.calico')?.linkinfo?.info_data;
  return { ...(info?.id !== undefined ? { vni: info.id } : {}), ...(info?.port !== undefined ? { port: info.port } : {}) };
}

/**
 * The capture plan for the flow between the trace's two pods. Throws when an end is not a pod or
 * a node's evidence is missing (a flow capture needs both nodes over SSH).
 */
export function planFlowCapture(evidence: TraceEvidence, selection: FlowSelection = {}): FlowPlan {
  const { cluster, request } = evidence;
  const src = resolveEndpoint(cluster, request.source, 'source');
  const dst = resolveEndpoint(cluster, request.destination, 'destination');
  if (!src.pod) throw new Error(`the source ${request.source} is not a pod: a flow capture follows a pod's packets from its veth`);
  if (!dst.pod) throw new Error(`the destination ${request.destination} is not a pod: a flow capture needs both ends' nodes`);
  if (!evidence.source) throw new Error(`${src.pod.node} (the source's node) could not be read: ${evidence.gaps.join('; ') || 'no SSH connection'}`);
  if (!evidence.destination) throw new Error(`${dst.pod.node} (the destination's node) could not be read: ${evidence.gaps.join('; ') || 'no SSH connection'}`);
  const notes: string[] = [];
  const side = (label: string, ip: string, node: string, e: NodeEvidence): SideFacts => {
    const veth = e.sections['local-dev']?.trim() || undefined;
    const sendDev = devOf(e.sections['forward']);
    const sends = encapOf(sendDev);
    const address = nodeAddress(cluster.nodes.find((n) => n.name === node));
    return { label, ip, node, evidence: e, ...(veth ? { veth } : {}), ...(sendDev ? { sendDev } : {}), ...(sends ? { sends } : {}), ...(devOf(e.sections['peer-get']) ? { underlay: devOf(e.sections['peer-get'])! } : {}), ...(address ? { address } : {}) };
  };
  const a = side(podLabel(src.pod), src.ip, src.pod.node, evidence.source);
  const b = side(podLabel(dst.pod), dst.ip, dst.pod.node, evidence.destination);
  const sameNode = a.node === b.node;
  const vx = vxlanFacts(a.evidence);
  const vni = vx.vni ?? vxlanFacts(b.evidence).vni;

  const points: FlowCapturePoint[] = [];
  const pointOf = (node: string, iface: string, role: HopRole, title: string, filter: string): number => {
    const found = points.findIndex((p) => p.node === node && p.iface === iface);
    if (found >= 0) return found;
    points.push({ node, iface, role, name: `${node}/${iface}`, title, filter });
    return points.length - 1;
  };
  const plain = plainFilter(a.ip, b.ip, selection);
  const veth = (s: SideFacts): number | undefined => {
    if (!s.veth) {
      notes.push(`${s.node} has no route to ${s.label} on a cali interface: its veth is not captured`);
      return undefined;
    }
    return pointOf(s.node, s.veth, 'pod', `${s.label}'s veth (${s.veth}) on ${s.node}`, plain);
  };
  const underlayFilter = (encap: FlowEncap): string => {
    if (encap === 'ipip' && a.address && b.address) return ipipFilter(a.address, b.address, a.ip, b.ip, selection);
    if (encap === 'vxlan' && a.address && b.address) return vxlanFilter(a.address, b.address, a.ip, b.ip, vni, vx.port ?? 4789, selection);
    return plain;
  };
  const underlay = (s: SideFacts, encap: FlowEncap, toward: SideFacts): number | undefined => {
    const dev = encap === 'direct' ? (s.sendDev ?? s.underlay) : s.underlay;
    if (!dev) {
      notes.push(`${s.node}'s interface towards ${toward.node} is not known (ip route get ${toward.address ?? toward.node} gave no device): its underlay is not captured`);
      return undefined;
    }
    const what = encap === 'ipip' ? 'IP-in-IP' : encap === 'vxlan' ? 'VXLAN' : 'pod addresses';
    return pointOf(s.node, dev, 'underlay', `${s.node}'s underlay ${dev} (${what} to and from ${toward.node})`, underlayFilter(encap));
  };
  const tunnel = (s: SideFacts, encap: FlowEncap): number | undefined => {
    if (encap !== 'ipip' && encap !== 'vxlan') return undefined;
    const dev = encap === 'ipip' ? 'tunl0' : 'vxlan.calico';
    return pointOf(s.node, dev, 'tunnel', `${s.node}'s ${dev} (${encap === 'ipip' ? 'IP-in-IP' : `VXLAN${vni !== undefined ? ` VNI ${vni}` : ''}`}, inner packets)`, plain);
  };
  const direction = (from: SideFacts, to: SideFacts): FlowDirection => {
    const encap: FlowEncap = sameNode ? 'local' : (from.sends ?? 'direct');
    if (!from.sends) notes.push(`${from.node}'s route lookup for ${to.label} gave no device: taken as direct`);
    const hops = sameNode
      ? [veth(from), veth(to)]
      : [veth(from), tunnel(from, encap), underlay(from, encap, to), underlay(to, encap, from), tunnel(to, encap), veth(to)];
    const outer = encap === 'ipip' || encap === 'vxlan' ? { ...(from.address ? { outerSrc: from.address } : {}), ...(to.address ? { outerDst: to.address } : {}) } : {};
    return { from: from.ip, to: to.ip, label: `${from.label} -> ${to.label}`, encap, hops: hops.filter((h): h is number => h !== undefined), ...outer };
  };
  const forward = direction(a, b);
  const reverse = direction(b, a);
  if (!sameNode && forward.encap !== reverse.encap) notes.push(`the path is asymmetric: ${a.node} sends by ${forward.encap}, ${b.node} answers by ${reverse.encap}; each direction is followed through its own devices`);
  return {
    source: { pod: a.label, ip: a.ip, node: a.node },
    destination: { pod: b.label, ip: b.ip, node: b.node },
    points,
    forward,
    reverse,
    ...(vni !== undefined && (forward.encap === 'vxlan' || reverse.encap === 'vxlan') ? { vni } : {}),
    notes,
  };
}
