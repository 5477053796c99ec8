// bgp-flap: the BGP session between two nodes reset every second (`ss -K` on the node: the
// socket aborted, a RST to the peer, no NOTIFICATION), as a flapping link or a peer crashing in a
// loop does. Each reset is counted; heal stops resetting. The other sessions are not touched.
import { run, sleep } from '../sh.ts';
import { nodeOf, type FaultKind } from './fault.ts';

export interface BgpFlapDetails {
  resets: number;
}

export const bgpFlap: FaultKind & { last?: BgpFlapDetails; everyMs: number } = {
  kind: 'bgp-flap',
  summary: 'reset the BGP session between --node and --peer every second until healed',
  needs: ['node', 'peer'],
  everyMs: 1000,
  async inject(context, options) {
    const node = nodeOf(context, options.node, 'bgp-flap');
    const peer = nodeOf(context, options.peer, 'bgp-flap');
    const details: BgpFlapDetails = { resets: 0 };
    bgpFlap.last = details;
    let stopped = false;
    const filter = `( dport = :179 or sport = :179 ) and dst ${peer.address}`;
    const loop = (async () => {
      while (!stopped) {
        const killed = await run('ip', ['netns', 'exec', node.name, 'ss', '-K', '-Htn', 'state', 'established', filter], { allowFail: true });
        details.resets += killed.split('\n').filter((l) => l.trim()).length;
        await sleep(bgpFlap.everyMs);
      }
    })();
    context.say(`resetting ${node.name} <-> ${peer.name} BGP every ${bgpFlap.everyMs} ms`);
    return {
      what: `BGP ${node.name} <-> ${peer.name} reset every ${bgpFlap.everyMs / 1000} s`,
      async heal() {
        stopped = true;
        await loop;
        context.say(`stopped resetting ${node.name} <-> ${peer.name} (${details.resets} resets)`);
      },
    };
  },
};
