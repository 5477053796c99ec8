// The bookkeeping inside one IPAMBlock, done as Calico does it so that Calico's tools agree with
// it: `allocations[ordinal]` points at an entry of `attributes` (handle and who/what holds the
// address) or is null; `unallocated` lists the free ordinals in hand-out order (freed ones go to
// the back, so an address is not reused at once). Pure functions over a copy of the spec.
import type { IPAMBlock } from './ipam.ts';
import { cidrSize, formatIPv4, parseCidr, parseIPv4 } from '../net/index.ts';

export type BlockSpec = IPAMBlock['spec'];

export function addressAt(blockCidr: string, ordinal: number): string {
  return formatIPv4((parseCidr(blockCidr).address + ordinal) >>> 0);
}

export function ordinalOf(blockCidr: string, address: string): number | undefined {
  const cidr = parseCidr(blockCidr);
  const ordinal = parseIPv4(address) - cidr.address;
  return ordinal >= 0 && ordinal < cidrSize(cidr) ? ordinal : undefined;
}

export function freeCount(spec: BlockSpec): number {
  return spec.unallocated.length;
}

function sameAttributes(a: BlockSpec['attributes'][number], handleId: string, secondary: Record<string, string>): boolean {
  return a.handle_id === handleId && JSON.stringify(a.secondary ?? {}) === JSON.stringify(secondary);
}

/**
 * The block's next sequence number. Calico's start at a time in nanoseconds (about 1.8e18), where
 * a double's step is 256 and n + 1 === n: the step is doubled until the number changes.
 */
export function nextSequenceNumber(current = 0): number {
  let step = 1;
  while (current + step === current) step *= 2;
  return current + step;
}

/** Takes the next free address for `handleId`; undefined when the block is full. */
export function allocate(spec: BlockSpec, handleId: string, secondary: Record<string, string>): { spec: BlockSpec; ordinal: number } | undefined {
  const [ordinal, ...rest] = spec.unallocated;
  if (ordinal === undefined) return undefined;
  const attributes = [...spec.attributes];
  let index = attributes.findIndex((a) => sameAttributes(a, handleId, secondary));
  if (index < 0) {
    attributes.push({ handle_id: handleId, secondary });
    index = attributes.length - 1;
  }
  const allocations = [...spec.allocations];
  allocations[ordinal] = index;
  return { spec: { ...spec, allocations, unallocated: rest, attributes, sequenceNumber: nextSequenceNumber(spec.sequenceNumber) }, ordinal };
}

/** The ordinals held by `handleId`. */
export function ordinalsOfHandle(spec: BlockSpec, handleId: string): number[] {
  const out: number[] = [];
  spec.allocations.forEach((index, ordinal) => {
    if (index !== null && spec.attributes[index]?.handle_id === handleId) out.push(ordinal);
  });
  return out;
}

/** Frees every address of `handleId` and drops the attribute entries nothing points at any more. */
export function releaseHandle(spec: BlockSpec, handleId: string): { spec: BlockSpec; released: number[] } {
  const released = ordinalsOfHandle(spec, handleId);
  if (released.length === 0) return { spec, released };
  const allocations: Array<number | null> = [...spec.allocations];
  for (const ordinal of released) allocations[ordinal] = null;
  // Renumber the attributes still in use, in their old order.
  const used = [...new Set(allocations.filter((a): a is number => a !== null))].sort((a, b) => a - b);
  const renumber = new Map(used.map((old, i) => [old, i]));
  return {
    spec: {
      ...spec,
      allocations: allocations.map((a) => (a === null ? null : renumber.get(a)!)),
      attributes: used.map((old) => spec.attributes[old]!),
      unallocated: [...spec.unallocated, ...released],
      sequenceNumber: nextSequenceNumber(spec.sequenceNumber),
    },
    released,
  };
}

/** Addresses in use, with their handles: what `calicoctl ipam show` counts. */
export function inUse(spec: BlockSpec): Array<{ address: string; handleId: string | undefined }> {
  const out: Array<{ address: string; handleId: string | undefined }> = [];
  spec.allocations.forEach((index, ordinal) => {
    if (index !== null) out.push({ address: addressAt(spec.cidr, ordinal), handleId: spec.attributes[index]?.handle_id });
  });
  return out;
}
