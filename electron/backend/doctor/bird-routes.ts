// The BGP paths BIRD holds for one address (`show route for ADDR all`), read from its control
// socket through the SSH connection, for a stock Calico node where no Gingham agent runs.
import type { Client } from 'ssh2';
import type { BgpPathFacts } from '../../../shared/doctor/evidence.ts';
import { askBird } from '../peers/bird-socket.ts';

/**
 * BIRD 2's reply: after `1007-Table master4:`, a route line
 * (` 192.168.2.0/26  unreachable [Mesh_10_240_1_12 05:57:23.004 from 10.240.1.12] * (100) [i]`;
 * further paths of the same prefix leave the prefix out), then attribute lines
 * (`1008-\tType: BGP univ`, ` \tBGP.next_hop: 10.240.1.12`, ` \tBGP.as_path: `). BIRD 1.6's (what
 * calico-node runs) puts the next hop in the route line instead of the route's type
 * (`1007-192.168.2.0/26   via 10.240.1.12 on ens5 [Mesh_10_240_1_12 05:57:23] * (100/0) [i]`).
 * Non-BGP paths are skipped.
 */
export function parseBirdRoutes(reply: string): BgpPathFacts[] {
  const paths: (BgpPathFacts & { bgp: boolean })[] = [];
  let prefix = '';
  let current: (BgpPathFacts & { bgp: boolean }) | undefined;
  for (const raw of reply.split('\n')) {
    const line = raw.replace(/^\d{4}[- ]/, '');
    const route = /^\s*(\S+\/\d+)?\s*(?:unicast|blackhole|unreachable|prohibited|via (\S+) on \S+|dev \S+)?\s*\[(\S+)\s[^\]]*\](\s\*)?/.exec(line);
    if (route && (route[1] || prefix)) {
      prefix = route[1] ?? prefix;
      const name = route[3]!;
      const mesh = /^(?:Mesh|Node|Global)_(\d+)_(\d+)_(\d+)_(\d+)/.exec(name);
      current = { prefix, from: mesh ? mesh.slice(1, 5).join('.') : name, nextHop: route[2] ?? '', best: route[4] !== undefined, protocol: name, bgp: false };
      paths.push(current);
      continue;
    }
    if (!current) continue;
    const type = /Type:\s+(\S+)/.exec(line);
    if (type) current.bgp = type[1] === 'BGP';
    const via = /^\s*via (\S+)/.exec(line);
    if (via && !current.nextHop) current.nextHop = via[1]!;
    const nextHop = /BGP\.next_hop:\s+(\S+)/.exec(line);
    if (nextHop) {
      current.nextHop = nextHop[1]!;
      current.bgp = true;
    }
    const asPath = /BGP\.as_path:\s*(.*)$/.exec(line);
    if (asPath) current.asPath = asPath[1]!.trim();
  }
  return paths.filter((p) => p.bgp || /^(Mesh|Node|Global)_/.test(p.protocol ?? '')).map(({ bgp: _bgp, ...path }) => path);
}

export async function birdRoutesFor(client: Client, socket: string, address: string, timeoutMs = 5000): Promise<BgpPathFacts[]> {
  const reply = await askBird(client, socket, `show route for ${address} all`, timeoutMs);
  if (reply.code === '0000') return parseBirdRoutes(reply.text);
  // 8001 Network not found: BIRD has no route for it, which is evidence, not a failure.
  if (reply.code === '8001') return [];
  throw new Error(`BIRD refused: ${reply.text.trim()}`);
}
