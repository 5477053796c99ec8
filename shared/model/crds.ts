// Gingham's CustomResourceDefinitions for the crd.projectcalico.org group, generated from the
// model's own schemas, for clusters (and the lab) that have no Calico installed. One source of
// truth: the rules the agent and the console apply are the rules the API server applies.
import { z } from 'zod';
import { bgpConfigurationSpecSchema } from './bgp-configuration.ts';
import { bgpPeerSpecSchema } from './bgp-peer.ts';
import { blockAffinitySpecSchema, ipamBlockSpecSchema, ipamConfigSpecSchema, ipamHandleSpecSchema } from './ipam.ts';
import { ipPoolSpecSchema, ipv4BlockSizeRange } from './ippool.ts';

type JsonSchema = { [key: string]: unknown };

interface CrdSource {
  kind: string;
  plural: string;
  spec: z.ZodType;
  /** Extra schema constraints the model checks in code but Kubernetes needs spelled out. */
  specOverrides?: Record<string, JsonSchema>;
}

const sources: CrdSource[] = [
  {
    kind: 'IPPool',
    plural: 'ippools',
    spec: ipPoolSpecSchema,
    specOverrides: { blockSize: { minimum: ipv4BlockSizeRange.min, maximum: ipv4BlockSizeRange.max } },
  },
  { kind: 'BGPConfiguration', plural: 'bgpconfigurations', spec: bgpConfigurationSpecSchema },
  { kind: 'BGPPeer', plural: 'bgppeers', spec: bgpPeerSpecSchema },
  { kind: 'IPAMBlock', plural: 'ipamblocks', spec: ipamBlockSpecSchema },
  { kind: 'BlockAffinity', plural: 'blockaffinities', spec: blockAffinitySpecSchema },
  { kind: 'IPAMHandle', plural: 'ipamhandles', spec: ipamHandleSpecSchema },
  { kind: 'IPAMConfig', plural: 'ipamconfigs', spec: ipamConfigSpecSchema },
];

const jsSafeBound = Number.MAX_SAFE_INTEGER;

/**
 * Turns zod's OpenAPI 3.0 output into a Kubernetes structural schema: no JS safe-integer
 * bounds, no additionalProperties beside properties, `const` as a one-value enum.
 */
function structural(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(structural);
  if (node === null || typeof node !== 'object') return node;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node as JsonSchema)) {
    if ((key === 'minimum' || key === 'maximum') && Math.abs(value as number) === jsSafeBound) continue;
    // Kubernetes prunes unknown fields rather than refusing them, and a structural schema may not
    // have both properties and additionalProperties.
    if (key === 'additionalProperties' && (value === false || 'properties' in (node as JsonSchema))) continue;
    if (key === '$schema') continue;
    if (key === 'const') {
      out.enum = [value];
      continue;
    }
    out[key] = structural(value);
  }
  return out;
}

function specSchema(source: CrdSource): JsonSchema {
  const schema = structural(z.toJSONSchema(source.spec, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' })) as JsonSchema;
  const properties = schema.properties as Record<string, JsonSchema>;
  for (const [field, extra] of Object.entries(source.specOverrides ?? {})) {
    properties[field] = { ...properties[field], ...extra };
  }
  return schema;
}

/** One CRD (apiextensions.k8s.io/v1) per Calico kind Gingham uses. */
export function calicoCrds() {
  return sources.map((source) => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${source.plural}.crd.projectcalico.org`,
      labels: { 'app.kubernetes.io/managed-by': 'gingham' },
    },
    spec: {
      group: 'crd.projectcalico.org',
      names: { kind: source.kind, listKind: `${source.kind}List`, plural: source.plural, singular: source.kind.toLowerCase() },
      scope: 'Cluster',
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: specSchema(source),
              },
            },
          },
        },
      ],
    },
  }));
}
