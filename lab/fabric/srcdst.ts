// Source/destination checks as AWS does them per instance, as nftables rules on the fabric's
// bridges: a frame from a node's port whose IPv4 source is not the node's address, or to a node's
// port whose IPv4 destination is not its address, is dropped. ARP and the rest pass. The table is
// replaced as a whole in one `nft -f` run, so a switch is atomic.
import { fabricNetns, portOf } from './fabric.ts';
import { run } from '../sh.ts';

export const srcdstTable = 'lab-srcdst';

export interface CheckedNode {
  name: string;
  address: string;
  checks: boolean;
}

export function srcdstRuleset(nodes: CheckedNode[]): string {
  const on = nodes.filter((n) => n.checks);
  return [
    `table bridge ${srcdstTable}`,
    `delete table bridge ${srcdstTable}`,
    `table bridge ${srcdstTable} {`,
    '  chain source {',
    '    type filter hook prerouting priority 0; policy accept;',
    ...on.map((n) => `    iifname "${portOf(n.name)}" ether type ip ip saddr != ${n.address} counter drop comment "${n.name}: source check"`),
    '  }',
    '  chain destination {',
    '    type filter hook postrouting priority 0; policy accept;',
    ...on.map((n) => `    oifname "${portOf(n.name)}" ether type ip ip daddr != ${n.address} counter drop comment "${n.name}: destination check"`),
    '  }',
    '}',
    '',
  ].join('\n');
}

export async function applySrcdst(nodes: CheckedNode[]): Promise<void> {
  await run('ip', ['netns', 'exec', fabricNetns, 'nft', '-f', '-'], { input: srcdstRuleset(nodes) });
}
