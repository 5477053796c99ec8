// node-cut: a node's fabric link down (its port on the subnet's bridge), as a pulled cable or a
// failed switch port: the node keeps running, nothing reaches it and nothing leaves, no FIN, no
// RST. Heal brings the link up; everything must converge without a manual step.
import { fabricNetns, portOf } from '../fabric/fabric.ts';
import { run } from '../sh.ts';
import { nodeOf, type FaultKind } from './fault.ts';

export const nodeCut: FaultKind = {
  kind: 'node-cut',
  summary: "take a node's fabric link down (nothing in or out); heal brings it up",
  needs: ['node'],
  async inject(context, options) {
    const node = nodeOf(context, options.node, 'node-cut');
    await run('ip', ['-n', fabricNetns, 'link', 'set', portOf(node.name), 'down']);
    context.say(`${node.name}'s fabric link is down`);
    return {
      what: `${node.name}'s fabric link down`,
      async heal() {
        await run('ip', ['-n', fabricNetns, 'link', 'set', portOf(node.name), 'up']);
        context.say(`${node.name}'s fabric link is up`);
      },
    };
  },
};
