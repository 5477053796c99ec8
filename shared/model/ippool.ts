// IPPool: the pool of pod addresses and how traffic between its blocks is carried (IPIP, VXLAN,
// direct). The wire schema mirrors Calico's CRD; parseIPPool applies Calico's defaults and rules.
import { z } from 'zod';
import { NetParseError, parseCidr, type Cidr } from '../net/index.ts';
import { calicoResourceSchema, subjectOf, type CalicoApiVersion, type ObjectMeta } from './meta.ts';
import { normalizeMode, storedModeSchema, type EncapsulationMode } from './modes.ts';
import { ValidationError, addIssue, parseWith } from './validation.ts';

export const ipv4BlockSizeRange = { min: 20, max: 32 } as const;
export const defaultIPv4BlockSize = 26;
export const allowedUses = ['Workload', 'Tunnel', 'LoadBalancer'] as const;

const immutable = (field: string) => ({
  rule: 'self == oldSelf',
  message: `${field} is immutable: create a new pool and migrate to it instead`,
  reason: 'FieldValueInvalid',
});

function tryParseCidr(text: string): Cidr | undefined {
  try {
    return parseCidr(text);
  } catch {
    return undefined;
  }
}

function checkPoolCidr(text: string, ctx: z.RefinementCtx): void {
  try {
    parseCidr(text);
  } catch (error) {
    const reason = error instanceof NetParseError ? error.message : String(error);
    const ipv6 = text.includes(':') ? ' (Gingham handles IPv4 pools only for now)' : '';
    addIssue(ctx, [], `must be a masked IPv4 CIDR such as 192.168.0.0/16${ipv6}: ${reason}`);
  }
}

function checkBlockSize(size: number, ctx: z.RefinementCtx): void {
  const { min, max } = ipv4BlockSizeRange;
  if (size < min || size > max) addIssue(ctx, [], `must be between ${min} and ${max} for an IPv4 pool (got ${size})`);
}

const encapsulationOn = (mode: string | undefined) => mode !== undefined && mode !== '' && mode !== 'Never';

/** The IPPool spec as stored. Unknown fields from newer Calico versions pass through. */
export const ipPoolSpecSchema = z
  .looseObject({
    cidr: z.string().max(48).superRefine(checkPoolCidr).meta({
      description: 'The pool CIDR, strictly masked (192.168.0.0/16). Immutable.',
      'x-kubernetes-validations': [immutable('cidr')],
    }),
    blockSize: z.int().superRefine(checkBlockSize).default(defaultIPv4BlockSize).meta({
      description: 'Prefix length of the blocks handed to nodes (20-32 for IPv4). Immutable.',
      'x-kubernetes-validations': [immutable('blockSize')],
    }),
    ipipMode: storedModeSchema.default('Never').meta({ description: 'When to encapsulate in IP-in-IP: Never, Always, CrossSubnet.' }),
    vxlanMode: storedModeSchema.default('Never').meta({ description: 'When to encapsulate in VXLAN: Never, Always, CrossSubnet.' }),
    natOutgoing: z.boolean().default(false).meta({ description: 'Masquerade traffic from the pool to destinations outside every pool.' }),
    disabled: z.boolean().default(false).meta({ description: 'No new addresses are handed out from a disabled pool.' }),
    disableBGPExport: z.boolean().default(false).meta({ description: "Do not announce this pool's blocks over BGP." }),
    nodeSelector: z.string().default('all()').meta({ description: 'Which nodes take blocks from this pool (Calico selector).' }),
    namespaceSelector: z.string().optional(),
    // Bounded, as in Calico's CRD: the API server prices CEL rules by the largest list they may see.
    allowedUses: z.array(z.enum(allowedUses)).max(10).default(['Workload', 'Tunnel']),
    assignmentMode: z.enum(['Automatic', 'Manual']).default('Automatic'),
  })
  .meta({
    'x-kubernetes-preserve-unknown-fields': true,
    'x-kubernetes-validations': [
      {
        rule: "!has(self.ipipMode) || !has(self.vxlanMode) || self.ipipMode == 'Never' || self.vxlanMode == 'Never' || size(self.ipipMode) == 0 || size(self.vxlanMode) == 0",
        message: 'ipipMode and vxlanMode cannot both be enabled',
        reason: 'FieldValueForbidden',
      },
      {
        rule: "!has(self.allowedUses) || !self.allowedUses.exists(u, u == 'LoadBalancer') || ((!has(self.ipipMode) || size(self.ipipMode) == 0 || self.ipipMode == 'Never') && (!has(self.vxlanMode) || size(self.vxlanMode) == 0 || self.vxlanMode == 'Never'))",
        message: 'a LoadBalancer pool cannot have IPIP or VXLAN enabled',
        reason: 'FieldValueForbidden',
      },
      {
        rule: "!has(self.allowedUses) || !self.allowedUses.exists(u, u == 'LoadBalancer') || !self.allowedUses.exists(u, u == 'Workload' || u == 'Tunnel')",
        message: 'LoadBalancer cannot be combined with Workload or Tunnel',
        reason: 'FieldValueForbidden',
      },
    ],
  })
  .superRefine((spec, ctx) => {
    const cidr = tryParseCidr(spec.cidr);
    if (cidr && spec.blockSize >= ipv4BlockSizeRange.min && spec.blockSize < cidr.prefixLength) {
      addIssue(ctx, ['blockSize'], `must be at least the pool's prefix length ${cidr.prefixLength}: a /${spec.blockSize} block does not fit in ${spec.cidr}`);
    }
    if (encapsulationOn(spec.ipipMode) && encapsulationOn(spec.vxlanMode)) {
      addIssue(ctx, ['vxlanMode'], `cannot be ${spec.vxlanMode} while ipipMode is ${spec.ipipMode}: enable at most one encapsulation, set the other to Never`);
    }
    if (spec.allowedUses.includes('LoadBalancer')) {
      if (spec.allowedUses.some((use) => use !== 'LoadBalancer')) {
        addIssue(ctx, ['allowedUses'], 'LoadBalancer cannot be combined with Workload or Tunnel');
      }
      if (encapsulationOn(spec.ipipMode) || encapsulationOn(spec.vxlanMode)) {
        addIssue(ctx, ['allowedUses'], 'a LoadBalancer pool cannot have IPIP or VXLAN enabled');
      }
    }
  });

export const ipPoolResourceSchema = calicoResourceSchema('IPPool', ipPoolSpecSchema);

/** An IPPool as Gingham uses it: defaults applied, modes normalized, the CIDR parsed. */
export interface IPPool {
  apiVersion: CalicoApiVersion;
  metadata: ObjectMeta;
  spec: z.output<typeof ipPoolSpecSchema> & { ipipMode: EncapsulationMode; vxlanMode: EncapsulationMode };
  /** spec.cidr, parsed. */
  cidr: Cidr;
}

/** Validates an IPPool manifest (either apiVersion) and applies Calico's defaults; empty modes mean Never. */
export function parseIPPool(input: unknown): IPPool {
  const resource = parseWith(ipPoolResourceSchema, input, subjectOf('IPPool', input));
  const spec = { ...resource.spec, ipipMode: normalizeMode(resource.spec.ipipMode), vxlanMode: normalizeMode(resource.spec.vxlanMode) };
  return { apiVersion: resource.apiVersion, metadata: resource.metadata, spec, cidr: parseCidr(spec.cidr) };
}

/** Refuses the changes Calico forbids on an existing pool: cidr and blockSize are immutable. */
export function validateIPPoolUpdate(previous: IPPool, next: IPPool): void {
  const issues = (['cidr', 'blockSize'] as const)
    .filter((field) => previous.spec[field] !== next.spec[field])
    .map((field) => ({
      path: `spec.${field}`,
      message: `is immutable (was ${JSON.stringify(previous.spec[field])}, now ${JSON.stringify(next.spec[field])}): create a new pool and migrate to it instead`,
    }));
  if (issues.length > 0) throw new ValidationError(`IPPool ${JSON.stringify(next.metadata.name)}`, issues);
}

/** The manifest of a pool under either apiVersion, with every default written out, as calicoctl prints it. */
export function ipPoolManifest(pool: IPPool, apiVersion: CalicoApiVersion = pool.apiVersion) {
  return { apiVersion, kind: 'IPPool' as const, metadata: pool.metadata, spec: pool.spec };
}
