// BIRD's peers, for a stock Calico node (no Gingham agent): its control socket through the SSH
// connection, `show protocols all`, the BGP rows as `calicoctl node status` shows them.
import type { Client } from 'ssh2';
import type { BgpPeerRow } from '../../../shared/api/cluster-ops-contract.ts';

/** Where calico-node's BIRD listens (the host path of /var/run/calico in the calico-node pod). */
export const birdSockets = ['/var/run/calico/bird.ctl', '/run/calico/bird.ctl', '/var/run/bird/bird.ctl'];

/** Parses BIRD's reply to `show protocols all`: 1002 rows, 1006 detail lines. */
export function parseBirdProtocols(reply: string): BgpPeerRow[] {
  const peers: BgpPeerRow[] = [];
  let current: BgpPeerRow | undefined;
  for (const line of reply.split('\n')) {
    const code = line.slice(0, 4);
    const text = line.slice(5);
    if (code === '1002') {
      const [name = '', proto = '', , state = '', since = '', ...info] = text.trim().split(/\s+/);
      current = undefined;
      if (proto !== 'BGP') continue;
      // Calico names its peers Mesh_10_240_1_11, Node_..., Global_...
      const match = /^(Mesh|Node|Global)_(\d+)_(\d+)_(\d+)_(\d+)/.exec(name);
      current = {
        address: match ? match.slice(2, 6).join('.') : name,
        type: match ? ({ Mesh: 'node-to-node mesh', Node: 'node specific', Global: 'global' } as Record<string, string>)[match[1]!]! : 'bgp',
        state,
        since,
        info: info.join(' '),
      };
      peers.push(current);
    } else if (current && (code === '1006' || line.startsWith(' '))) {
      const routes = /Routes:\s+(\d+) imported.*?(\d+) exported/.exec(text);
      if (routes) {
        current.received = Number(routes[1]);
        current.advertised = Number(routes[2]);
      }
      const error = /Last error:\s+(.*)$/.exec(text);
      if (error) current.lastError = error[1]!.trim();
    }
  }
  return peers;
}

/** BIRD's answer to one command on its control socket: the reply's text, and its final code (0000 when it succeeded). */
export interface BirdReply {
  code: string;
  text: string;
}

/** Sends one command to BIRD's control socket over the SSH connection (birdc's protocol: a greeting, then the reply up to a final code). */
export function askBird(client: Client, socket: string, command: string, timeoutMs = 5000): Promise<BirdReply> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`BIRD at ${socket} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
    client.openssh_forwardOutStreamLocal(socket, (error, stream) => {
      if (error) {
        clearTimeout(timer);
        reject(new Error(`no BIRD socket at ${socket}`));
        return;
      }
      let text = '';
      let asked = false;
      stream.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (!asked && /^0001 /m.test(text)) {
          asked = true;
          text = '';
          stream.write(`${command}\n`);
          return;
        }
        // 0000 ends a reply; an 8xxx or 9xxx code (run-time or parse error) ends it too.
        const final = asked ? /^(?:(0000) ?|([89]\d{3}) )/m.exec(text) : null;
        if (final) {
          clearTimeout(timer);
          stream.close();
          resolve({ code: final[1] ?? final[2]!, text });
        }
      });
      stream.on('close', () => clearTimeout(timer));
    });
  });
}

export async function readBirdProtocols(client: Client, socket: string, timeoutMs = 5000): Promise<BgpPeerRow[]> {
  const reply = await askBird(client, socket, 'show protocols all', timeoutMs);
  if (reply.code !== '0000') throw new Error(`BIRD refused: ${reply.text.trim()}`);
  return parseBirdProtocols(reply.text);
}
