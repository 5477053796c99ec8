// The names Calico derives from addresses and workloads, reproduced exactly so that Calico's
// own tools recognise Gingham's objects and devices.
import { sha1 } from '@noble/hashes/legacy.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/** IPAMBlock name for a block CIDR: `192.168.1.64/26` -> `192-168-1-64-26` (`:` too, for IPv6). */
export function blockName(cidr: string): string {
  return cidr.replace(/[.:/]/g, '-');
}

/** BlockAffinity name: `<node>-<blockName>`. */
export function blockAffinityName(node: string, cidr: string): string {
  return `${node}-${blockName(cidr)}`;
}

/** The host-side veth name of a pod: `cali` + the first 11 hex digits of SHA1(`namespace.pod`). */
export function caliInterfaceName(namespace: string, pod: string): string {
  return 'cali' + bytesToHex(sha1(utf8ToBytes(`${namespace}.${pod}`))).slice(0, 11);
}

/**
 * The VXLAN tunnel MAC Calico derives for a node when none is set: 0x66 (a locally
 * administered unicast prefix), then the first five bytes of SHA1(node name).
 */
export function vxlanMacForNode(nodeName: string): string {
  const digest = sha1(utf8ToBytes(nodeName));
  return [0x66, ...digest.subarray(0, 5)].map((byte) => byte.toString(16).padStart(2, '0')).join(':');
}
