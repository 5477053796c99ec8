// The console API's part for the objects a routing change touches (IPPool, BGPPeer,
// BGPConfiguration, FelixConfiguration): each edited as its spec, checked as it is typed against
// the cluster's own CRD schema (read live from the API server, so a cluster on a newer Calico is
// judged by its own rules), then sent as a server-side dry run (dryRun=All) whose answer is shown
// as a field-by-field diff before Apply. Kept apart from console-contract.ts, which spreads these in.
import { z } from 'zod';
import { SpecChange } from './cluster-ops-contract.ts';

const name = z.string().min(1).max(253);
const context = name;

export const routingKinds = ['IPPool', 'BGPPeer', 'BGPConfiguration', 'FelixConfiguration'] as const;
export const RoutingKind = z.enum(routingKinds);
export type RoutingKind = z.infer<typeof RoutingKind>;

const Spec = z.record(z.string(), z.unknown());

export const RoutingObject = z.object({ name, resourceVersion: z.string(), spec: Spec });
export type RoutingObject = z.infer<typeof RoutingObject>;

/** One place where the object breaks the live CRD's schema: `path` as `spec.field.sub`, the schema's own words. */
export const SchemaIssue = z.object({ path: z.string(), message: z.string() });
export type SchemaIssue = z.infer<typeof SchemaIssue>;

export const RoutingDryRun = z.object({
  created: z.boolean(),
  /** Every spec field that differs between the stored object and what the server would store. */
  changes: z.array(SpecChange),
  /** The whole spec the server would store (defaults filled in). */
  wouldStore: Spec,
});
export type RoutingDryRun = z.infer<typeof RoutingDryRun>;

const write = z.object({ context, kind: RoutingKind, name, spec: Spec, resourceVersion: z.string().optional() });

export const routingConfigRequests = {
  'routingConfig.list': {
    params: z.object({ context, kind: RoutingKind }),
    result: z.object({ items: z.array(RoutingObject) }),
  },
  /** The spec checked against the cluster's CRD (its openAPIV3Schema, read from the API server): nothing is sent to be stored. */
  'routingConfig.validate': {
    params: z.object({ context, kind: RoutingKind, spec: Spec }),
    result: z.object({ issues: z.array(SchemaIssue), crd: z.string(), version: z.string() }),
  },
  /** The write sent with dryRun=All: the server's validation, defaulting and admission, nothing stored. */
  'routingConfig.dryRun': { params: write, result: RoutingDryRun },
  /** Creates (no resourceVersion) or replaces (the resourceVersion edited; a newer one on the server is a `conflict`). */
  'routingConfig.apply': { params: write, result: RoutingObject },
} as const;
