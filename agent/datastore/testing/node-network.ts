// Nodes in network namespaces for the CNI and `run` tests: one bridge in the root namespace
// (gk8s<id>br, 10.178.<id>.254/24: the API server listens there, so every node reaches it) and one
// namespace per node (gk8s<id>-<node>, eth0 = 10.178.<id>.<n>/24), plus pod namespaces. destroy()
// removes all of it; create() first clears what an aborted run with the same id left behind.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export async function sh(cmd: string, args: string[], allowFail = false): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { maxBuffer: 1 << 26, timeout: 60_000 });
    return stdout;
  } catch (error) {
    if (allowFail) return '';
    const e = error as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

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

  static async create(id: number, nodeNames: string[]): Promise<NodeNetwork> {
    const network = new NodeNetwork(id);
    await network.destroy();
    await sh('ip', ['link', 'add', network.bridge, 'type', 'bridge']);
    await sh('ip', ['addr', 'add', `${network.hostIp}/24`, 'dev', network.bridge]);
    await sh('ip', ['link', 'set', network.bridge, 'up']);
    for (const [index, name] of nodeNames.entries()) {
      const netns = `gk8s${id}-${name}`;
      const ip = `10.178.${id}.${11 + index}`;
      const hostEnd = `gk8s${id}n${index}`;
      await network.addNamespace(netns);
      await sh('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
      await sh('ip', ['link', 'set', hostEnd, 'master', network.bridge, 'up']);
      // A default route, as every real node has: proxy ARP on the cali interfaces answers only
      // for addresses the node can route (the pods' 169.254.1.1 gateway among them).
      const batch = ['link set lo up', 'link set eth0 up', `addr add ${ip}/24 dev eth0`, `route add default via ${network.hostIp}`];
      for (const line of batch) await sh('ip', ['-n', netns, ...line.split(' ')]);
      for (const [key, value] of [
        ['net.ipv4.ip_forward', '1'],
        ['net.ipv4.conf.all.rp_filter', '0'],
        ['net.ipv4.conf.default.rp_filter', '0'],
      ]) {
        await sh('ip', ['netns', 'exec', netns, 'sysctl', '-qw', `${key}=${value}`]);
      }
      network.nodes.push({ name, netns, address: `${ip}/24`, ip });
    }
    return network;
  }

  async addNamespace(netns: string): Promise<string> {
    await sh('ip', ['netns', 'del', netns], true);
    await sh('ip', ['netns', 'add', netns]);
    this.namespaces.push(netns);
    return netns;
  }

  /** A pod namespace (empty, as a runtime creates it before calling CNI). */
  async addPod(name: string): Promise<string> {
    return this.addNamespace(`gk8s${this.id}-pod-${name}`);
  }

  exec(netns: string, cmd: string, args: string[], allowFail = false): Promise<string> {
    return sh('ip', ['netns', 'exec', netns, cmd, ...args], allowFail);
  }

  async destroy(): Promise<void> {
    const listed = (await sh('ip', ['netns', 'list'], true))
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((ns) => ns.startsWith(`gk8s${this.id}-`));
    for (const ns of new Set([...this.namespaces, ...listed])) {
      // Processes left in a namespace would keep its interfaces alive: end them first.
      const pids = (await sh('ip', ['netns', 'pids', ns], true)).split('\n').filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await sh('ip', ['netns', 'del', ns], true);
    }
    this.namespaces.length = 0;
    await sh('ip', ['link', 'del', this.bridge], true);
  }
}
