// mtu: a node's fabric link with a lowered MTU (its port on the subnet's bridge), as a switch port
// or a VPN hop with a smaller MTU: frames larger than it are dropped on the wire, without an ICMP
// error (the node's own interface still says 1500), so small packets pass and full-size ones with
// DF set vanish. The bridge's MTU is set back after the port's, so that the VPC router does not follow the port
// down and answer with "fragmentation needed" (which would leave PMTU entries behind on the nodes
// after the heal). Heal restores the port's MTU.
import { bridgeOf, fabricNetns, portOf } from '../fabric/fabric.ts';
import { run } from '../sh.ts';
import { nodeOf, type FaultKind } from './fault.ts';

export const loweredMtu = 1400;

async function mtuOf(device: string): Promise<number> {
  const [link] = JSON.parse(await run('ip', ['-n', fabricNetns, '-json', 'link', 'show', 'dev', device])) as Array<{ mtu: number }>;
  return link!.mtu;
}

export const fabricMtu: FaultKind = {
  kind: 'mtu',
  summary: `lower the MTU of a node's fabric link to ${loweredMtu} (full-size frames dropped silently); heal restores it`,
  needs: ['node'],
  async inject(context, options) {
    const node = nodeOf(context, options.node, 'mtu');
    const subnet = context.state.topology.nodes.find((n) => n.name === node.name)!.subnet;
    const port = portOf(node.name);
    const bridge = bridgeOf(subnet);
    const was = await mtuOf(port);
    const bridgeMtu = await mtuOf(bridge);
    await run('ip', ['-n', fabricNetns, 'link', 'set', port, 'mtu', String(loweredMtu)]);
    // The bridge follows its smallest port unless its MTU was set: set it back (which pins it).
    await run('ip', ['-n', fabricNetns, 'link', 'set', bridge, 'mtu', String(bridgeMtu)]);
    context.say(`${node.name}'s fabric link (${port}) has MTU ${loweredMtu} (was ${was})`);
    return {
      what: `${node.name}'s fabric link MTU ${loweredMtu}`,
      async heal() {
        await run('ip', ['-n', fabricNetns, 'link', 'set', port, 'mtu', String(was)]);
        context.say(`${node.name}'s fabric link (${port}) has MTU ${was} again`);
      },
    };
  },
};
