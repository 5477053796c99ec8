// IPv4 prefixes (CIDRs) and interface addresses (an address with the prefix length of its subnet).
import { NetParseError, formatIPv4, parseIPv4, prefixMask } from './ipv4.ts';

/** A network prefix with no host bits set, such as 192.168.1.64/26. */
export interface Cidr {
  readonly address: number;
  readonly prefixLength: number;
}

/** An address on a subnet, such as a node's 10.240.1.11/24 (host bits are the point). */
export interface InterfaceAddress {
  readonly address: number;
  readonly prefixLength: number;
}

function splitPrefix(input: string, example: string): [string, number] {
  const slash = input.indexOf('/');
  if (slash < 0) {
    throw new NetParseError(input, `has no prefix length: write it as ${example}`);
  }
  const lengthText = input.slice(slash + 1);
  if (!/^\d{1,2}$/.test(lengthText) || (lengthText.length > 1 && lengthText.startsWith('0'))) {
    throw new NetParseError(input, 'has a bad prefix length: it must be a whole number from 0 to 32');
  }
  const prefixLength = Number(lengthText);
  if (prefixLength > 32) {
    throw new NetParseError(input, `has a bad prefix length: ${prefixLength} is above 32, the most an IPv4 prefix can have`);
  }
  return [input.slice(0, slash), prefixLength];
}

/**
 * Parses a CIDR strictly: host bits must be zero, as Calico requires of an IPPool's cidr
 * (`192.168.1.1/24` is refused, naming `192.168.1.0/24`).
 */
export function parseCidr(input: string): Cidr {
  const [addressText, prefixLength] = splitPrefix(input, '192.168.0.0/16');
  const address = parseIPv4(addressText);
  const network = (address & prefixMask(prefixLength)) >>> 0;
  if (network !== address) {
    throw new NetParseError(input, `has host bits set: did you mean ${formatIPv4(network)}/${prefixLength}?`);
  }
  return { address, prefixLength };
}

/** Parses an interface address such as `10.240.1.11/24` (host bits allowed, prefix length required). */
export function parseInterfaceAddress(input: string): InterfaceAddress {
  const [addressText, prefixLength] = splitPrefix(input, '10.240.1.11/24');
  return { address: parseIPv4(addressText), prefixLength };
}

/** True when `input` is a strictly valid CIDR. */
export function isCidr(input: string): boolean {
  try {
    parseCidr(input);
    return true;
  } catch {
    return false;
  }
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIPv4(cidr.address)}/${cidr.prefixLength}`;
}

export function formatInterfaceAddress(address: InterfaceAddress): string {
  return `${formatIPv4(address.address)}/${address.prefixLength}`;
}

/** The subnet an interface address is on: 10.240.1.11/24 -> 10.240.1.0/24. */
export function subnetOf(address: InterfaceAddress): Cidr {
  return { address: (address.address & prefixMask(address.prefixLength)) >>> 0, prefixLength: address.prefixLength };
}

/** The number of addresses in a prefix (a /26 holds 64). */
export function cidrSize(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefixLength);
}

/** The last address inside a prefix. */
export function lastAddress(cidr: Cidr): number {
  return (cidr.address + cidrSize(cidr) - 1) >>> 0;
}

/** True when `address` lies inside `cidr`. */
export function containsAddress(cidr: Cidr, address: number): boolean {
  return ((address & prefixMask(cidr.prefixLength)) >>> 0) === cidr.address;
}

/** True when all of `inner` lies inside `outer` (a prefix contains itself). */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return inner.prefixLength >= outer.prefixLength && containsAddress(outer, inner.address);
}

/** True when two prefixes share at least one address (for prefixes: one contains the other). */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return containsCidr(a, b) || containsCidr(b, a);
}

/** The `index`-th block of size `blockPrefixLength` inside `pool`. */
export function nthBlock(pool: Cidr, blockPrefixLength: number, index: number): Cidr {
  if (blockPrefixLength < pool.prefixLength) {
    throw new RangeError(`a /${blockPrefixLength} block does not fit in ${formatCidr(pool)}`);
  }
  const count = 2 ** (blockPrefixLength - pool.prefixLength);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new RangeError(`${formatCidr(pool)} has ${count} blocks of /${blockPrefixLength}; index ${index} is outside`);
  }
  return { address: (pool.address + index * 2 ** (32 - blockPrefixLength)) >>> 0, prefixLength: blockPrefixLength };
}
