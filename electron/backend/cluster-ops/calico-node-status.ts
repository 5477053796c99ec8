// A node that runs Project Calico's calico-node instead of the Gingham agent, as the console's
// overview shows it (read-only): Felix's health from its health endpoint on the node's loopback
// (FELIX_HEALTHHOST and FELIX_HEALTHPORT's defaults, 127.0.0.1:9099) and BIRD's sessions from its
// control socket, both over the console's SSH connection.
import type { Client } from 'ssh2';
import type { NodeOverview } from '../../../shared/api/cluster-ops-contract.ts';
import { runScript } from '../installer/remote.ts';
import { birdSockets, readBirdProtocols } from '../peers/bird-socket.ts';

const felixHealth = 'http://127.0.0.1:9099';

/** Felix's readiness and liveness as HTTP codes (000: nothing answers). */
export async function felixStatus(client: Client): Promise<{ readiness: string; liveness: string }> {
  const script = ['for p in readiness liveness; do', `  printf '%s=%s\\n' $p "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 ${felixHealth}/$p 2>/dev/null || echo 000)"`, 'done'].join('\n');
  const out = (await runScript(client, "reading Felix's health", script, [], 20_000)).stdout;
  return { readiness: /readiness=(\d+)/.exec(out)?.[1] ?? '000', liveness: /liveness=(\d+)/.exec(out)?.[1] ?? '000' };
}

/** The overview's agent and BGP parts for a calico-node node; undefined when neither Felix nor BIRD answers. */
export async function calicoNodeOverview(client: Client): Promise<Pick<NodeOverview, 'agent' | 'bgp'> | undefined> {
  const felix = await felixStatus(client).catch(() => ({ readiness: '000', liveness: '000' }));
  let peers: Awaited<ReturnType<typeof readBirdProtocols>> | undefined;
  let socket: string | undefined;
  for (const candidate of birdSockets) {
    try {
      peers = await readBirdProtocols(client, candidate);
      socket = candidate;
      break;
    } catch {
      // next socket
    }
  }
  if (felix.readiness === '000' && felix.liveness === '000' && !peers) return undefined;
  const felixText = felix.readiness === '200' ? 'Felix ready' : felix.readiness === '000' ? 'Felix not answering on 127.0.0.1:9099' : `Felix not ready (readiness HTTP ${felix.readiness}, liveness HTTP ${felix.liveness})`;
  return {
    agent: {
      health: 'not-installed',
      message: `calico-node runs here (read-only in the console): ${felixText}; ${socket ? `BIRD answers at ${socket}` : 'BIRD does not answer on its control socket'}.`,
    },
    bgp: peers
      ? { state: 'running', peers: peers.length, established: peers.filter((p) => p.state === 'up' || p.info.startsWith('Established')).length, reason: `from BIRD at ${socket}` }
      : { state: 'unknown', reason: 'BIRD does not answer on its control socket' },
  };
}
