// Every kind of Calico's crd.projectcalico.org group, in one table: its plural (the URL and CRD
// name), its scope, and what Gingham does with it. The agent's watches, the console's stores, the
// manifests' CRDs and the RBAC rules read their names from here, so a kind is spelled once.
//
// - `honoured`: the model parses it and the agent or console acts on it (a schema of Gingham's own
//   in crds.ts, validated as Calico validates it);
// - `stored`: Calico's tools read or write it (calicoctl, Calico's own components in a mixed
//   cluster), so a cluster that Gingham set up must have its CRD, but Gingham does not act on it:
//   its CRD keeps whatever the client sends.
//
// The list is Calico v3.31's CRD set (libcalico-go/config/crd in Calico's repository).
import { calicoCrdV1 } from './meta.ts';

export interface CalicoKindInfo {
  kind: string;
  plural: string;
  scope: 'Cluster' | 'Namespaced';
  use: 'honoured' | 'stored';
  /** Calico's CRD has a status subresource (status is written apart from spec). */
  status?: true;
  /** kubectl's short names, as Calico's CRDs declare them. */
  shortNames?: string[];
}

const table = [
  { kind: 'IPPool', plural: 'ippools', scope: 'Cluster', use: 'honoured' },
  { kind: 'BGPConfiguration', plural: 'bgpconfigurations', scope: 'Cluster', use: 'honoured' },
  { kind: 'BGPPeer', plural: 'bgppeers', scope: 'Cluster', use: 'honoured' },
  { kind: 'IPAMBlock', plural: 'ipamblocks', scope: 'Cluster', use: 'honoured' },
  { kind: 'BlockAffinity', plural: 'blockaffinities', scope: 'Cluster', use: 'honoured' },
  { kind: 'IPAMHandle', plural: 'ipamhandles', scope: 'Cluster', use: 'honoured' },
  { kind: 'IPAMConfig', plural: 'ipamconfigs', scope: 'Cluster', use: 'honoured' },
  { kind: 'ClusterInformation', plural: 'clusterinformations', scope: 'Cluster', use: 'honoured', shortNames: ['clusterinfo', 'clusterinfos'] },
  { kind: 'BGPFilter', plural: 'bgpfilters', scope: 'Cluster', use: 'stored' },
  { kind: 'CalicoNodeStatus', plural: 'caliconodestatuses', scope: 'Cluster', use: 'stored', status: true },
  { kind: 'FelixConfiguration', plural: 'felixconfigurations', scope: 'Cluster', use: 'stored' },
  { kind: 'GlobalNetworkPolicy', plural: 'globalnetworkpolicies', scope: 'Cluster', use: 'stored' },
  { kind: 'GlobalNetworkSet', plural: 'globalnetworksets', scope: 'Cluster', use: 'stored' },
  { kind: 'HostEndpoint', plural: 'hostendpoints', scope: 'Cluster', use: 'stored' },
  { kind: 'IPReservation', plural: 'ipreservations', scope: 'Cluster', use: 'stored' },
  { kind: 'KubeControllersConfiguration', plural: 'kubecontrollersconfigurations', scope: 'Cluster', use: 'stored', status: true },
  { kind: 'NetworkPolicy', plural: 'networkpolicies', scope: 'Namespaced', use: 'stored' },
  { kind: 'NetworkSet', plural: 'networksets', scope: 'Namespaced', use: 'stored' },
  { kind: 'StagedGlobalNetworkPolicy', plural: 'stagedglobalnetworkpolicies', scope: 'Cluster', use: 'stored' },
  { kind: 'StagedKubernetesNetworkPolicy', plural: 'stagedkubernetesnetworkpolicies', scope: 'Namespaced', use: 'stored' },
  { kind: 'StagedNetworkPolicy', plural: 'stagednetworkpolicies', scope: 'Namespaced', use: 'stored' },
  { kind: 'Tier', plural: 'tiers', scope: 'Cluster', use: 'stored', status: true },
] as const satisfies readonly CalicoKindInfo[];

export type CalicoKind = (typeof table)[number]['kind'];
export type HonouredCalicoKind = Extract<(typeof table)[number], { use: 'honoured' }>['kind'];

export const calicoKinds: readonly CalicoKindInfo[] = table;

/** The table row of a Calico kind, by kind name. */
export function calicoKind(kind: CalicoKind): CalicoKindInfo & { apiVersion: typeof calicoCrdV1 } {
  const found = table.find((row) => row.kind === kind);
  if (!found) throw new Error(`${kind} is not a kind of Calico's`);
  return { ...found, apiVersion: calicoCrdV1 };
}

/** The plural of a Calico kind, as the API server's URLs and RBAC rules spell it. */
export const pluralOfCalicoKind = (kind: CalicoKind): string => calicoKind(kind).plural;
