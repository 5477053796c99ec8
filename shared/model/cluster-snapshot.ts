// The cluster's objects as one node's agent (or the console, for any node) reads them: what the
// step to a node's desired state (shared/dataplane-plan/desired-state.ts) takes as input.
import type { BGPConfiguration } from './bgp-configuration.ts';
import type { BGPPeer } from './bgp-peer.ts';
import type { CalicoNode } from './calico-node.ts';
import type { IPAMBlock } from './ipam.ts';
import type { IPPool } from './ippool.ts';

/** A core Node as the agent reads it: Calico's facts plus the labels selectors match. */
export interface ClusterNode extends CalicoNode {
  labels: Record<string, string>;
}

/** One consistent reading of the cache. */
export interface ClusterSnapshot {
  pools: IPPool[];
  bgpConfigurations: BGPConfiguration[];
  bgpPeers: BGPPeer[];
  blocks: IPAMBlock[];
  nodes: ClusterNode[];
}
