// Drivers for the daemons the integration tests and benchmarks run: Gingham's own speaker (as a
// child process, like the real agent), BIRD 2, GoBGP and FRR's bgpd, each in its namespace.
import type { ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { callRpc } from '../../rpc/client.ts';
import type { RibRoute, SpeakerStatus } from '../speaker.ts';
import { run } from '../../../lab/sh.ts';
import { type LabNode, waitFor } from '../../../lab/testing/netns-lab.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

type Logged = ChildProcess & { logText?: () => string };

/** Signals a daemon and waits for it to exit; one that ignores the signal is killed after 10 s. */
async function stopProcess(p: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    p.once('exit', () => resolve());
    p.kill(signal);
    setTimeout(() => p.kill('SIGKILL'), 10_000).unref();
  });
}

export class GinghamDaemon {
  process: Logged | undefined;
  readonly configFile: string;
  readonly control: string;

  /** `bundle`: a prebuilt single-file agent run with plain node instead of tsx, or the built executable itself. */
  constructor(readonly node: LabNode, readonly name = 'gingham', readonly bundle?: string) {
    this.configFile = path.join(node.lab.dir, `${node.name}-${name}.yaml`);
    this.control = path.join(node.lab.dir, `${node.name}-${name}.sock`);
  }

  async start(config: Record<string, unknown>): Promise<void> {
    await writeFile(this.configFile, stringify(config));
    const args = ['bgp', '--config', this.configFile, '--control', this.control, '--log-level', 'info'];
    // A bundle (.mjs/.cjs) runs on this node; anything else is a built executable (npm run build:agent).
    this.process = this.bundle && !/\.[cm]?js$/.test(this.bundle)
      ? this.node.spawn(this.bundle, args, { cwd: repoRoot })
      : this.node.spawn(process.execPath, [...(this.bundle ? [this.bundle] : ['--import', 'tsx', path.join(repoRoot, 'agent/cli/bin.ts')]), ...args], { cwd: repoRoot });
    await waitFor(`gingham on ${this.node.name} to answer on its control socket`, () => this.status().then(() => true), 30_000, 100);
  }

  status(): Promise<SpeakerStatus> {
    return callRpc<SpeakerStatus>(this.control, 'bgp.status', undefined, 5000);
  }

  async routes(): Promise<RibRoute[]> {
    return (await callRpc<{ routes: RibRoute[] }>(this.control, 'bgp.routes', { limit: 100000 }, 30_000)).routes;
  }

  async prefixes(): Promise<string[]> {
    return (await this.routes()).map((r) => r.prefix);
  }

  async peerState(address: string): Promise<string | undefined> {
    return (await this.status()).peers.find((p) => p.address === address)?.info;
  }

  /** Stops with a signal and waits for the exit: SIGTERM is a graceful restart, SIGUSR2 withdraws. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await stopProcess(this.process, signal);
  }

  log(): string {
    return this.process?.logText?.() ?? '';
  }
}

export class BirdDaemon {
  process: Logged | undefined;
  readonly socket: string;
  readonly configFile: string;

  constructor(readonly node: LabNode) {
    this.socket = path.join(node.lab.dir, `${node.name}-bird.ctl`);
    this.configFile = path.join(node.lab.dir, `${node.name}-bird.conf`);
  }

  /** `timeoutMs`: how long BIRD may take to come up (a million static routes take a while to parse on a loaded machine). */
  async start(config: string, options: { recovery?: boolean; timeoutMs?: number } = {}): Promise<void> {
    await writeFile(this.configFile, config);
    this.process = this.node.spawn('bird', ['-f', '-c', this.configFile, '-s', this.socket, ...(options.recovery ? ['-R'] : [])]);
    await waitFor(`BIRD on ${this.node.name}`, () => {
      if (this.process?.exitCode !== null) throw new Error(`BIRD exited: ${this.process?.logText?.() ?? ''}`);
      return this.birdc('show status').then((s) => s.includes('Daemon is up'));
    }, options.timeoutMs ?? 15_000, 100);
  }

  birdc(command: string): Promise<string> {
    return run('birdc', ['-s', this.socket, command], { timeoutMs: 30_000 });
  }

  async reconfigure(config: string): Promise<void> {
    await writeFile(this.configFile, config);
    const out = await this.birdc('configure');
    if (!/Reconfigured|Reconfiguration in progress/.test(out)) throw new Error(`BIRD did not reconfigure: ${out}`);
  }

  /** Prefixes in BIRD's master table (optionally only those from one protocol). */
  async prefixes(protocol?: string): Promise<string[]> {
    const out = await this.birdc(protocol ? `show route protocol ${protocol}` : 'show route');
    return [...out.matchAll(/^(\d+\.\d+\.\d+\.\d+\/\d+)\s/gm)].map((m) => m[1]!);
  }

  async protocolState(name: string): Promise<string> {
    const out = await this.birdc(`show protocols ${name}`);
    return out.split('\n').find((l) => l.startsWith(name))?.trim() ?? '';
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await stopProcess(this.process, signal);
  }
}

export class GobgpDaemon {
  process: Logged | undefined;
  readonly configFile: string;

  constructor(readonly node: LabNode) {
    this.configFile = path.join(node.lab.dir, `${node.name}-gobgp.toml`);
  }

  async start(config: string): Promise<void> {
    await writeFile(this.configFile, config);
    this.process = this.node.spawn('gobgpd', ['-f', this.configFile, '-t', 'toml', '--pprof-disable', '--api-hosts', '127.0.0.1:50051', '-l', 'info']);
    await waitFor(`GoBGP on ${this.node.name}`, () => this.cli(['global']).then((s) => s.includes('AS')), 15_000, 100);
  }

  cli(args: string[]): Promise<string> {
    return this.node.exec('gobgp', ['-u', '127.0.0.1', '-p', '50051', ...args], { timeoutMs: 30_000 });
  }

  async prefixes(): Promise<string[]> {
    const out = await this.cli(['global', 'rib', '-j']);
    return Object.keys(JSON.parse(out || '{}') as Record<string, unknown>);
  }

  async rib(): Promise<Record<string, Array<{ nexthop?: string; attrs: Array<{ type: number; value?: unknown; [k: string]: unknown }> }>>> {
    return JSON.parse((await this.cli(['global', 'rib', '-j'])) || '{}');
  }

  async neighborState(address: string): Promise<string> {
    const out = await this.cli(['neighbor', address, '-j']);
    const n = JSON.parse(out) as { state?: { session_state?: number | string } };
    return String(n.state?.session_state ?? '');
  }

  async stop(): Promise<void> {
    const p = this.process;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  }
}

export class FrrDaemon {
  process: Logged | undefined;
  zebra: Logged | undefined;
  readonly dir: string;

  constructor(readonly node: LabNode) {
    this.dir = path.join(node.lab.dir, `${node.name}-frr`);
  }

  /**
   * bgpd, running as the frr user as FRR requires; alone (-Z) unless `zebra`, which also starts
   * zebra so that bgpd's best routes reach the kernel (proto bgp, 186).
   */
  async start(config: string, options: { zebra?: boolean } = {}): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const ids = (await run('id', ['-u', 'frr'])).trim();
    const gid = (await run('id', ['-g', 'frr'])).trim();
    await writeFile(path.join(this.dir, 'bgpd.conf'), config);
    await chown(this.dir, Number(ids), Number(gid));
    await chown(path.join(this.dir, 'bgpd.conf'), Number(ids), Number(gid));
    await chmod(this.node.lab.dir, 0o755);
    const zserv = path.join(this.dir, 'zserv.api');
    if (options.zebra) {
      await writeFile(path.join(this.dir, 'zebra.conf'), 'hostname zebra\n');
      await chown(path.join(this.dir, 'zebra.conf'), Number(ids), Number(gid));
      this.zebra = this.node.spawn('/usr/lib/frr/zebra', ['-f', path.join(this.dir, 'zebra.conf'), '-i', path.join(this.dir, 'zebra.pid'), '-z', zserv, '--vty_socket', this.dir, '-u', 'frr', '-g', 'frr', '--log', 'stdout']);
      await waitFor('zebra socket', () => run('test', ['-S', zserv]).then(() => true), 15_000, 100);
    }
    this.process = this.node.spawn('/usr/lib/frr/bgpd', [...(options.zebra ? ['-z', zserv] : ['-Z']), '-f', path.join(this.dir, 'bgpd.conf'), '-i', path.join(this.dir, 'bgpd.pid'), '--vty_socket', this.dir, '-u', 'frr', '-g', 'frr', '-p', '179', '--log', 'stdout']);
    await waitFor(`FRR bgpd on ${this.node.name}`, () => this.vtysh(['show bgp summary json']).then((s) => s.includes('routerId')), 15_000, 100);
  }

  vtysh(commands: string[]): Promise<string> {
    return this.node.exec('vtysh', ['--vty_socket', this.dir, '-d', 'bgpd', ...commands.flatMap((c) => ['-c', c])], { timeoutMs: 60_000 });
  }

  async prefixes(): Promise<string[]> {
    const out = await this.vtysh(['show bgp ipv4 unicast json']);
    return Object.keys((JSON.parse(out) as { routes?: Record<string, unknown> }).routes ?? {});
  }

  async stop(): Promise<void> {
    for (const p of [this.process, this.zebra]) {
      if (!p || p.exitCode !== null) continue;
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill('SIGTERM');
        setTimeout(() => p.kill('SIGKILL'), 20_000).unref();
      });
    }
  }
}

/** Kernel routes with a protocol number in a namespace, as prefixes. */
export async function kernelRoutes(node: LabNode, protocol: number): Promise<Array<{ dst: string; gateway?: string }>> {
  const out = await node.exec('ip', ['-json', 'route', 'show', 'proto', String(protocol)]);
  return JSON.parse(out || '[]') as Array<{ dst: string; gateway?: string }>;
}
