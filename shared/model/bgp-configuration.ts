// BGPConfiguration: the cluster's BGP settings (`default`) and per-node overrides (`node.<name>`).
import { z } from 'zod';
import { calicoResourceSchema, subjectOf, type CalicoApiVersion, type ObjectMeta } from './meta.ts';
import { asNumberSchema, defaultAsNumber, durationSchema, secretKeyRefSchema } from './bgp-fields.ts';
import { addIssue, parseWith } from './validation.ts';

export const bgpConfigurationSpecSchema = z
  .looseObject({
    asNumber: asNumberSchema.optional().meta({ description: 'The default AS of every node (64512 when unset).' }),
    nodeToNodeMeshEnabled: z.boolean().optional().meta({ description: 'Full iBGP mesh between all nodes (true when unset).' }),
    listenPort: z.int().min(1).max(65535).optional().meta({ description: 'TCP port BGP listens on (179 when unset).' }),
    logSeverityScreen: z.string().optional(),
    nodeMeshPassword: secretKeyRefSchema.optional(),
    nodeMeshMaxRestartTime: durationSchema.optional(),
    ignoredInterfaces: z.array(z.string()).optional(),
    serviceClusterIPs: z.array(z.object({ cidr: z.string() })).optional(),
    serviceExternalIPs: z.array(z.object({ cidr: z.string() })).optional(),
    serviceLoadBalancerIPs: z.array(z.object({ cidr: z.string() })).optional(),
  })
  .meta({
    'x-kubernetes-preserve-unknown-fields': true,
    'x-kubernetes-validations': [
      {
        rule: '!has(self.nodeMeshPassword) || !has(self.nodeToNodeMeshEnabled) || self.nodeToNodeMeshEnabled == true',
        message: 'nodeMeshPassword cannot be set when nodeToNodeMeshEnabled is false',
        reason: 'FieldValueForbidden',
      },
      {
        rule: '!has(self.nodeMeshMaxRestartTime) || !has(self.nodeToNodeMeshEnabled) || self.nodeToNodeMeshEnabled == true',
        message: 'nodeMeshMaxRestartTime cannot be set when nodeToNodeMeshEnabled is false',
        reason: 'FieldValueForbidden',
      },
    ],
  })
  .superRefine((spec, ctx) => {
    if (spec.nodeToNodeMeshEnabled === false) {
      for (const field of ['nodeMeshPassword', 'nodeMeshMaxRestartTime'] as const) {
        if (spec[field] !== undefined) addIssue(ctx, [field], 'cannot be set when nodeToNodeMeshEnabled is false: there is no mesh to apply it to');
      }
    }
  });

export const bgpConfigurationResourceSchema = calicoResourceSchema('BGPConfiguration', bgpConfigurationSpecSchema).superRefine(
  (resource, ctx) => {
    const name = resource.metadata.name;
    if (name !== 'default' && !name.startsWith('node.')) {
      addIssue(ctx, ['metadata', 'name'], `must be "default" (cluster-wide) or "node.<node name>" (one node) (got ${JSON.stringify(name)})`);
    }
  },
);

export interface BGPConfiguration {
  apiVersion: CalicoApiVersion;
  metadata: ObjectMeta;
  spec: z.output<typeof bgpConfigurationSpecSchema>;
}

export function parseBGPConfiguration(input: unknown): BGPConfiguration {
  return parseWith(bgpConfigurationResourceSchema, input, subjectOf('BGPConfiguration', input));
}

/** The settings in effect when some are unset, with Calico's defaults. */
export interface EffectiveBgpSettings {
  asNumber: number;
  nodeToNodeMeshEnabled: boolean;
  listenPort: number;
}

/**
 * The settings for `nodeName`: the node's own `node.<name>` object over `default`, over Calico's
 * defaults (AS 64512, mesh on, port 179).
 */
export function effectiveBgpSettings(configurations: BGPConfiguration[], nodeName?: string): EffectiveBgpSettings {
  const byName = new Map(configurations.map((c) => [c.metadata.name, c.spec]));
  const layers = [byName.get('default'), nodeName ? byName.get(`node.${nodeName}`) : undefined];
  const settings: EffectiveBgpSettings = { asNumber: defaultAsNumber, nodeToNodeMeshEnabled: true, listenPort: 179 };
  for (const spec of layers) {
    if (!spec) continue;
    settings.asNumber = spec.asNumber ?? settings.asNumber;
    settings.nodeToNodeMeshEnabled = spec.nodeToNodeMeshEnabled ?? settings.nodeToNodeMeshEnabled;
    settings.listenPort = spec.listenPort ?? settings.listenPort;
  }
  return settings;
}
