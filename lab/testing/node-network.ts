// Nodes in network namespaces for the CNI and `run` tests: one bridge in the root namespace
// (gk8s<id>br, 10.178.<id>.254/24: the API server listens there, so every node reaches it) and one
// namespace per node (gk8s<id>-<node>, eth0 = 10.178.<id>.<n>/24), plus pod namespaces. destroy()
// removes all of it. create() claims the bed's number (network-claim.ts): the one asked for unless
// another running test holds it, clearing what an aborted run left behind.
//
// With `subnetB`, those nodes sit in a second subnet instead (bridge gk8s<id>bb, 10.179.<id>.0/24)
// and a router namespace (gk8s<id>-router: 10.178.<id>.1 and 10.179.<id>.1) joins the two: every
// node's default route goes through it, as on a routed network where CrossSubnet matters. The
// router also stands for "the outside" (198.51.100.1 on its loopback, where natOutgoing shows),
// and masquerades subnet B's traffic to the API server, so the root namespace needs no route.
import { execFile } from 'node:child_process';
import { removeNamespace, run } from '../sh.ts';
import { claimBed, releaseBed } from './network-claim.ts';

export interface TestNode {
  name: string;
  netns: string;
  /** eth0's address with its prefix length. */
  address: string;
  ip: string;
}

export class NodeNetwork {
  readonly nodes: TestNode[] = [];
  private readonly namespaces: string[] = [];

  private constructor(readonly id: number) {}

  get bridge(): string {
    return `gk8s${this.id}br`;
  }

  /** The root namespace's address on the bridge: where the test's API server listens. */
  get hostIp(): string {
    return `10.178.${this.id}.254`;
  }

  /** The second subnet's bridge (with `subnetB`). */
  get bridgeB(): string {
    return `gk8s${this.id}bb`;
  }

  /** The router's namespace (with `subnetB`). */
  get router(): string {
    return `gk8s${this.id}-router`;
  }

  /** An address outside the cluster (on the router's loopback, with `subnetB`). */
  readonly outsideIp = '198.51.100.1';

  /** `preferred` (1..250) is the test file's own number; another is taken if a running test holds it. */
  static async create(preferred: number, nodeNames: string[], options: { subnetB?: string[] } = {}): Promise<NodeNetwork> {
    const id = await claimBed({
      bridge: (n) => new NodeNetwork(n).bridge,
      preferred,
      range: [1, 250],
      clear: (n) => new NodeNetwork(n).removeAll(),
    });
    const network = new NodeNetwork(id);
    await network.removeNamespaces();
    await run('ip', ['link', 'del', network.bridgeB], { allowFail: true });
    const subnetB = options.subnetB ?? [];
    const routed = subnetB.length > 0;
    await run('ip', ['addr', 'add', `${network.hostIp}/24`, 'dev', network.bridge]);
    await run('ip', ['link', 'set', network.bridge, 'up']);
    if (routed) await network.addRouter();
    for (const [index, name] of nodeNames.entries()) {
      const netns = `gk8s${id}-${name}`;
      const inB = subnetB.includes(name);
      const ip = `10.${inB ? 179 : 178}.${id}.${11 + index}`;
      const gateway = routed ? `10.${inB ? 179 : 178}.${id}.1` : network.hostIp;
      const hostEnd = `gk8s${id}n${index}`;
      await network.addNamespace(netns);
      await run('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
      await run('ip', ['link', 'set', hostEnd, 'master', inB ? network.bridgeB : network.bridge, 'up']);
      // A default route, as every real node has: proxy ARP on the cali interfaces answers only
      // for addresses the node can route (the pods' 169.254.1.1 gateway among them).
      const batch = ['link set lo up', 'link set eth0 up', `addr add ${ip}/24 dev eth0`, `route add default via ${gateway}`];
      for (const line of batch) await run('ip', ['-n', netns, ...line.split(' ')]);
      for (const [key, value] of [
        ['net.ipv4.ip_forward', '1'],
        ['net.ipv4.conf.all.rp_filter', '0'],
        ['net.ipv4.conf.default.rp_filter', '0'],
      ]) {
        await run('ip', ['netns', 'exec', netns, 'sysctl', '-qw', `${key}=${value}`]);
      }
      network.nodes.push({ name, netns, address: `${ip}/24`, ip });
    }
    return network;
  }

  private async addRouter(): Promise<void> {
    const id = this.id;
    await run('ip', ['link', 'add', this.bridgeB, 'type', 'bridge']);
    await run('ip', ['link', 'set', this.bridgeB, 'up']);
    await this.addNamespace(this.router);
    for (const [side, bridge, subnet] of [['a', this.bridge, 178], ['b', this.bridgeB, 179]] as const) {
      const hostEnd = `gk8s${id}r${side}`;
      await run('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', `eth-${side}`, 'netns', this.router]);
      await run('ip', ['link', 'set', hostEnd, 'master', bridge, 'up']);
      for (const line of [`link set eth-${side} up`, `addr add 10.${subnet}.${id}.1/24 dev eth-${side}`]) await run('ip', ['-n', this.router, ...line.split(' ')]);
    }
    for (const line of ['link set lo up', `addr add ${this.outsideIp}/32 dev lo`]) await run('ip', ['-n', this.router, ...line.split(' ')]);
    await run('ip', ['netns', 'exec', this.router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    const nat = `table ip gk8s-router {
  chain post {
    type nat hook postrouting priority srcnat;
    ip saddr 10.179.${id}.0/24 ip daddr ${this.hostIp} masquerade
  }
}
`;
    await new Promise<void>((resolve, reject) => {
      const child = execFile('ip', ['netns', 'exec', this.router, 'nft', '-f', '-'], (error, _out, stderr) => (error ? reject(new Error(`router nft: ${stderr}`)) : resolve()));
      child.stdin?.end(nat);
    });
  }

  async addNamespace(netns: string): Promise<string> {
    await run('ip', ['netns', 'del', netns], { allowFail: true });
    await run('ip', ['netns', 'add', netns]);
    this.namespaces.push(netns);
    return netns;
  }

  /** A pod namespace (empty, as a runtime creates it before calling CNI). */
  async addPod(name: string): Promise<string> {
    return this.addNamespace(`gk8s${this.id}-pod-${name}`);
  }

  exec(netns: string, cmd: string, args: string[], allowFail = false): Promise<string> {
    return run('ip', ['netns', 'exec', netns, cmd, ...args], { allowFail });
  }

  async destroy(): Promise<void> {
    await this.removeAll();
    releaseBed(this.bridge);
  }

  private async removeAll(): Promise<void> {
    await this.removeNamespaces();
    await run('ip', ['link', 'del', this.bridge], { allowFail: true });
    await run('ip', ['link', 'del', this.bridgeB], { allowFail: true });
  }

  private async removeNamespaces(): Promise<void> {
    const listed = (await run('ip', ['netns', 'list'], { allowFail: true }))
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((ns) => ns.startsWith(`gk8s${this.id}-`));
    // Processes left in a namespace would keep its interfaces alive: removeNamespace ends them first.
    for (const ns of new Set([...this.namespaces, ...listed])) await removeNamespace(ns, 0);
    this.namespaces.length = 0;
  }
}
