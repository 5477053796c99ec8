// The agent's two status objects in the API, run beside routing and never in its way: its own
// GinghamNodeStatus (for the console's one watch) and the CalicoNodeStatus objects an admin made
// for this node (for calicoctl and kubectl, as calico-node fills them in).
import type { Logger } from 'pino';
import type { AgentStatus, RouteRow } from '../../shared/api/agent-contract.ts';
import type { NodeStatusFacts } from '../../shared/model/calico-node-status.ts';
import type { RibRoute, SpeakerStatus } from '../bgp/speaker-status.ts';
import { isIPv4, maskPrefixLength } from '../../shared/net/ipv4.ts';
import type { KubeClient } from '../datastore/kube-client.ts';
import { CalicoNodeStatusWriter } from './calico-node-status-writer.ts';
import { compactStatus, type PassFacts } from './compact-status.ts';
import { NodeStatusPublisher, type PublisherOptions } from './node-status-publisher.ts';

/** What the reporting reads of the agent. */
export interface StatusSource {
  status(): AgentStatus;
  pass(): PassFacts;
  speaker(): { status(): SpeakerStatus; routes(limit?: number): { routes: RibRoute[] } } | undefined;
  kernelRoutes(): Promise<RouteRow[]>;
}

export class NodeStatusReporting {
  readonly publisher: NodeStatusPublisher;
  private readonly calico: CalicoNodeStatusWriter;

  constructor(client: KubeClient, nodeName: string, agentVersion: string, source: StatusSource, log: Logger, options: PublisherOptions = {}) {
    this.publisher = new NodeStatusPublisher(client, nodeName, () => compactStatus(source.status(), agentVersion, source.pass()), log, options);
    this.calico = new CalicoNodeStatusWriter(client, nodeName, () => nodeStatusFacts(source, agentVersion), log);
  }

  start(): void {
    this.publisher.start();
    this.calico.start();
  }

  /** Something changed (a new desired state, a pass): publish soon, within the rate limit. */
  changed(): void {
    this.publisher.trigger();
  }

  async stop(): Promise<void> {
    await Promise.all([this.publisher.stop(), this.calico.stop()]);
  }
}


/**
 * What a CalicoNodeStatus reports, read as BIRD would see it: the RIB's paths (the best one in
 * the kernel, FIB; the others, RIB) and the kernel's other routes (connected ones Direct, the rest
 * Kernel or Static), as Calico's BIRD learns the kernel table.
 */
async function nodeStatusFacts(source: StatusSource, agentVersion: string): Promise<NodeStatusFacts> {
  const speaker = source.speaker();
  const status = speaker?.status();
  const kernel = await source.kernelRoutes();
  const byDestination = new Map(kernel.map((row) => [`${row.destination}/${maskPrefixLength(row.genmask)}`, row]));
  const meshPeers = new Set((status?.peers ?? []).filter((p) => p.type === 'node-to-node mesh').map((p) => p.address));
  const routes: NodeStatusFacts['routes'][number][] = [];
  const fromBgp = new Set<string>();
  for (const route of speaker?.routes(2000).routes ?? []) {
    for (const path of route.paths) {
      if (path.from === 'local') continue;
      const row = byDestination.get(route.prefix);
      if (path.best) fromBgp.add(route.prefix);
      routes.push({
        destination: route.prefix,
        gateway: path.nextHop,
        ...(row ? { interface: row.iface } : {}),
        installed: path.best && row !== undefined,
        source: meshPeers.has(path.from) ? 'NodeMesh' : 'BGPPeer',
        ...(isIPv4(path.from) ? { peerIP: path.from } : {}),
      });
    }
  }
  for (const [destination, row] of byDestination) {
    if (fromBgp.has(destination)) continue;
    routes.push({
      destination,
      ...(row.gateway !== '0.0.0.0' ? { gateway: row.gateway } : {}),
      interface: row.iface,
      installed: true,
      source: row.protocol === 2 ? 'Direct' : row.protocol === 4 ? 'Static' : 'Kernel',
    });
  }
  return {
    agentVersion,
    ...(status ? { speaker: { routerId: status.routerId, since: status.since, peers: status.peers } } : {}),
    routes,
    now: new Date().toISOString(),
  };
}
