// Writes this node's own Calico annotations on its core v1 Node, as calico-node does at start-up
// and as its tunnel-address allocator does later: the IPv4 address with its prefix length, the
// tunnel addresses and the VXLAN MAC. A merge patch touches only these keys; `null` removes one
// (a tunnel address whose encapsulation was switched off).
import { calicoAnnotations } from '../../shared/model/calico-node.ts';
import { encapsulationsAnnotation } from '../../shared/model/node-encapsulation.ts';
import { formatInterfaceAddress, type InterfaceAddress } from '../../shared/net/index.ts';
import type { KubeApi } from './kube-api.ts';

export interface OwnAnnotations {
  ipv4Address?: InterfaceAddress;
  /** A string to set, null to remove, undefined to leave alone. */
  ipipTunnelAddress?: string | null;
  vxlanTunnelAddress?: string | null;
  vxlanTunnelMac?: string | null;
  /** Gingham's `gingham.dev/Encapsulations` (formatNodeEncapsulations), after each pass that changes it. */
  encapsulations?: string | null;
}

export function annotationPatch(values: OwnAnnotations): Record<string, string | null> {
  const patch: Record<string, string | null> = {};
  if (values.ipv4Address) patch[calicoAnnotations.ipv4Address] = formatInterfaceAddress(values.ipv4Address);
  if (values.ipipTunnelAddress !== undefined) patch[calicoAnnotations.ipipTunnelAddress] = values.ipipTunnelAddress;
  if (values.vxlanTunnelAddress !== undefined) patch[calicoAnnotations.vxlanTunnelAddress] = values.vxlanTunnelAddress;
  if (values.vxlanTunnelMac !== undefined) patch[calicoAnnotations.vxlanTunnelMac] = values.vxlanTunnelMac;
  if (values.encapsulations !== undefined) patch[encapsulationsAnnotation] = values.encapsulations;
  return patch;
}

/** Patches the annotations of Node `nodeName`; fails with the server's reason (a missing Node is an error). */
export async function writeOwnAnnotations(client: KubeApi, nodeName: string, values: OwnAnnotations): Promise<void> {
  const annotations = annotationPatch(values);
  if (Object.keys(annotations).length === 0) return;
  await client.mergePatch({ apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName } }, { metadata: { annotations } });
}
