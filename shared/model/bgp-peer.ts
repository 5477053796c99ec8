// BGPPeer: an explicit BGP session, beyond the node-to-node mesh (a route reflector, a ToR router).
import { z } from 'zod';
import { isIPv4 } from '../net/index.ts';
import { calicoResourceSchema, subjectOf, type CalicoApiVersion, type ObjectMeta } from './meta.ts';
import { asNumberSchema, durationSchema, secretKeyRefSchema } from './bgp-fields.ts';
import { addIssue, parseWith } from './validation.ts';

/** `ip` or `ip:port`, as Calico's peerIP takes them (IPv4 here). */
export function parsePeerAddress(text: string): { address: string; port?: number } | undefined {
  const match = /^([0-9.]+)(?::(\d{1,5}))?$/.exec(text);
  if (!match || !isIPv4(match[1]!)) return undefined;
  const port = match[2] === undefined ? undefined : Number(match[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return port === undefined ? { address: match[1]! } : { address: match[1]!, port };
}

const emptyOr = (value: string | undefined) => value === undefined || value === '';

export const bgpPeerSpecSchema = z
  .looseObject({
    peerIP: z
      .string()
      .refine((text) => text === '' || parsePeerAddress(text) !== undefined, {
        error: (issue) => `must be an IPv4 address, optionally with a port, such as 10.240.1.1 or 10.240.1.1:179 (got ${JSON.stringify(issue.input)})`,
      })
      .optional(),
    asNumber: asNumberSchema.optional(),
    node: z.string().max(253).optional(),
    nodeSelector: z.string().optional(),
    peerSelector: z.string().optional(),
    password: secretKeyRefSchema.optional(),
    keepaliveTime: durationSchema.optional(),
    maxRestartTime: durationSchema.optional(),
    nextHopMode: z.enum(['Auto', 'Self', 'Keep']).optional(),
    sourceAddress: z.enum(['UseNodeIP', 'None']).optional(),
    keepOriginalNextHop: z.boolean().optional(),
    ttlSecurity: z.int().min(0).max(255).optional(),
    filters: z.array(z.string()).optional(),
  })
  .meta({
    'x-kubernetes-preserve-unknown-fields': true,
    'x-kubernetes-validations': [
      { rule: '(!has(self.node) || size(self.node) == 0) || (!has(self.nodeSelector) || size(self.nodeSelector) == 0)', message: 'node and nodeSelector cannot both be set', reason: 'FieldValueForbidden' },
      { rule: '(!has(self.peerIP) || size(self.peerIP) == 0) || (!has(self.peerSelector) || size(self.peerSelector) == 0)', message: 'peerIP and peerSelector cannot both be set', reason: 'FieldValueForbidden' },
      { rule: '(!has(self.peerSelector) || size(self.peerSelector) == 0) || !has(self.asNumber) || self.asNumber == 0', message: 'asNumber must be empty when peerSelector is set', reason: 'FieldValueForbidden' },
    ],
  })
  .superRefine((spec, ctx) => {
    if (!emptyOr(spec.node) && !emptyOr(spec.nodeSelector)) {
      addIssue(ctx, ['nodeSelector'], 'cannot be set together with node: choose one node by name, or several by selector');
    }
    if (!emptyOr(spec.peerIP) && !emptyOr(spec.peerSelector)) {
      addIssue(ctx, ['peerSelector'], 'cannot be set together with peerIP: peer with one address, or with the nodes a selector picks');
    }
    if (!emptyOr(spec.peerSelector) && spec.asNumber !== undefined) {
      addIssue(ctx, ['asNumber'], "must be empty when peerSelector is set: the selected nodes' own AS numbers are used");
    }
  });

export const bgpPeerResourceSchema = calicoResourceSchema('BGPPeer', bgpPeerSpecSchema);

export interface BGPPeer {
  apiVersion: CalicoApiVersion;
  metadata: ObjectMeta;
  spec: z.output<typeof bgpPeerSpecSchema>;
}

export function parseBGPPeer(input: unknown): BGPPeer {
  return parseWith(bgpPeerResourceSchema, input, subjectOf('BGPPeer', input));
}
