// A real node for SSH tests: the lab's sshd (lab/nodes/sshd.ts) in its own network namespace,
// reached over a veth pair, with a host key and an authorized user key made for the test. Used by
// the console's integration tests and by the e2e tests. Needs root. Everything it creates carries
// the `gcon` prefix and is removed by stop(), which the tests call from afterAll.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { programPath } from '../host/preflight.ts';
import { sshdConfig, waitForSshd } from '../nodes/sshd.ts';
import { runSync } from '../sh.ts';

export interface SshdNode {
  /** The namespace's name, e.g. gcon-3f2a. */
  netns: string;
  /** The node's address, as `ip -br addr` shows it inside the namespace (without the prefix length). */
  address: string;
  /** The host side of the veth pair. */
  hostInterface: string;
  /** The address of the host side (this machine's, or the bastion's), as the node reaches it. */
  hostAddress: string;
  port: number;
  user: string;
  /** The private key sshd accepts for `user`. */
  userKey: string;
  /** The SHA256 fingerprint of the current host key, as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint(): string;
  /** Stops sshd, makes a new host key and starts sshd again: what a reinstalled node looks like. */
  restartWithNewHostKey(): Promise<void>;
  /**
   * Takes the node's end of its link down or brings it back. Packets to it then vanish, as when a
   * cable is pulled: the near end keeps its route, so nothing is sent anywhere else. With
   * `end: 'near'`, this machine's (or the bastion's) end goes down instead and its route goes
   * with it, so that connecting fails at once; only use that where the near side has no other
   * route (a bastion's namespace), or packets would leave by the default route.
   */
  setLink(up: boolean, end?: 'node' | 'near'): void;
  /** Kills the sshd processes serving connections (not the listener): every SSH session to the node drops at once. */
  killSessions(): void;
  stop(): Promise<void>;
}

/** For cleanup of something that may not exist. */
const quietly = (command: string, args: string[]) => void runSync(command, args, { allowFail: true });

async function waitForFile(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`sshd wrote no ${path} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * `slot` (0..63) picks the /30 out of 100.64.213.0/24, so that tests running side by side do not
 * collide. With `behind`, the node is wired to that node's namespace instead of to this machine,
 * so that it can be reached only through it (a bastion, for ProxyJump).
 */
export interface SshdNodeOptions {
  behind?: SshdNode;
  /** Name prefix of namespaces, interfaces and folders (each suite its own; `gcon` by default). */
  prefix?: string;
  /** The /24 the slots are cut from, as its first three octets (each suite its own; 100.64.213 by default). */
  subnet?: string;
  /**
   * Folders that are private to this node (a tmpfs each, in a mount namespace of sshd's own), so
   * that what a test installs there over SSH stays on this node, as on a separate host.
   */
  privateDirs?: string[];
  /**
   * Boot systemd as the node's init (PID 1 of a PID namespace of its own) and run sshd as one of
   * its services, so that the installer finds a systemd host. systemd sees only the handful of
   * units written here, never this machine's: its sysinit would clean /tmp and start udev and
   * journald on the machine's behalf. /run and /etc/systemd/system are private to the node.
   */
  systemd?: boolean;
}

/** The systemd a node boots: a few empty targets the installer's unit depends on, sshd, and nothing else. */
function systemdBootScript(sshd: string, configFile: string, privateDirs: string[]): string {
  const unitDir = '/usr/lib/systemd/system';
  const target = (name: string, extra = '') => `printf '[Unit]\\nDescription=${name} (test node)\\nDefaultDependencies=no\\n${extra}' > ${unitDir}/${name}`;
  return [
    ...privateDirs.map((d) => `mkdir -p '${d}'; mount -t tmpfs -o mode=0755 tmpfs '${d}'`),
    `for d in /run /etc/systemd/system ${unitDir} /usr/lib/systemd/system-generators; do mount -t tmpfs -o mode=0755 tmpfs "$d"; done`,
    '[ -d /etc/systemd/system-generators ] && mount -t tmpfs tmpfs /etc/systemd/system-generators',
    'mkdir -p /run/sshd',
    ...['sysinit.target', 'basic.target', 'shutdown.target', 'network-online.target', 'multi-user.target'].map((t) => target(t)),
    target('node.target', 'Wants=test-sshd.service multi-user.target\\n'),
    `printf '[Unit]\\nDescription=sshd (test node)\\nDefaultDependencies=no\\n[Service]\\nExecStart=${sshd} -D -e -f ${configFile}\\nKillMode=process\\n' > ${unitDir}/test-sshd.service`,
    'exec /lib/systemd/systemd --system --unit=node.target',
  ].join('\n');
}

/** The pids whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export async function startSshdNode(slot: number, options: SshdNodeOptions = {}): Promise<SshdNode> {
  if (process.getuid?.() !== 0) throw new Error('startSshdNode needs root (network namespaces, sshd).');
  const prefix = options.prefix ?? 'gcon';
  const subnet = options.subnet ?? '100.64.213';
  const tag = `${process.pid.toString(36).slice(-3)}${slot.toString(36)}`;
  const netns = `${prefix}-${tag}`;
  const hostInterface = `${prefix}-h${tag}`;
  const nodeInterface = `${prefix}-n${tag}`;
  const base = slot * 4;
  const hostAddress = `${subnet}.${base + 1}`;
  const address = `${subnet}.${base + 2}`;
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-sshd-`));
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  const userKey = join(dir, 'id_ed25519');
  // sshd re-executes itself for each connection, and so must be started by its absolute path.
  const sshdProgram = programPath('nodes', 'sshd');
  let sshd: ChildProcess | undefined;

  // The "host" side lives in this machine's namespace, or in the bastion's.
  const upstream = options.behind ? ['-n', options.behind.netns] : [];
  const cleanup = () => {
    quietly('ip', [...upstream, 'link', 'del', hostInterface]);
    quietly('ip', ['netns', 'del', netns]);
  };
  cleanup();
  runSync('ip', ['netns', 'add', netns]);
  try {
    runSync('ip', [...upstream, 'link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', nodeInterface, 'netns', netns]);
    runSync('ip', [...upstream, 'addr', 'add', `${hostAddress}/30`, 'dev', hostInterface]);
    runSync('ip', [...upstream, 'link', 'set', hostInterface, 'up']);
    runSync('ip', ['-n', netns, 'addr', 'add', `${address}/30`, 'dev', nodeInterface]);
    runSync('ip', ['-n', netns, 'link', 'set', nodeInterface, 'up']);
    runSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);

    runSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', userKey, '-C', 'gingham-test-user']);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${userKey}.pub`));
    writeFileSync(
      join(dir, 'sshd_config'),
      sshdConfig({
        listenAddress: address,
        hostKey,
        pidFile: join(dir, 'sshd.pid'),
        authorizedKeys: join(dir, 'authorized_keys'),
        // sshd's own: the node's private folders (a mount namespace) may hide the sftp-server program.
        sftp: 'internal-sftp',
        // The test drops the link on purpose; sshd must not hang up first.
        extra: ['ClientAliveInterval 0'],
      }),
    );
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege-separation directory
  } catch (error) {
    cleanup();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  const makeHostKey = () => {
    rmSync(hostKey, { force: true });
    rmSync(`${hostKey}.pub`, { force: true });
    runSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey, '-C', 'gingham-test-host']);
  };
  /** systemd's pid when the node boots it: what stop() kills (and with it, everything in its PID namespace). */
  let init: number | undefined;
  const startDaemon = async () => {
    rmSync(join(dir, 'sshd.pid'), { force: true });
    const sshdArgv = ['ip', 'netns', 'exec', netns, sshdProgram, '-D', '-e', '-f', join(dir, 'sshd_config')];
    const privateDirs = options.privateDirs ?? [];
    // unshare execs the shell, which execs ip, which execs sshd: the child's pid stays sshd's.
    // With systemd: ip execs unshare, whose one child execs systemd.
    const child = options.systemd
      ? spawn('ip', ['netns', 'exec', netns, 'unshare', '--pid', '--fork', '--mount', '--mount-proc', '--propagation', 'private', 'sh', '-ec', systemdBootScript(sshdProgram, join(dir, 'sshd_config'), privateDirs)], {
          stdio: ['ignore', 'ignore', 'pipe'],
        })
      : privateDirs.length
      ? spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-ec', `for d in ${privateDirs.map((d) => `'${d}'`).join(' ')}; do mkdir -p "$d"; mount -t tmpfs -o mode=0755 tmpfs "$d"; done; exec "$@"`, 'sh', ...sshdArgv], {
          stdio: ['ignore', 'ignore', 'pipe'],
        })
      : spawn(sshdArgv[0]!, sshdArgv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr?.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
    });
    sshd = child;
    if (options.systemd) {
      const deadline = Date.now() + 5000;
      while (!(init = childrenOf(child.pid!)[0]) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    }
    try {
      // A node behind a bastion is not reachable from here; wait for its pid file instead.
      if (options.behind) await waitForFile(join(dir, 'sshd.pid'), 10_000);
      else await waitForSshd(address, 22, { timeoutMs: 10_000, log: () => 'its log follows' });
    } catch (error) {
      throw new Error(`${(error as Error).message}\nsshd said: ${log}`);
    }
  };
  const stopDaemon = async () => {
    const child = sshd;
    sshd = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    // An init ignores SIGTERM; SIGKILL to it ends its whole PID namespace.
    if (init) quietly('kill', ['-KILL', String(init)]);
    else child.kill('SIGTERM');
    init = undefined;
    await exited;
    // sshd leaves its per-connection children running; they live in our namespace only.
    quietly('ip', ['netns', 'pids', netns]);
    for (const pid of runSync('ip', ['netns', 'pids', netns]).split('\n').filter(Boolean)) quietly('kill', ['-TERM', pid]);
  };

  makeHostKey();
  try {
    await startDaemon();
  } catch (error) {
    await stopDaemon();
    cleanup();
    throw error;
  }

  return {
    netns,
    address,
    hostInterface,
    hostAddress,
    port: 22,
    user: 'root',
    userKey,
    hostKeyFingerprint: () => runSync('ssh-keygen', ['-lf', `${hostKey}.pub`]).split(/\s+/)[1]!,
    async restartWithNewHostKey() {
      await stopDaemon();
      makeHostKey();
      await startDaemon();
    },
    setLink(up, end = 'node') {
      if (end === 'near') runSync('ip', [...upstream, 'link', 'set', hostInterface, up ? 'up' : 'down']);
      else runSync('ip', ['-n', netns, 'link', 'set', nodeInterface, up ? 'up' : 'down']);
    },
    killSessions() {
      // The listener: our child, or under systemd, the sshd that systemd started.
      const listeners = new Set(init ? childrenOf(init) : [sshd?.pid]);
      for (const pid of runSync('ip', ['netns', 'pids', netns]).split('\n').filter(Boolean)) {
        if (listeners.has(Number(pid))) continue;
        let comm = '';
        try {
          comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        } catch {
          continue; // gone already
        }
        if (comm.startsWith('sshd')) quietly('kill', ['-KILL', pid]);
      }
    },
    async stop() {
      await stopDaemon();
      cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
