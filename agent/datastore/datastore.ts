// What the agent knows of the cluster: IPPools, BGPConfigurations, BGPPeers, IPAM blocks and core
// Nodes, each kept by its own list+watch reflector, read through the model's parsers. Objects
// that do not validate are skipped with a message naming them, so one bad object cannot stop a
// node. Listeners hear about changes, coalesced, so a burst of events is one recomputation.
import { parseBGPConfiguration } from '../../shared/model/bgp-configuration.ts';
import { parseBGPPeer } from '../../shared/model/bgp-peer.ts';
import { calicoKind } from '../../shared/model/calico-kinds.ts';
import { parseCalicoNode } from '../../shared/model/calico-node.ts';
import type { ClusterSnapshot } from '../../shared/model/cluster-snapshot.ts';
import { parseIPAMBlock, type IPAMBlock } from '../../shared/model/ipam.ts';
import { parseIPPool } from '../../shared/model/ippool.ts';
import type { KubeClient } from './kube-client.ts';
import { Reflector, type KindInfo, type ReflectorOptions, type ReflectorStats } from './reflector.ts';

export const kinds = {
  ipPool: calicoKind('IPPool'),
  bgpConfiguration: calicoKind('BGPConfiguration'),
  bgpPeer: calicoKind('BGPPeer'),
  ipamBlock: calicoKind('IPAMBlock'),
  blockAffinity: calicoKind('BlockAffinity'),
  ipamHandle: calicoKind('IPAMHandle'),
  node: { apiVersion: 'v1', kind: 'Node', plural: 'nodes' },
} as const satisfies Record<string, KindInfo>;

// The snapshot's shape is the model's, so that the console can compute a node's state from it too.
export type { ClusterSnapshot } from '../../shared/model/cluster-snapshot.ts';

// A type, not an interface: it must fit the contract's open AgentStatus (zod's index signature).
export type DatastoreStatus = {
  /** Every kind has been listed at least once. */
  synced: boolean;
  /** Every reflector reached the server on its last attempt. */
  connected: boolean;
  kinds: Record<string, ReflectorStats & { connected: boolean; objects: number; lastError?: string }>;
};

type RawObject = { metadata?: { name?: string; labels?: Record<string, string> } };

export interface DatastoreOptions extends ReflectorOptions {
  /** How long to gather a burst of events before telling listeners. */
  coalesceMs?: number;
}

export class Datastore {
  private readonly reflectors: Map<keyof typeof kinds, Reflector<RawObject>>;
  private readonly listeners = new Set<(snapshot: ClusterSnapshot) => void>();
  private timer: NodeJS.Timeout | undefined;
  private readonly warned = new Set<string>();

  constructor(
    readonly client: KubeClient,
    private readonly options: DatastoreOptions = {},
  ) {
    const watched: Array<keyof typeof kinds> = ['ipPool', 'bgpConfiguration', 'bgpPeer', 'ipamBlock', 'node'];
    this.reflectors = new Map(watched.map((key) => [key, new Reflector<RawObject>(client, kinds[key], () => this.changed(), options)]));
  }

  start(): void {
    for (const reflector of this.reflectors.values()) reflector.start();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await Promise.all([...this.reflectors.values()].map((r) => r.stop()));
  }

  /** Called (coalesced) after the cache changes; not called while nothing changes. */
  onChange(listener: (snapshot: ClusterSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once every kind has been listed (or rejects after `timeoutMs`). */
  async waitForSync(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.status().synced) {
      if (Date.now() > deadline) {
        const errors = Object.entries(this.status().kinds)
          .filter(([, kind]) => kind.lastError)
          .map(([name, kind]) => `${name}: ${kind.lastError}`);
        throw new Error(`the datastore did not sync within ${timeoutMs / 1000} s${errors.length ? `: ${errors.join('; ')}` : ''}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  status(): DatastoreStatus {
    const entries = [...this.reflectors.values()].map((r) => [
      r.info.kind,
      { ...r.stats, connected: r.connected, objects: r.items().length, ...(r.lastError ? { lastError: r.lastError } : {}) },
    ]);
    const all = [...this.reflectors.values()];
    return { synced: all.every((r) => r.synced), connected: all.every((r) => r.connected), kinds: Object.fromEntries(entries) };
  }

  snapshot(): ClusterSnapshot {
    return {
      pools: this.parsed('ipPool', parseIPPool),
      bgpConfigurations: this.parsed('bgpConfiguration', parseBGPConfiguration),
      bgpPeers: this.parsed('bgpPeer', parseBGPPeer),
      blocks: this.parsed('ipamBlock', parseIPAMBlock),
      nodes: this.parsed('node', (raw) => ({ ...parseCalicoNode(raw), labels: (raw as RawObject).metadata?.labels ?? {} })),
    };
  }

  /** The IPAM blocks alone (IPAM reads them often; the whole snapshot parses every kind). */
  blocks(): IPAMBlock[] {
    return this.parsed('ipamBlock', parseIPAMBlock);
  }

  private parsed<T>(key: keyof typeof kinds, parse: (raw: unknown) => T): T[] {
    const out: T[] = [];
    for (const raw of this.reflectors.get(key)!.items()) {
      try {
        out.push(parse(raw));
      } catch (error) {
        const message = (error as Error).message;
        if (!this.warned.has(message)) {
          this.warned.add(message);
          this.options.log?.(`skipping an invalid ${kinds[key].kind}: ${message}`);
        }
      }
    }
    return out.sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
  }

  private changed(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.status().synced) return;
      const snapshot = this.snapshot();
      for (const listener of this.listeners) listener(snapshot);
    }, this.options.coalesceMs ?? 20);
  }
}

function nameOf(value: unknown): string {
  const v = value as { name?: string; metadata?: { name?: string } };
  return v.metadata?.name ?? v.name ?? '';
}
