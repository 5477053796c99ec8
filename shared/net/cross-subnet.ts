// Calico's CrossSubnet test: encapsulate only when the other node is outside this node's subnet.
import { containsAddress, subnetOf, type InterfaceAddress } from './cidr.ts';

/**
 * True when `remote` is inside the subnet of `local` (this node's address with its prefix length,
 * as in the `projectcalico.org/IPv4Address` annotation). A node registered as /32 has a subnet of
 * one address, so it is never on the same subnet as another node and always encapsulates, as
 * Calico does (projectcalico/calico#4254).
 */
export function sameSubnet(local: InterfaceAddress, remote: number): boolean {
  if (local.prefixLength === 32) return false;
  return containsAddress(subnetOf(local), remote);
}
