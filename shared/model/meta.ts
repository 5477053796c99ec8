// What every Calico resource shares: its two apiVersions and Kubernetes metadata.
import { z } from 'zod';

/** calicoctl's API group, as users write manifests. */
export const calicoV3 = 'projectcalico.org/v3';
/** The CRD group Calico stores its resources under in the Kubernetes datastore. */
export const calicoCrdV1 = 'crd.projectcalico.org/v1';
export const calicoApiVersions = [calicoV3, calicoCrdV1] as const;
export type CalicoApiVersion = (typeof calicoApiVersions)[number];

const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Kubernetes object name (RFC 1123 subdomain), as cluster-scoped Calico resources need. */
export const objectNameSchema = z
  .string()
  .max(253, { error: 'must have at most 253 characters' })
  .regex(dnsSubdomain, {
    error: (issue) =>
      `must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (got ${JSON.stringify(issue.input)})`,
  });

/** The metadata Gingham reads; other fields (uid, managedFields, ...) pass through untouched. */
export const objectMetaSchema = z.looseObject({
  name: objectNameSchema,
  namespace: z.string().optional(),
  resourceVersion: z.string().optional(),
  uid: z.string().optional(),
  generation: z.int().optional(),
  creationTimestamp: z.string().nullable().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ObjectMeta = z.output<typeof objectMetaSchema>;

/** The envelope of a Calico resource of `kind` with `spec`. */
export function calicoResourceSchema<K extends string, S extends z.ZodType>(kind: K, spec: S) {
  return z.object({
    apiVersion: z.enum(calicoApiVersions, {
      error: (issue) => `must be ${calicoV3} (as calicoctl takes it) or ${calicoCrdV1} (as the CRD stores it) (got ${JSON.stringify(issue.input)})`,
    }),
    kind: z.literal(kind, { error: (issue) => `must be ${kind} (got ${JSON.stringify(issue.input)})` }),
    metadata: objectMetaSchema,
    spec,
  });
}

/** A name for error messages: `IPPool "default-ipv4-ippool"`, or just the kind when unnamed. */
export function subjectOf(kind: string, input: unknown): string {
  const name = (input as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  return typeof name === 'string' ? `${kind} ${JSON.stringify(name)}` : kind;
}
