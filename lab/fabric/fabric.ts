// The fabric: the VPC the lab's nodes live in, in a network namespace of its own. One bridge per
// subnet (br-<subnet>) and the VPC router (this namespace's own routing: the subnets' gateways on
// the bridges, a blackhole for the pod pool so that pod addresses are dropped silently as AWS does,
// and the admin's link to the machine's own namespace). Source/destination checks are nftables
// rules on the bridges (srcdst.ts).
import { adminLink, resolved, type Topology, type TopologyNode } from '../topology/topology.ts';
import { namespaces, removeNamespace, run } from '../sh.ts';

export const fabricNetns = 'fabric';
/** The machine's end of the admin's link; the router's end is `admin` in the fabric. */
export const adminInterface = 'lab-admin';

export const bridgeOf = (subnet: string) => `br-${subnet}`;
/** The fabric's end of a node's ens5. */
export const portOf = (node: TopologyNode | string) => `n-${typeof node === 'string' ? node : node.name}`;

const ipIn = (netns: string, batch: string[]) => run('ip', ['-n', netns, '-batch', '-'], { input: batch.join('\n') + '\n' });

/** Quiet namespaces: no IPv6 (no router solicitations or MLD on the captures), forwarding as a router or node needs. */
export async function sysctls(netns: string, forward: boolean): Promise<void> {
  const settings = [
    'net.ipv6.conf.all.disable_ipv6=1',
    'net.ipv6.conf.default.disable_ipv6=1',
    'net.ipv4.conf.all.rp_filter=0',
    'net.ipv4.conf.default.rp_filter=0',
    `net.ipv4.ip_forward=${forward ? 1 : 0}`,
  ];
  await run('ip', ['netns', 'exec', netns, 'sysctl', '-qw', ...settings]);
}

/**
 * Routes in the machine's own namespace that the admin link's would clash with (another lab, a VPN):
 * refused up front rather than half-built.
 */
async function clashingRoutes(topology: Topology): Promise<string[]> {
  const lines = (await run('ip', ['-4', 'route', 'show'])).split('\n').filter(Boolean);
  const wanted = new Set([...topology.subnets.map((s) => s.cidr), adminLink.cidr]);
  return lines.filter((line) => wanted.has(line.split(' ')[0]!) && !line.includes(`dev ${adminInterface}`));
}

export async function fabricUp(topology: Topology): Promise<void> {
  const existing = await namespaces();
  if (existing.has(fabricNetns)) return;
  const clashes = await clashingRoutes(topology);
  if (clashes.length > 0) {
    throw new Error(`the machine already routes the lab's subnets elsewhere:\n  ${clashes.join('\n  ')}\nIs another lab or a VPN up? Remove those routes first.`);
  }
  await run('ip', ['link', 'del', adminInterface], { allowFail: true }); // left by a lab whose fabric is gone
  await run('ip', ['netns', 'add', fabricNetns]);
  await sysctls(fabricNetns, true);
  const { subnets } = resolved(topology);
  const prefix = (cidr: string) => cidr.split('/')[1];
  await ipIn(fabricNetns, [
    'link set lo up',
    ...subnets.flatMap((s) => [
      // No STP and no forwarding delay: ports forward as soon as they are up, as a VPC's fabric does.
      `link add ${bridgeOf(s.name)} type bridge stp_state 0 forward_delay 0 mcast_snooping 0`,
      `addr add ${s.gateway}/${prefix(s.cidr)} dev ${bridgeOf(s.name)}`,
      `link set ${bridgeOf(s.name)} up`,
    ]),
    // Pod addresses go nowhere, without an ICMP error: the seed's curl times out.
    `route add blackhole ${topology.pool.cidr}`,
  ]);
  // The admin's link: one veth, routes to the host subnets only.
  await run('ip', ['link', 'add', adminInterface, 'type', 'veth', 'peer', 'name', 'admin', 'netns', fabricNetns]);
  await ipIn(fabricNetns, [`addr add ${adminLink.router}/30 dev admin`, 'link set admin up']);
  await run('ip', ['addr', 'add', `${adminLink.host}/30`, 'dev', adminInterface]);
  await run('ip', ['link', 'set', adminInterface, 'up']);
  for (const s of subnets) await run('ip', ['route', 'add', s.cidr, 'via', adminLink.router, 'dev', adminInterface]);
}

/** Wires a node's namespace to its subnet's bridge: `ens5` inside, `n-<node>` on the bridge. */
export async function plugNode(topology: Topology, node: TopologyNode, netns: string): Promise<void> {
  const subnet = resolved(topology).subnets.find((s) => s.name === node.subnet)!;
  await run('ip', ['link', 'del', portOf(node)], { allowFail: true });
  await run('ip', ['-n', fabricNetns, 'link', 'del', portOf(node)], { allowFail: true });
  await run('ip', ['-n', fabricNetns, 'link', 'add', portOf(node), 'type', 'veth', 'peer', 'name', 'ens5', 'netns', netns]);
  await ipIn(fabricNetns, [`link set ${portOf(node)} master ${bridgeOf(subnet.name)}`, `link set ${portOf(node)} up`]);
  await ipIn(netns, [
    'link set lo up',
    `addr add ${node.address}/${subnet.cidr.split('/')[1]} dev ens5`,
    'link set ens5 up',
    `route add default via ${subnet.gateway} dev ens5`,
  ]);
}

export async function fabricDown(): Promise<void> {
  await removeNamespace(fabricNetns);
  // Its veth peer went with the namespace, and the routes with it; this covers a fabric deleted by hand.
  await run('ip', ['link', 'del', adminInterface], { allowFail: true });
}
