// Calico's CalicoNodeStatus: an admin creates one for a node (spec.node, spec.classes,
// spec.updatePeriodSeconds) and the node's agent fills in its status every period, as calico-node
// does (Calico's reference: resources/caliconodestatus). Calico's own docs advise it for a few nodes
// while debugging; Gingham's scalable per-node status is node-agent-status.ts.
import { z } from 'zod';

export const nodeStatusClasses = ['Agent', 'BGP', 'Routes'] as const;
export type NodeStatusClass = (typeof nodeStatusClasses)[number];

export const calicoNodeStatusSpecSchema = z.object({
  node: z.string().min(1),
  classes: z.array(z.enum(nodeStatusClasses)).default([]),
  /** 0 turns updates off; Calico's maximum is a day. */
  updatePeriodSeconds: z.int().min(0).max(86_400).default(10),
});
export type CalicoNodeStatusSpec = z.infer<typeof calicoNodeStatusSpecSchema>;

/** Routes listed at most (Calico lists all; an object over etcd's 1.5 MB limit could not be stored). */
export const statusRoutesMax = 2000;

/** Calico's peer types, from the names `calicoctl node status` shows. */
function peerType(type: string): 'NodeMesh' | 'NodePeer' | 'GlobalPeer' {
  if (type === 'global') return 'GlobalPeer';
  if (type === 'node specific') return 'NodePeer';
  return 'NodeMesh';
}

/** Calico's BGPSessionState values, as CalicoNodeStatus and GinghamNodeStatus report a session. */
export type BgpSessionState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established' | 'Close';
const sessionStates = new Set<string>(['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established', 'Close']);

/**
 * A session's state from the speaker's `calicoctl node status` words: `state` up/start/down and
 * `info` as BIRD words it ("Established", "Active Socket: Connection refused", "Passive"). The FSM
 * state is info's first word; BIRD's "Passive" waits for the peer to connect (RFC 4271's Active);
 * a disabled peer is Idle. `lastError` is the rest of info, the reason a session is not up.
 */
export function bgpSession(peer: { state: string; info?: string }): { state: BgpSessionState; lastError?: string } {
  if (peer.state === 'up') return { state: 'Established' };
  const info = peer.info ?? '';
  const space = info.indexOf(' ');
  const word = space < 0 ? info : info.slice(0, space);
  const rest = space < 0 ? '' : info.slice(space + 1).trim();
  const state: BgpSessionState = peer.state === 'down' ? 'Idle' : word === 'Passive' ? 'Active' : sessionStates.has(word) ? (word as BgpSessionState) : 'Idle';
  return { state, ...(rest ? { lastError: rest } : {}) };
}

/** BIRD's time of day, as Calico's status shows `since` (the speaker keeps ISO times). */
const timeOfDay = (iso: string) => new Date(iso).toISOString().slice(11, 19);
/** BIRD's date and time ("2021-10-18 09:23:19"), as Calico's agent status shows boot times. */
const birdTime = (iso: string) => new Date(iso).toISOString().slice(0, 19).replace('T', ' ');

export interface NodeStatusFacts {
  agentVersion: string;
  /** Undefined when BGP is off (only VXLAN pools): the Agent class then reports NotReady. */
  /** Peers as the speaker's status names them (state up/start/down, info as BIRD words it). */
  speaker?: { routerId: string; since: string; peers: ReadonlyArray<{ address: string; type: string; state: string; info?: string; since: string }> };
  /** Best paths in the kernel (FIB) and the others the RIB holds (RIB). */
  routes: ReadonlyArray<{ destination: string; gateway?: string; interface?: string; installed: boolean; source: 'Kernel' | 'Static' | 'Direct' | 'NodeMesh' | 'BGPPeer'; peerIP?: string }>;
  now: string;
}

/** The status calico-node would write for `classes`, from what the agent knows. */
export function calicoNodeStatus(classes: readonly NodeStatusClass[], facts: NodeStatusFacts): Record<string, unknown> {
  const status: Record<string, unknown> = { lastUpdated: facts.now };
  const speaker = facts.speaker;
  if (classes.includes('Agent')) {
    status.agent = {
      birdV4: speaker
        ? { state: 'Ready', version: `gingham-agent ${facts.agentVersion}`, routerID: speaker.routerId, lastBootTime: birdTime(speaker.since), lastReconfigurationTime: birdTime(speaker.since) }
        : { state: 'NotReady', version: `gingham-agent ${facts.agentVersion}` },
      birdV6: { state: 'NotReady', version: `gingham-agent ${facts.agentVersion}` },
    };
  }
  if (classes.includes('BGP')) {
    const peers = (speaker?.peers ?? []).map((p) => ({ ...p, state: bgpSession(p).state }));
    const established = peers.filter((p) => p.state === 'Established').length;
    status.bgp = {
      numberEstablishedV4: established,
      numberNotEstablishedV4: peers.length - established,
      numberEstablishedV6: 0,
      numberNotEstablishedV6: 0,
      peersV4: peers.map((p) => ({ peerIP: p.address, type: peerType(p.type), state: p.state, since: timeOfDay(p.since) })),
    };
  }
  if (classes.includes('Routes')) {
    status.routes = {
      routesV4: facts.routes.slice(0, statusRoutesMax).map((r) => ({
        type: r.installed ? 'FIB' : 'RIB',
        destination: r.destination,
        gateway: r.gateway ?? 'N/A',
        interface: r.interface ?? '',
        learnedFrom: { sourceType: r.source, ...(r.peerIP ? { peerIP: r.peerIP } : {}) },
      })),
    };
  }
  return status;
}
