// Gingham's CustomResourceDefinitions for the crd.projectcalico.org group, generated from the
// model's own schemas, for clusters (and the lab) that have no Calico installed. One source of
// truth: the rules the agent and the console apply are the rules the API server applies.
import { z } from 'zod';
import { bgpConfigurationSpecSchema } from './bgp-configuration.ts';
import { bgpPeerSpecSchema } from './bgp-peer.ts';
import { calicoKinds, type CalicoKindInfo, type HonouredCalicoKind } from './calico-kinds.ts';
import { clusterInformationSpecSchema } from './cluster-information.ts';
import { blockAffinitySpecSchema, ipamBlockSpecSchema, ipamConfigSpecSchema, ipamHandleSpecSchema } from './ipam.ts';
import { ipPoolSpecSchema, ipv4BlockSizeRange } from './ippool.ts';

type JsonSchema = { [key: string]: unknown };

interface HonouredSchema {
  spec: z.ZodType;
  /** Extra schema constraints the model checks in code but Kubernetes needs spelled out. */
  specOverrides?: Record<string, JsonSchema>;
}

/** The model's schema of each kind Gingham acts on; the API server applies the same rules. */
const honoured: Record<HonouredCalicoKind, HonouredSchema> = {
  IPPool: { spec: ipPoolSpecSchema, specOverrides: { blockSize: { minimum: ipv4BlockSizeRange.min, maximum: ipv4BlockSizeRange.max } } },
  BGPConfiguration: { spec: bgpConfigurationSpecSchema },
  BGPPeer: { spec: bgpPeerSpecSchema },
  IPAMBlock: { spec: ipamBlockSpecSchema },
  BlockAffinity: { spec: blockAffinitySpecSchema },
  IPAMHandle: { spec: ipamHandleSpecSchema },
  IPAMConfig: { spec: ipamConfigSpecSchema },
  ClusterInformation: { spec: clusterInformationSpecSchema },
};

/** A kind Gingham only stores keeps whatever its client (calicoctl, a Calico component) sends. */
const anyObject: JsonSchema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

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

function specSchema(source: HonouredSchema): JsonSchema {
  const schema = structural(z.toJSONSchema(source.spec, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' })) as JsonSchema;
  const properties = schema.properties as Record<string, JsonSchema>;
  for (const [field, extra] of Object.entries(source.specOverrides ?? {})) {
    properties[field] = { ...properties[field], ...extra };
  }
  return schema;
}

function objectSchema(info: CalicoKindInfo): JsonSchema {
  const schema = info.use === 'honoured' ? specSchema(honoured[info.kind as HonouredCalicoKind]) : anyObject;
  return {
    type: 'object',
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: schema,
      ...(info.status ? { status: anyObject } : {}),
    },
  };
}

/**
 * One CRD (apiextensions.k8s.io/v1) per kind of Calico's set: the kinds Gingham acts on with the
 * model's rules, the others kept as their clients write them, so Calico's tools find every kind
 * they read on a cluster Gingham set up.
 */
export function calicoCrds() {
  return calicoKinds.map((source) => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${source.plural}.crd.projectcalico.org`,
      labels: { 'app.kubernetes.io/managed-by': 'gingham' },
    },
    spec: {
      group: 'crd.projectcalico.org',
      names: {
        kind: source.kind,
        listKind: `${source.kind}List`,
        plural: source.plural,
        singular: source.kind.toLowerCase(),
        ...(source.shortNames ? { shortNames: source.shortNames } : {}),
      },
      scope: source.scope,
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: objectSchema(source) },
          ...(source.status ? { subresources: { status: {} } } : {}),
        },
      ],
    },
  }));
}
