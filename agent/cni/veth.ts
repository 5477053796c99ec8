// The pod's network as Calico's CNI plugin makes it: a veth pair, the host end named cali+11 hex
// with MAC ee:ee:ee:ee:ee:ee and proxy_arp (so the host answers the pod's ARP for 169.254.1.1),
// the pod's /32 routed to it; inside the pod, the /32 on eth0, 169.254.1.1 on-link and the
// default route via it. Everything through iproute2; the pod side through nsenter into its netns.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { ginghamRouteProtocol } from '../../shared/dataplane-plan/index.ts';
import { CniError, cniErrorCodes } from './request.ts';

export const hostSideMac = 'ee:ee:ee:ee:ee:ee';
export const podGateway = '169.254.1.1';

function run(command: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

const inNetns = (netns: string, command: string, args: readonly string[], input?: string) =>
  run('nsenter', [`--net=${netns}`, '--', command, ...args], input);

interface Link {
  ifname: string;
  address?: string;
  mtu?: number;
  operstate?: string;
}

async function hostLink(name: string): Promise<Link | undefined> {
  try {
    const [link] = JSON.parse(await run('ip', ['-json', 'link', 'show', 'dev', name])) as Link[];
    return link;
  } catch {
    return undefined;
  }
}

/** The MTU of `device`, or of the default route's device; 1500 when neither can be read. */
export async function hostMtu(device?: string): Promise<number> {
  try {
    let name = device;
    if (!name) {
      const [route] = JSON.parse(await run('ip', ['-json', 'route', 'show', 'default'])) as Array<{ dev?: string }>;
      name = route?.dev;
    }
    return (name && (await hostLink(name))?.mtu) || 1500;
  } catch {
    return 1500;
  }
}

export interface PodNetwork {
  hostInterface: string;
  netns: string;
  ifName: string;
  address: string;
  mtu: number;
}

export interface PlumbedPod {
  hostMac: string;
  podMac: string;
}

async function sysctl(path: string, value: string): Promise<void> {
  await writeFile(path, value);
}

/** Builds the pod's network from scratch (an earlier half-made one is removed first). */
export async function plumb(pod: PodNetwork): Promise<PlumbedPod> {
  if (!existsSync(pod.netns)) throw new CniError(cniErrorCodes.unknownContainer, `the network namespace ${pod.netns} does not exist`);
  await unplumb(pod.hostInterface);
  // The peer is created straight inside the pod's namespace under its final name. A name clash
  // there (an eth0 made by someone else) is the runtime's mistake, and the error says so.
  const peerTemp = `tmp${pod.hostInterface.slice(4, 15)}`;
  try {
    await run('ip', ['link', 'add', pod.hostInterface, 'mtu', String(pod.mtu), 'type', 'veth', 'peer', 'name', peerTemp, 'mtu', String(pod.mtu)]);
    await run('ip', ['link', 'set', peerTemp, 'netns', pod.netns]);
    const conf = `/proc/sys/net/ipv4/conf/${pod.hostInterface}`;
    await sysctl(`${conf}/proxy_arp`, '1');
    await sysctl(`${conf}/forwarding`, '1');
    await sysctl(`${conf}/route_localnet`, '1');
    await sysctl(`/proc/sys/net/ipv4/neigh/${pod.hostInterface}/proxy_delay`, '0');
    await run('ip', ['link', 'set', pod.hostInterface, 'address', hostSideMac, 'up']);
    await inNetns(pod.netns, 'ip', ['-batch', '-'], [
      `link set ${peerTemp} name ${pod.ifName}`,
      `link set lo up`,
      `link set ${pod.ifName} up`,
      `addr add ${pod.address}/32 dev ${pod.ifName}`,
      `route add ${podGateway} dev ${pod.ifName} scope link`,
      `route add default via ${podGateway} dev ${pod.ifName}`,
      '',
    ].join('\n'));
    // With Gingham's protocol: the agent, which plans this route from the pod's allocation, owns it
    // from here on (one owner, no "not made by Gingham" warning for a pod of our own).
    await run('ip', ['route', 'replace', `${pod.address}/32`, 'dev', pod.hostInterface, 'scope', 'link', 'proto', String(ginghamRouteProtocol)]);
  } catch (error) {
    await unplumb(pod.hostInterface);
    if (error instanceof CniError) throw error;
    throw new CniError(cniErrorCodes.ioFailure, `could not set up the pod's network: ${(error as Error).message}`);
  }
  const [podLink] = JSON.parse(await inNetns(pod.netns, 'ip', ['-json', 'link', 'show', 'dev', pod.ifName])) as Link[];
  return { hostMac: hostSideMac, podMac: podLink?.address ?? '' };
}

/** The pod's network when it is already exactly as `plumb` makes it (a repeated ADD), else undefined. */
export async function alreadyPlumbed(pod: PodNetwork): Promise<PlumbedPod | undefined> {
  if (!existsSync(pod.netns) || (await verify(pod)).length > 0) return undefined;
  try {
    const [podLink] = JSON.parse(await inNetns(pod.netns, 'ip', ['-json', 'link', 'show', 'dev', pod.ifName])) as Link[];
    if (podLink?.mtu !== pod.mtu) return undefined;
    return { hostMac: hostSideMac, podMac: podLink.address ?? '' };
  } catch {
    return undefined;
  }
}

/** Removes the host end (the kernel removes the pod end and the /32 route with it). Idempotent. */
export async function unplumb(hostInterface: string): Promise<void> {
  if (await hostLink(hostInterface)) {
    await run('ip', ['link', 'del', hostInterface]).catch(() => {});
  }
}

/** What CHECK verifies: the host end, its route and MAC, and the address inside the pod. */
export async function verify(pod: PodNetwork): Promise<string[]> {
  const problems: string[] = [];
  const link = await hostLink(pod.hostInterface);
  if (!link) return [`the host interface ${pod.hostInterface} is missing`];
  if (link.address !== hostSideMac) problems.push(`${pod.hostInterface} has MAC ${link.address}, not ${hostSideMac}`);
  const routes = JSON.parse(await run('ip', ['-json', 'route', 'show', `${pod.address}/32`])) as Array<{ dev?: string }>;
  if (!routes.some((r) => r.dev === pod.hostInterface)) problems.push(`no route to ${pod.address} via ${pod.hostInterface}`);
  try {
    const addrs = JSON.parse(await inNetns(pod.netns, 'ip', ['-json', 'addr', 'show', 'dev', pod.ifName])) as Array<{ addr_info?: Array<{ local?: string }> }>;
    if (!addrs[0]?.addr_info?.some((a) => a.local === pod.address)) problems.push(`${pod.ifName} in the pod does not hold ${pod.address}`);
    const defaults = JSON.parse(await inNetns(pod.netns, 'ip', ['-json', 'route', 'show', 'default'])) as Array<{ gateway?: string }>;
    if (!defaults.some((r) => r.gateway === podGateway)) problems.push(`the pod's default route is not via ${podGateway}`);
  } catch (error) {
    problems.push(`cannot read the pod's namespace: ${(error as Error).message}`);
  }
  return problems;
}
