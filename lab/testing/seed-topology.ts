// The seed's cluster in network namespaces, for the dataplane's integration tests (docs/lab.md's shape,
// built small): worker-1 and worker-2 in subnet 10.240.1.0/24, worker-3 in 10.240.2.0/24, a
// router in a fabric namespace that carries host addresses only and drops pod addresses, AWS-style
// source/destination checks on the bridge ports, and one pod per worker behind its cali veth.
// Each worker runs the real `gingham-agent dataplane apply --watch` in its namespace.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSync } from '../sh.ts';
import { caliInterfaceName } from '../../shared/net/index.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export type PoolMode = 'IPIP Always' | 'IPIP CrossSubnet' | 'Never' | 'VXLAN Always' | 'VXLAN CrossSubnet';
export const poolModes: PoolMode[] = ['IPIP Always', 'IPIP CrossSubnet', 'Never', 'VXLAN Always', 'VXLAN CrossSubnet'];

export interface SeedNode {
  name: string;
  netns: string;
  /** The fabric side of the node's ens5 veth (its bridge port). */
  port: string;
  address: string;
  gateway: string;
  bridge: string;
  block: string;
  pod: { name: string; netns: string; ip: string; cali: string };
}

/** Runs `args` inside network namespace `netns`. */
export function inNs(netns: string, args: string[], options: { input?: string; allowFail?: boolean } = {}): string {
  return runSync('ip', ['netns', 'exec', netns, ...args], options);
}

export class SeedTopology {
  readonly prefix: string;
  readonly fabric: string;
  readonly nodes: SeedNode[];
  readonly dir: string;
  private agents = new Map<string, ChildProcess>();
  private agentLogs = new Map<string, string>();

  /**
   * `kind` is one letter per test file; the process id makes the prefix unique per run, so that
   * two runs of the suite on one machine (two engineers, CI) never share a namespace.
   */
  constructor(kind: string, readonly options: { /** The underlay's MTU (9001: AWS's jumbo frames); pods get it less IP-in-IP's 20. */ mtu?: number } = {}) {
    const prefix = `gdp${kind}${(process.pid % 1296).toString(36)}`;
    this.prefix = prefix;
    this.fabric = `${prefix}-fab`;
    const node = (index: number, name: string, address: string, subnet: 1 | 2, block: string, podIp: string): SeedNode => ({
      name,
      netns: `${prefix}-${name}`,
      port: `${prefix.slice(0, 6)}n${index}`,
      address,
      gateway: `10.240.${subnet}.1`,
      bridge: `br${subnet}`,
      block,
      pod: { name: `pod-${index}`, netns: `${prefix}-pod-${index}`, ip: podIp, cali: caliInterfaceName('default', `pod-${index}`) },
    });
    this.nodes = [
      node(1, 'worker-1', '10.240.1.11/24', 1, '192.168.1.64/26', '192.168.1.65'),
      node(2, 'worker-2', '10.240.1.12/24', 1, '192.168.2.0/26', '192.168.2.1'),
      node(3, 'worker-3', '10.240.2.13/24', 2, '192.168.3.128/26', '192.168.3.129'),
    ];
    this.dir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
  }

  node(name: string): SeedNode {
    const found = this.nodes.find((n) => n.name === name);
    if (!found) throw new Error(`no node ${name}`);
    return found;
  }

  up(): void {
    this.down();
    runSync('ip', ['netns', 'add', this.fabric]);
    const f = (...args: string[]) => inNs(this.fabric, args);
    f('sysctl', '-qw', 'net.ipv4.ip_forward=1');
    f('ip', 'link', 'set', 'lo', 'up');
    for (const [bridge, gateway] of [['br1', '10.240.1.1/24'], ['br2', '10.240.2.1/24']] as const) {
      f('ip', 'link', 'add', bridge, 'type', 'bridge');
      f('ip', 'addr', 'add', gateway, 'dev', bridge);
      f('ip', 'link', 'set', bridge, 'up');
    }
    // The VPC router knows the host subnets only; pod addresses go nowhere, silently.
    f('ip', 'route', 'add', 'blackhole', '192.168.0.0/16');
    for (const node of this.nodes) {
      runSync('ip', ['netns', 'add', node.netns]);
      runSync('ip', ['link', 'add', node.port, 'netns', this.fabric, 'type', 'veth', 'peer', 'name', 'ens5', 'netns', node.netns]);
      f('ip', 'link', 'set', node.port, 'master', node.bridge, 'up');
      const n = (...args: string[]) => inNs(node.netns, args);
      if (this.options.mtu) {
        f('ip', 'link', 'set', node.port, 'mtu', String(this.options.mtu));
        f('ip', 'link', 'set', node.bridge, 'mtu', String(this.options.mtu));
        n('ip', 'link', 'set', 'ens5', 'mtu', String(this.options.mtu));
      }
      n('sysctl', '-qw', 'net.ipv4.ip_forward=1');
      n('ip', 'link', 'set', 'lo', 'up');
      n('ip', 'addr', 'add', node.address, 'dev', 'ens5');
      n('ip', 'link', 'set', 'ens5', 'up');
      n('ip', 'route', 'add', 'default', 'via', node.gateway);
      // The pod, plumbed as Calico's CNI plugin does: a /32, a link-local gateway answered by proxy ARP.
      const pod = node.pod;
      runSync('ip', ['netns', 'add', pod.netns]);
      runSync('ip', ['link', 'add', pod.cali, 'netns', node.netns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.netns]);
      n('sysctl', '-qw', `net.ipv4.conf.${pod.cali}.proxy_arp=1`);
      n('ip', 'link', 'set', pod.cali, 'address', 'ee:ee:ee:ee:ee:ee', 'up');
      if (this.options.mtu) {
        n('ip', 'link', 'set', pod.cali, 'mtu', String(this.options.mtu - 20));
        inNs(pod.netns, ['ip', 'link', 'set', 'eth0', 'mtu', String(this.options.mtu - 20)]);
      }
      const p = (...args: string[]) => inNs(pod.netns, args);
      p('ip', 'link', 'set', 'lo', 'up');
      p('ip', 'addr', 'add', `${pod.ip}/32`, 'dev', 'eth0');
      p('ip', 'link', 'set', 'eth0', 'up');
      p('ip', 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link');
      p('ip', 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0');
    }
    this.setSrcDstChecks(new Set(this.nodes.map((n) => n.name)));
  }

  /**
   * AWS's source/destination checks on the nodes named: a frame from a node whose IPv4 source is
   * not the node's address, or to it whose destination is not, is dropped at the bridge.
   */
  setSrcDstChecks(on: ReadonlySet<string>): void {
    const rules = this.nodes
      .filter((n) => on.has(n.name))
      .flatMap((n) => {
        const ip = n.address.split('/')[0]!;
        return [`iifname "${n.port}" ip saddr != ${ip} drop`, `oifname "${n.port}" ip daddr != ${ip} drop`];
      });
    const input = this.nodes.filter((n) => on.has(n.name)).map((n) => `iifname "${n.port}" ip saddr != ${n.address.split('/')[0]} drop`);
    const script =
      `table bridge srcdst\ndelete table bridge srcdst\ntable bridge srcdst {\n` +
      `  chain forward { type filter hook forward priority 0; policy accept;\n${rules.map((r) => `    ${r}\n`).join('')}  }\n` +
      `  chain input { type filter hook input priority 0; policy accept;\n${input.map((r) => `    ${r}\n`).join('')}  }\n}\n`;
    inNs(this.fabric, ['nft', '-f', '-'], { input: script });
  }

  /** The desired-state document of `node` with the one pool in `mode`. */
  stateFor(node: SeedNode, mode: PoolMode, extra: { natOutgoing?: boolean } = {}): object {
    const [encap, how] = mode === 'Never' ? ['none', 'Never'] : mode.split(' ');
    return {
      node: { name: node.name, interface: 'ens5', address: node.address },
      pools: [{
        name: 'default-ipv4-ippool',
        cidr: '192.168.0.0/16',
        blockSize: 26,
        ipipMode: encap === 'IPIP' ? how : 'Never',
        vxlanMode: encap === 'VXLAN' ? how : 'Never',
        natOutgoing: extra.natOutgoing ?? true,
      }],
      blocks: [node.block],
      endpoints: [{ name: `default/${node.pod.name}`, ip: node.pod.ip, interface: node.pod.cali }],
      peers: this.nodes.filter((p) => p !== node).map((p) => ({ name: p.name, address: p.address, blocks: [p.block] })),
    };
  }

  stateFile(node: SeedNode): string {
    return path.join(this.dir, `${node.name}.json`);
  }

  writeState(node: SeedNode, state: object): void {
    // Write-then-rename, as an editor or a controller would: the agent never reads half a file.
    const file = this.stateFile(node);
    writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2));
    execFileSync('mv', [`${file}.tmp`, file]);
  }

  setMode(mode: PoolMode, nodes: readonly SeedNode[] = this.nodes): void {
    for (const node of nodes) this.writeState(node, this.stateFor(node, mode));
  }

  /** Starts `gingham-agent dataplane apply --watch` in the node's namespace (node + tsx, no npx, so signals reach it). */
  startAgent(node: SeedNode, extraArgs: string[] = []): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', node.netns, process.execPath, '--import', 'tsx', path.join(repo, 'agent/cli/bin.ts'),
      'dataplane', 'apply', '--state', this.stateFile(node), '--watch', ...extraArgs], {
      cwd: repo,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, GINGHAM_RUN_DIR: path.join(this.dir, 'run') },
    });
    this.agentLogs.set(node.name, '');
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => this.agentLogs.set(node.name, (this.agentLogs.get(node.name) ?? '') + chunk));
    this.agents.set(node.name, child);
    return child;
  }

  agentLog(node: SeedNode): string {
    return this.agentLogs.get(node.name) ?? '';
  }

  /** SIGTERM, then waits for the agent's exit (it removes what it made first). */
  async stopAgent(node: SeedNode): Promise<number | null> {
    const child = this.agents.get(node.name);
    if (!child) return null;
    this.agents.delete(node.name);
    if (child.exitCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  async stopAgents(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stopAgent(n)));
  }

  /** Removes every namespace of this topology (also after a failed run). */
  down(): void {
    for (const child of this.agents.values()) child.kill('SIGKILL');
    this.agents.clear();
    const names = [this.fabric, ...this.nodes.flatMap((n) => [n.netns, n.pod.netns])];
    // Whatever still runs in them (a user-space tunl0 helper outlives its agent by design).
    for (const name of names) {
      for (const pid of runSync('ip', ['netns', 'pids', name], { allowFail: true }).split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
    for (const name of names) runSync('ip', ['netns', 'del', name], { allowFail: true });
  }

  cleanup(): void {
    this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns the time it took. */
export async function waitFor(what: string | (() => string), check: () => boolean | Promise<boolean>, timeoutMs = 10_000, intervalMs = 50): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
