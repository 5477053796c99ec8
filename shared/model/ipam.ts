// Calico's IPAM objects, which Gingham writes exactly as Calico does so that `calicoctl ipam
// show` and `calicoctl ipam check` read them: IPAMBlock (one per block), BlockAffinity (which
// node holds a block) and IPAMHandle (which addresses an allocation owns).
import { z } from 'zod';
import { blockAffinityName, blockName, cidrSize, parseCidr } from '../net/index.ts';
import { calicoResourceSchema, subjectOf, type CalicoApiVersion, type ObjectMeta } from './meta.ts';
import { addIssue, parseWith } from './validation.ts';

function checkBlockCidr(text: string, ctx: z.RefinementCtx): void {
  try {
    parseCidr(text);
  } catch (error) {
    addIssue(ctx, [], `must be a masked IPv4 CIDR: ${(error as Error).message}`);
  }
}

const blockCidrSchema = z.string().superRefine(checkBlockCidr);

export const ipamBlockSpecSchema = z
  .looseObject({
    cidr: blockCidrSchema,
    affinity: z
      .string()
      .regex(/^(host|virtual):.+$/, { error: (issue) => `must be host:<node name> (got ${JSON.stringify(issue.input)})` })
      .optional(),
    affinityClaimTime: z.string().optional(),
    strictAffinity: z.boolean(),
    /** Per address of the block: the index of its attribute entry, or null when free. */
    allocations: z.array(z.int().min(0).nullable()),
    /** Ordinals of the free addresses, in the order they are handed out. */
    unallocated: z.array(z.int().min(0)),
    attributes: z.array(
      z.looseObject({
        handle_id: z.string().optional(),
        secondary: z.record(z.string(), z.string()).optional(),
        alternateOwnerAttrs: z.record(z.string(), z.string()).optional(),
      }),
    ),
    deleted: z.boolean().optional(),
    /**
     * Calico's is a uint64 that starts at the block's creation time in nanoseconds, beyond
     * JavaScript's safe integers: read as the nearest double, checked as a whole number in uint64's range.
     */
    sequenceNumber: z
      .number()
      .min(0)
      // Not .max(): the generated CRD would carry 2^64 as its maximum, which the API server reads as an overflowed int64.
      .refine((n) => Number.isInteger(n) && n < 2 ** 64, { error: "must be a whole number in uint64's range" })
      .optional(),
  })
  .meta({ 'x-kubernetes-preserve-unknown-fields': true })
  .superRefine((spec, ctx) => {
    let size: number;
    try {
      size = cidrSize(parseCidr(spec.cidr));
    } catch {
      return; // already reported on cidr
    }
    if (spec.allocations.length !== size) {
      addIssue(ctx, ['allocations'], `must have one entry per address of ${spec.cidr} (${size}), got ${spec.allocations.length}`);
    }
    spec.allocations.forEach((attribute, ordinal) => {
      if (attribute !== null && attribute >= spec.attributes.length) {
        addIssue(ctx, ['allocations', ordinal], `refers to attribute ${attribute}, but there are only ${spec.attributes.length}`);
      }
    });
    const free = new Set<number>();
    spec.unallocated.forEach((ordinal, i) => {
      if (ordinal >= size) addIssue(ctx, ['unallocated', i], `is ${ordinal}, outside the block's ${size} addresses`);
      else if (free.has(ordinal)) addIssue(ctx, ['unallocated', i], `lists address ${ordinal} twice`);
      else if (spec.allocations[ordinal] !== null && spec.allocations[ordinal] !== undefined) {
        addIssue(ctx, ['unallocated', i], `lists address ${ordinal} as free, but it is allocated`);
      }
      free.add(ordinal);
    });
  });

export const ipamBlockResourceSchema = calicoResourceSchema('IPAMBlock', ipamBlockSpecSchema).superRefine((block, ctx) => {
  if (block.apiVersion === 'crd.projectcalico.org/v1' && block.metadata.name !== blockName(block.spec.cidr)) {
    addIssue(ctx, ['metadata', 'name'], `must be ${blockName(block.spec.cidr)}, Calico's name for block ${block.spec.cidr}`);
  }
});

export const blockAffinitySpecSchema = z
  .looseObject({
    node: z.string().min(1),
    cidr: blockCidrSchema,
    state: z.enum(['', 'pending', 'confirmed', 'pendingDeletion']),
    /** A string, not a boolean, as Calico stores it: "true" or "false". */
    deleted: z.enum(['true', 'false']),
    type: z.string().optional(),
  })
  .meta({ 'x-kubernetes-preserve-unknown-fields': true });

export const blockAffinityResourceSchema = calicoResourceSchema('BlockAffinity', blockAffinitySpecSchema).superRefine((affinity, ctx) => {
  const expected = blockAffinityName(affinity.spec.node, affinity.spec.cidr);
  if (affinity.apiVersion === 'crd.projectcalico.org/v1' && affinity.metadata.name !== expected) {
    addIssue(ctx, ['metadata', 'name'], `must be ${expected}, Calico's name for ${affinity.spec.node}'s affinity to ${affinity.spec.cidr}`);
  }
});

export const ipamHandleSpecSchema = z
  .looseObject({
    handleID: z.string().min(1),
    /** Addresses this handle holds, per block CIDR. */
    block: z.record(z.string(), z.int().min(0)),
    deleted: z.boolean().optional(),
  })
  .meta({ 'x-kubernetes-preserve-unknown-fields': true });

export const ipamHandleResourceSchema = calicoResourceSchema('IPAMHandle', ipamHandleSpecSchema);

/**
 * Calico's IPAM settings, one object named `default`: strictAffinity forbids borrowing from other
 * nodes' blocks (Windows nodes need it); autoAllocateBlocks lets nodes claim blocks at all;
 * maxBlocksPerHost caps the blocks per node (0: no cap). Both booleans are required, as in Calico's CRD.
 */
export const ipamConfigSpecSchema = z
  .looseObject({
    strictAffinity: z.boolean(),
    autoAllocateBlocks: z.boolean(),
    maxBlocksPerHost: z.int().min(0).max(2147483647).optional(),
  })
  .meta({ 'x-kubernetes-preserve-unknown-fields': true });

export const ipamConfigResourceSchema = calicoResourceSchema('IPAMConfig', ipamConfigSpecSchema).superRefine((config, ctx) => {
  if (config.metadata.name !== 'default') addIssue(ctx, ['metadata', 'name'], 'must be default: Calico reads only the IPAMConfig named default');
});

interface Resource<S> {
  apiVersion: CalicoApiVersion;
  metadata: ObjectMeta;
  spec: S;
}
export type IPAMBlock = Resource<z.output<typeof ipamBlockSpecSchema>>;
export type BlockAffinity = Resource<z.output<typeof blockAffinitySpecSchema>>;
export type IPAMHandle = Resource<z.output<typeof ipamHandleSpecSchema>>;
export type IPAMConfig = Resource<z.output<typeof ipamConfigSpecSchema>>;

export function parseIPAMBlock(input: unknown): IPAMBlock {
  return parseWith(ipamBlockResourceSchema, input, subjectOf('IPAMBlock', input));
}
export function parseBlockAffinity(input: unknown): BlockAffinity {
  return parseWith(blockAffinityResourceSchema, input, subjectOf('BlockAffinity', input));
}
export function parseIPAMHandle(input: unknown): IPAMHandle {
  return parseWith(ipamHandleResourceSchema, input, subjectOf('IPAMHandle', input));
}
export function parseIPAMConfig(input: unknown): IPAMConfig {
  return parseWith(ipamConfigResourceSchema, input, subjectOf('IPAMConfig', input));
}

/** Calico's handle IDs for the tunnel addresses and for pods. */
export const handleIds = {
  ipipTunnel: (node: string) => `ipip-tunnel-addr-${node}`,
  vxlanTunnel: (node: string) => `vxlan-tunnel-addr-${node}`,
  pod: (containerId: string) => `k8s-pod-network.${containerId}`,
};

/** A block as Calico creates it when a node claims it: every address free, affinity to the node. */
export function emptyIPAMBlock(cidr: string, node: string): IPAMBlock {
  const size = cidrSize(parseCidr(cidr));
  return {
    apiVersion: 'crd.projectcalico.org/v1',
    metadata: { name: blockName(cidr) },
    spec: {
      cidr,
      affinity: `host:${node}`,
      strictAffinity: false,
      allocations: Array.from({ length: size }, () => null),
      unallocated: Array.from({ length: size }, (_, i) => i),
      attributes: [],
    },
  };
}
