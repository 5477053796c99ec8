// What a node's BGP speaker says, whichever it is: the Gingham agent over its RPC, else calico-node's
// BIRD over its control socket (a stock Calico node), through the console's SSH connection. The
// doctor's scan and the reflector migration read nodes of both kinds through it.
import type { Client } from 'ssh2';
import type { BgpPathFacts } from '../../../shared/doctor/evidence.ts';
import type { BgpSessionFacts, ScanNodeEvidence } from '../../../shared/doctor/scan-evidence.ts';
import { AgentUnreachable, callAgent } from '../agent-rpc/agent-rpc.ts';
import { askBird, birdSockets, readBirdProtocols } from '../peers/bird-socket.ts';
import { parseBirdRoutes } from './bird-routes.ts';

export interface Speaker {
  source: ScanNodeEvidence['bgp']['source'];
  sessions: BgpSessionFacts[];
  note?: string;
  notRunning?: string;
}

/** The speaker's sessions: the agent's, else BIRD's, else none (and why). */
export async function readSpeakerSessions(client: Client): Promise<Speaker & { birdSocket?: string }> {
  let agentNote = '';
  try {
    const status = await callAgent(client, 'bgp.status', undefined, 5000);
    return { source: 'agent', sessions: status.peers.map((p) => ({ address: p.address, state: p.state, since: p.since, info: p.info, ...(p.lastError ? { lastError: p.lastError } : {}) })), ...(status.reason ? { notRunning: status.reason } : {}) };
  } catch (error) {
    if (!(error instanceof AgentUnreachable)) return { source: 'agent', sessions: [], notRunning: (error as Error).message };
    agentNote = error.message;
  }
  for (const socket of birdSockets) {
    try {
      const rows = await readBirdProtocols(client, socket);
      return { source: 'bird', sessions: rows.map((r) => ({ address: r.address, state: r.state, since: r.since, info: r.info, ...(r.lastError ? { lastError: r.lastError } : {}) })), note: `BIRD at ${socket}`, birdSocket: socket };
    } catch {
      // the next socket
    }
  }
  return { source: 'none', sessions: [], note: `neither the Gingham agent (${agentNote}) nor BIRD (${birdSockets.join(', ')}) answers` };
}

/** The speaker's BGP paths (the agent's RIB, or BIRD's `show route all`), once its sessions say which speaker it is. */
export async function readSpeakerRib(client: Client, speaker: Speaker & { birdSocket?: string }): Promise<BgpPathFacts[]> {
  if (speaker.source === 'agent' && !speaker.notRunning) {
    const rib = await callAgent(client, 'bgp.routes', {}, 5000);
    return rib.routes.flatMap((r) => r.paths.map((p) => ({ prefix: r.prefix, from: p.from, nextHop: p.nextHop, best: p.best, asPath: p.asPath })));
  }
  if (speaker.source === 'bird' && speaker.birdSocket) {
    const reply = await askBird(client, speaker.birdSocket, 'show route all', 5000);
    return reply.code === '0000' ? parseBirdRoutes(reply.text) : [];
  }
  return [];
}
