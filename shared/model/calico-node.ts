// Calico keeps no Node CRD in the Kubernetes datastore: a node's Calico facts are annotations
// on the core v1 Node. This reads and writes them.
import { z } from 'zod';
import { formatInterfaceAddress, isIPv4, parseInterfaceAddress, type InterfaceAddress } from '../net/index.ts';
import { objectNameSchema } from './meta.ts';
import { asNumberSchema } from './bgp-fields.ts';
import { encapsulationsAnnotation, parseNodeEncapsulations, parsePoolModesOverride, poolModesAnnotation, type NodeEncapsulations, type PoolModesOverride } from './node-encapsulation.ts';
import { addIssue, parseWith } from './validation.ts';

export const calicoAnnotations = {
  ipv4Address: 'projectcalico.org/IPv4Address',
  ipipTunnelAddress: 'projectcalico.org/IPv4IPIPTunnelAddr',
  vxlanTunnelAddress: 'projectcalico.org/IPv4VXLANTunnelAddr',
  vxlanTunnelMac: 'projectcalico.org/VXLANTunnelMACAddr',
  asNumber: 'projectcalico.org/ASNumber',
  routeReflectorClusterId: 'projectcalico.org/RouteReflectorClusterID',
} as const;

/** A node's Calico facts, read from its annotations and addresses. */
export interface CalicoNode {
  name: string;
  /** The node's BGP address with its subnet's prefix length (10.240.1.11/24). */
  ipv4Address?: InterfaceAddress;
  ipipTunnelAddress?: string;
  vxlanTunnelAddress?: string;
  vxlanTunnelMac?: string;
  asNumber?: number;
  routeReflectorClusterId?: string;
  /** The Kubernetes InternalIP, for nodes that have no Calico annotation yet. */
  internalIP?: string;
  /** What the node's Gingham agent published it accepts and sends (node-encapsulation.ts); absent for stock calico-node. */
  encapsulations?: NodeEncapsulations;
  /** A staged rollout's pool modes for this node (node-encapsulation.ts). */
  poolModes?: PoolModesOverride;
  /** Gingham's annotations that could not be read, and why: ignored, never a reason to skip the Node. */
  annotationProblems?: string[];
}

const ipv4Text = (what: string) =>
  z.string().refine(isIPv4, { error: (issue) => `must be an IPv4 address (${what}) (got ${JSON.stringify(issue.input)})` });

const annotationsSchema = z.looseObject({
  [calicoAnnotations.ipv4Address]: z
    .string()
    .superRefine((text, ctx) => {
      try {
        parseInterfaceAddress(text);
      } catch (error) {
        addIssue(ctx, [], `must be the node's address with its subnet's prefix length, such as 10.240.1.11/24: ${(error as Error).message}`);
      }
    })
    .optional(),
  [calicoAnnotations.ipipTunnelAddress]: ipv4Text('the IP-in-IP tunnel address').optional(),
  [calicoAnnotations.vxlanTunnelAddress]: ipv4Text('the VXLAN tunnel address').optional(),
  [calicoAnnotations.vxlanTunnelMac]: z
    .string()
    .regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i, { error: (issue) => `must be a MAC address such as 66:93:7f:54:d5:53 (got ${JSON.stringify(issue.input)})` })
    .optional(),
  [calicoAnnotations.asNumber]: z
    .string()
    .transform((text, ctx) => {
      const parsed = asNumberSchema.safeParse(/^\d+$/.test(text) ? Number(text) : NaN);
      if (!parsed.success) {
        addIssue(ctx, [], `must be an AS number from 1 to 4294967295 (got ${JSON.stringify(text)})`);
        return z.NEVER;
      }
      return parsed.data;
    })
    .optional(),
  [calicoAnnotations.routeReflectorClusterId]: ipv4Text('a route reflector cluster ID is written like an address').optional(),
});

const k8sNodeSchema = z.looseObject({
  metadata: z.looseObject({ name: objectNameSchema, annotations: annotationsSchema.optional() }),
  status: z
    .looseObject({ addresses: z.array(z.looseObject({ type: z.string(), address: z.string() })).optional() })
    .optional(),
});

/** Reads a core v1 Node's Calico annotations; a malformed annotation is an error that names it. */
export function parseCalicoNode(k8sNode: unknown): CalicoNode {
  const name = (k8sNode as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  const node = parseWith(k8sNodeSchema, k8sNode, typeof name === 'string' ? `Node ${JSON.stringify(name)}` : 'Node');
  const a = node.metadata.annotations ?? {};
  const ipv4Address = a[calicoAnnotations.ipv4Address];
  const result: CalicoNode = { name: node.metadata.name };
  if (ipv4Address !== undefined) result.ipv4Address = parseInterfaceAddress(ipv4Address);
  const set = <K extends keyof CalicoNode>(key: K, value: CalicoNode[K] | undefined) => {
    if (value !== undefined) result[key] = value;
  };
  set('ipipTunnelAddress', a[calicoAnnotations.ipipTunnelAddress]);
  set('vxlanTunnelAddress', a[calicoAnnotations.vxlanTunnelAddress]);
  set('vxlanTunnelMac', a[calicoAnnotations.vxlanTunnelMac]?.toLowerCase());
  set('asNumber', a[calicoAnnotations.asNumber]);
  set('routeReflectorClusterId', a[calicoAnnotations.routeReflectorClusterId]);
  set('internalIP', node.status?.addresses?.find((address) => address.type === 'InternalIP')?.address);
  // Gingham's own annotations: one that cannot be read is left out and said, the Node still counts.
  const raw = a as Record<string, unknown>;
  const problems: string[] = [];
  const read = <T>(key: string, parse: (text: string, node: string) => T): T | undefined => {
    const text = raw[key];
    if (text === undefined) return undefined;
    try {
      if (typeof text !== 'string') throw new Error(`the ${key} annotation of Node ${JSON.stringify(result.name)} is not a string`);
      return parse(text, `Node ${JSON.stringify(result.name)}`);
    } catch (error) {
      problems.push(`${(error as Error).message} (ignored)`);
      return undefined;
    }
  };
  set('encapsulations', read(encapsulationsAnnotation, parseNodeEncapsulations));
  set('poolModes', read(poolModesAnnotation, parsePoolModesOverride));
  if (problems.length > 0) result.annotationProblems = problems;
  return result;
}

/** The annotations that carry a node's Calico facts, for a merge patch of the core Node. */
export function calicoNodeAnnotations(node: CalicoNode): Record<string, string> {
  const out: Record<string, string> = {};
  if (node.ipv4Address !== undefined) out[calicoAnnotations.ipv4Address] = formatInterfaceAddress(node.ipv4Address);
  if (node.ipipTunnelAddress !== undefined) out[calicoAnnotations.ipipTunnelAddress] = node.ipipTunnelAddress;
  if (node.vxlanTunnelAddress !== undefined) out[calicoAnnotations.vxlanTunnelAddress] = node.vxlanTunnelAddress;
  if (node.vxlanTunnelMac !== undefined) out[calicoAnnotations.vxlanTunnelMac] = node.vxlanTunnelMac;
  if (node.asNumber !== undefined) out[calicoAnnotations.asNumber] = String(node.asNumber);
  if (node.routeReflectorClusterId !== undefined) out[calicoAnnotations.routeReflectorClusterId] = node.routeReflectorClusterId;
  return out;
}
