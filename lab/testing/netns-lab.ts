// A throwaway network for BGP tests and benchmarks: one bridge in the root namespace
// (gbgp<id>br, 10.177.<id>.254/24, so the test process itself can act as a raw BGP peer) and one
// network namespace per daemon (gbgp<id>-<name>, eth0 = 10.177.<id>.<host>). destroy() removes
// everything, processes included. create() claims the bed's number (network-claim.ts): the one asked
// for unless another running test holds it, clearing what an aborted run left behind.
// GINGHAM_NETNS_PREFIX (default gbgp) and GINGHAM_NETNS_NET (the second octet, default 177) let two
// runs of the same test file share a machine (one engineer's CI beside another's benchmark).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from '../sh.ts';
import { claimBed, releaseBed } from './network-claim.ts';

const PREFIX = process.env.GINGHAM_NETNS_PREFIX || 'gbgp';
const NET = Number(process.env.GINGHAM_NETNS_NET || 177);

export class LabNode {
  constructor(readonly lab: NetnsLab, readonly name: string, readonly ns: string, readonly address: string) {}

  exec(cmd: string, args: string[], options: { allowFail?: boolean; timeoutMs?: number; input?: string } = {}): Promise<string> {
    return run('ip', ['netns', 'exec', this.ns, cmd, ...args], options);
  }

  /** Starts a long-running process in this namespace; the lab stops it on destroy(). */
  spawn(cmd: string, args: string[], options: { cwd?: string; logFile?: string } = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns, cmd, ...args], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: false });
    let log = '';
    const keep = (chunk: Buffer) => {
      log += chunk.toString();
      if (log.length > 200_000) log = log.slice(-100_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.lab.processes.add(child);
    child.on('exit', () => this.lab.processes.delete(child));
    (child as ChildProcess & { logText: () => string }).logText = () => log;
    return child;
  }
}

export class NetnsLab {
  readonly processes = new Set<ChildProcess>();
  readonly nodes: LabNode[] = [];
  readonly bridge: string;
  readonly hostAddress: string;

  private constructor(readonly id: number, readonly dir: string) {
    this.bridge = `${PREFIX}${id}br`;
    this.hostAddress = `10.${NET}.${id}.254`;
  }

  address(host: number): string {
    return `10.${NET}.${this.id}.${host}`;
  }

  /** `preferred` (1..250) is the test file's own number; another is taken if a running test holds it. */
  static async create(preferred: number): Promise<NetnsLab> {
    const id = await claimBed({
      bridge: (n) => `${PREFIX}${n}br`,
      preferred,
      range: [1, 250],
      clear: (n) => new NetnsLab(n, '').clearLeftovers(),
    });
    const dir = await mkdtemp(path.join(tmpdir(), `${PREFIX}${id}-`));
    const lab = new NetnsLab(id, dir);
    await lab.clearNamespaces();
    await run('ip', ['addr', 'add', `${lab.hostAddress}/24`, 'dev', lab.bridge]);
    await run('ip', ['link', 'set', lab.bridge, 'up']);
    return lab;
  }

  async node(name: string, host: number): Promise<LabNode> {
    const ns = `${PREFIX}${this.id}-${name}`;
    const veth = `${PREFIX}${this.id}n${host}`;
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await run('ip', ['link', 'set', veth, 'master', this.bridge, 'up']);
    await run('ip', ['-n', ns, 'addr', 'add', `${this.address(host)}/24`, 'dev', 'eth0']);
    await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    const node = new LabNode(this, name, ns, this.address(host));
    this.nodes.push(node);
    return node;
  }

  async destroy(): Promise<void> {
    for (const p of this.processes) p.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    await this.clearLeftovers();
    releaseBed(this.bridge);
    await rm(this.dir, { recursive: true, force: true });
  }

  private async clearLeftovers(): Promise<void> {
    await this.clearNamespaces();
    await run('ip', ['link', 'del', this.bridge], { allowFail: true });
  }

  private async clearNamespaces(): Promise<void> {
    const list = await run('ip', ['netns', 'list'], { allowFail: true });
    for (const line of list.split('\n')) {
      const ns = line.split(' ')[0];
      if (ns && ns.startsWith(`${PREFIX}${this.id}-`)) {
        // Kill what still runs in it (a crashed test's daemons), then remove it.
        const pids = await run('ip', ['netns', 'pids', ns], { allowFail: true });
        for (const pid of pids.split('\n').filter(Boolean)) await run('kill', ['-9', pid], { allowFail: true });
        await run('ip', ['netns', 'del', ns], { allowFail: true });
      }
    }
    // A veth whose namespace went while a process still held it can outlive it in the root namespace.
    const links = await run('ip', ['-o', 'link', 'show'], { allowFail: true });
    for (const [, veth] of links.matchAll(new RegExp(`^\\d+: (${PREFIX}${this.id}n\\d+)[@:]`, 'gm'))) await run('ip', ['link', 'del', veth!], { allowFail: true });
  }
}

/** Polls until `probe` returns a truthy value, or fails naming what was awaited. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false | null> | T | undefined | false | null, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
