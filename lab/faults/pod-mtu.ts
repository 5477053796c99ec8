// pod-mtu: the pod on a node with an interface MTU larger than its tunnel leaves (the host's
// 1500, as a pod made before a switch to IP-in-IP or VXLAN keeps, calico#1709, #2831): its
// full-size packets with DF set are dropped once encapsulated. Heal sets the MTU the CNI plugin
// gave it back.
import { run } from '../sh.ts';
import { nodeOf, type FaultKind } from './fault.ts';

export const oversizedPodMtu = 1500;

export const podMtu: FaultKind = {
  kind: 'pod-mtu',
  summary: `set the MTU of the pod on --node to ${oversizedPodMtu} (more than the tunnel leaves); heal restores it`,
  needs: ['node'],
  async inject(context, options) {
    const node = nodeOf(context, options.node, 'pod-mtu');
    const pod = Object.values(context.state.pods).find((p) => p.node === node.name);
    if (!pod) throw new Error(`the pod-mtu fault needs a pod on ${node.name}, and the lab has none there`);
    const [link] = JSON.parse(await run('ip', ['-n', pod.netns, '-json', 'link', 'show', 'dev', 'eth0'])) as Array<{ mtu: number }>;
    const was = link!.mtu;
    await run('ip', ['-n', pod.netns, 'link', 'set', 'eth0', 'mtu', String(oversizedPodMtu)]);
    context.say(`${pod.name}'s eth0 has MTU ${oversizedPodMtu} (was ${was})`);
    return {
      what: `${pod.name}'s MTU ${oversizedPodMtu}`,
      async heal() {
        await run('ip', ['-n', pod.netns, 'link', 'set', 'eth0', 'mtu', String(was)]);
        context.say(`${pod.name}'s eth0 has MTU ${was} again`);
      },
    };
  },
};
