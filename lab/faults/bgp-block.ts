// bgp-block: a firewall rule on --node that drops TCP 179 to and from --peer (an nftables table of
// its own, as an admin's host firewall or a hardening script adds one), and the session between
// them reset on both nodes, as when the rule comes with a reboot: it cannot come up again. Heal
// deletes the table and waits until --node's agent has the session Established again.
import { run, sleep } from '../sh.ts';
import { nodeOf, type FaultKind } from './fault.ts';
import { bgpStatus } from '../testing/probes.ts';

export const bgpBlockTable = 'gingham-fault-bgp-block';

export const bgpBlock: FaultKind & { healTimeoutMs: number } = {
  kind: 'bgp-block',
  summary: 'drop TCP 179 between --node and --peer with an nftables rule on --node; heal removes it',
  needs: ['node', 'peer'],
  healTimeoutMs: 60_000,
  async inject(context, options) {
    const node = nodeOf(context, options.node, 'bgp-block');
    const peer = nodeOf(context, options.peer, 'bgp-block');
    const ruleset = [
      `table inet ${bgpBlockTable} {`,
      `  chain input { type filter hook input priority -10; ip saddr ${peer.address} tcp dport 179 drop; ip saddr ${peer.address} tcp sport 179 drop; }`,
      `  chain output { type filter hook output priority -10; ip daddr ${peer.address} tcp dport 179 drop; ip daddr ${peer.address} tcp sport 179 drop; }`,
      '}',
      '',
    ].join('\n');
    await run('ip', ['netns', 'exec', node.name, 'nft', '-f', '-'], { input: ruleset });
    // The established session would live on until its hold timer: abort it on both ends.
    for (const [here, there] of [[node, peer], [peer, node]] as const) {
      await run('ip', ['netns', 'exec', here.name, 'ss', '-K', '-Htn', 'state', 'established', `( dport = :179 or sport = :179 ) and dst ${there.address}`], { allowFail: true });
    }
    context.say(`${node.name} drops TCP 179 to and from ${peer.name} (nft table inet ${bgpBlockTable})`);
    return {
      what: `BGP ${node.name} <-> ${peer.name} blocked by an nftables rule on ${node.name}`,
      async heal() {
        await run('ip', ['netns', 'exec', node.name, 'nft', 'delete', 'table', 'inet', bgpBlockTable]);
        const deadline = Date.now() + bgpBlock.healTimeoutMs;
        for (;;) {
          const session = (await bgpStatus(context.stateDir, node.name).catch(() => undefined))?.peers.find((p) => p.address === peer.address);
          if (session?.state === 'up') break;
          if (Date.now() > deadline) throw new Error(`the BGP session ${node.name} <-> ${peer.name} is not up ${bgpBlock.healTimeoutMs / 1000} s after the rule went (${session?.state ?? 'no session'})`);
          await sleep(500);
        }
        context.say(`${node.name} <-> ${peer.name} BGP is up again`);
      },
      async leftBehind() {
        const tables = await run('ip', ['netns', 'exec', node.name, 'nft', 'list', 'tables'], { allowFail: true });
        return tables.includes(bgpBlockTable) ? [`nft table inet ${bgpBlockTable} on ${node.name}`] : [];
      },
    };
  },
};
