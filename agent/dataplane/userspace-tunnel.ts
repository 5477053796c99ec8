// The user-space tunl0: the native helper (native/tunl0.c) that owns a TUN device named tunl0 and
// pumps IP-in-IP through a raw socket. This module starts it (or takes over the one already
// running), feeds it the tables it needs (remote block -> node address, the cluster's hosts),
// and stops it.
//
// The helper outlives the agent: it runs in its own session and takes commands on a unix socket
// (root's only) under the run directory, one per network namespace. An agent that is killed or
// restarted leaves it forwarding with its last tables; the next agent connects, checks that it
// serves the same device and node address, and sends its tables again, so that a restart loses
// no packet. Only a stop that removes the dataplane (`dataplane apply --watch` ending, `run`'s
// SIGUSR2, a state without IP-in-IP) ends it.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const helperPath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'native', 'build', 'Release', 'gingham-tunl0');

export interface TunnelRoute {
  dst: string;
  gateway: string;
}

export interface TunnelStats {
  decapsulated: number;
  /** IP-in-IP packets dropped because their outer source is no cluster host. */
  foreign: number;
  malformed: number;
}

function runDir(): string {
  return process.env.GINGHAM_RUN_DIR ?? '/run/gingham';
}

/** The helper's socket and log in this network namespace (`ip netns exec` shares /run, not the namespace). */
export function helperFiles(name: string): { socket: string; log: string } {
  const namespace = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))?.[1] ?? 'default';
  const dir = path.join(runDir(), 'dataplane');
  return { socket: path.join(dir, `${name}-${namespace}.sock`), log: path.join(dir, `${name}-${namespace}.log`) };
}

/** One connection to a helper: line-based requests, answered in order. */
class Connection {
  private readonly lines: AsyncIterator<string>;
  private queue: Promise<unknown> = Promise.resolve();
  closed = false;

  private constructor(readonly socket: Socket) {
    this.lines = createInterface({ input: socket })[Symbol.asyncIterator]();
    socket.on('close', () => (this.closed = true));
  }

  static open(file: string): Promise<Connection | undefined> {
    return new Promise((resolve) => {
      if (!existsSync(file)) return resolve(undefined);
      const socket = createConnection(file);
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        socket.on('error', () => undefined); // a reset shows as 'close'
        resolve(new Connection(socket));
      });
      socket.once('error', () => resolve(undefined)); // ECONNREFUSED: a stale socket file, no helper
    });
  }

  /** Sends `text` (one command, with its lines) and resolves with the reply line. */
  request(text: string): Promise<string> {
    const next = this.queue.then(async () => {
      if (this.closed) throw new Error('the user-space tunl0 helper closed its control socket');
      this.socket.write(text);
      const reply = await this.lines.next();
      if (reply.done) throw new Error('the user-space tunl0 helper closed its control socket');
      if (reply.value.startsWith('error')) throw new Error(`the user-space tunl0 helper refused \`${text.split('\n')[0]}\`: ${reply.value}`);
      return reply.value;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Resolves once the socket is closed (the helper exited, for a `quit`). */
  closedPromise(): Promise<void> {
    return this.closed ? Promise.resolve() : new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  end(): void {
    this.socket.end();
    this.socket.destroy();
  }
}

function lastLines(file: string, count = 3): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-count).join('; ');
  } catch {
    return '';
  }
}

/** Asks a helper serving `name` in this namespace to exit, if one runs; resolves once it has. */
export async function stopHelperIfRunning(name: string): Promise<boolean> {
  const connection = await Connection.open(helperFiles(name).socket);
  if (!connection) return false;
  const closed = connection.closedPromise();
  await connection.request('quit\n').catch(() => undefined);
  await closed;
  return true;
}

export class UserspaceTunnel {
  private connection: Connection | undefined;
  private table = '';
  private hostList = '';
  private leaving = false;
  /** The helper's process id (from its `hello`). */
  pid: number | undefined;

  constructor(
    readonly name: string,
    readonly local: string,
    /** Called when the helper dies on its own, so that the reconciler can start it again. */
    private readonly onExit: (reason: string) => void,
  ) {}

  get running(): boolean {
    return this.connection !== undefined && !this.connection.closed;
  }

  /**
   * Takes over the helper already serving this device and address, or starts one and waits until
   * its TUN device exists. Resolves with whether an existing helper was adopted.
   */
  async start(): Promise<{ adopted: boolean }> {
    if (this.running) return { adopted: false };
    const files = helperFiles(this.name);
    let connection = await Connection.open(files.socket);
    let adopted = false;
    if (connection) {
      const hello = await connection.request('hello\n').catch(() => '');
      const [, device, local, pid] = hello.split(' ');
      if (device === this.name && local === this.local) {
        adopted = true;
        this.pid = Number(pid);
      } else {
        // A helper for another node address (the node's address changed): end it first.
        const closed = connection.closedPromise();
        await connection.request('quit\n').catch(() => undefined);
        await closed;
        connection = undefined;
      }
    }
    if (!connection) {
      connection = await this.spawnHelper(files);
      this.pid = Number((await connection.request('hello\n')).split(' ')[3]);
    }
    this.connection = connection;
    this.table = '';
    this.hostList = '';
    this.leaving = false;
    const mine = connection;
    mine.socket.on('close', () => {
      if (this.connection !== mine) return;
      this.connection = undefined;
      if (!this.leaving) this.onExit(`the user-space tunl0 helper exited: ${lastLines(files.log) || 'no message'} (its log: ${files.log})`);
    });
    return { adopted };
  }

  private async spawnHelper(files: { socket: string; log: string }): Promise<Connection> {
    if (!existsSync(helperPath)) {
      throw new Error(`the user-space tunl0 helper is not built (${helperPath}): run \`node scripts/ensure-deps.mjs\` (needs gcc, make, python3)`);
    }
    mkdirSync(path.dirname(files.socket), { recursive: true, mode: 0o700 });
    // Detached: its own session and process group, so that neither a kill of the agent nor a
    // signal to the agent's group reaches it.
    const child = spawn(helperPath, [this.name, this.local, '--control', files.socket, '--log', files.log], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (stderr += chunk));
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`)));
    const first = await Promise.race([lines.next().then((r) => (r.done ? undefined : r.value)), exited.then(() => undefined)]);
    if (first !== 'ready') {
      const how = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 200))]);
      if (how === 'still running') child.kill('SIGKILL');
      throw new Error(`the user-space tunl0 helper did not start (${how}): ${stderr.trim() || 'no message'}`);
    }
    child.stdout!.destroy();
    child.stderr!.destroy();
    child.unref();
    const connection = await Connection.open(files.socket);
    if (!connection) throw new Error(`the user-space tunl0 helper started but does not answer on ${files.socket}`);
    return connection;
  }

  /** Replaces the helper's route table (a no-op when it is unchanged); resolves once the helper took it. */
  async setRoutes(routes: readonly TunnelRoute[]): Promise<void> {
    const text = `set ${routes.length}\n${routes.map((r) => `${r.dst} ${r.gateway}\n`).join('')}`;
    if (!this.running || text === this.table) return;
    await this.connection!.request(text);
    this.table = text;
  }

  /** Replaces the set of cluster host addresses the helper accepts IP-in-IP from. */
  async setHosts(hosts: readonly string[]): Promise<void> {
    const text = `hosts ${hosts.length}\n${hosts.map((h) => `${h}\n`).join('')}`;
    if (!this.running || text === this.hostList) return;
    await this.connection!.request(text);
    this.hostList = text;
  }

  async stats(): Promise<TunnelStats> {
    if (!this.running) throw new Error('the user-space tunl0 helper is not running');
    const words = (await this.connection!.request('stats\n')).split(' ');
    const value = (key: string) => Number(words[words.indexOf(key) + 1]);
    return { decapsulated: value('decapsulated'), foreign: value('foreign'), malformed: value('malformed') };
  }

  /** Ends the helper, and tunl0 with it; resolves once it has exited. */
  async stop(): Promise<void> {
    const connection = this.connection;
    if (!connection) return;
    this.leaving = true;
    const closed = connection.closedPromise();
    await connection.request('quit\n').catch(() => undefined);
    const timer = setTimeout(() => {
      if (this.pid) process.kill(this.pid, 'SIGKILL');
    }, 2000);
    await closed;
    clearTimeout(timer);
    this.connection = undefined;
  }

  /** Lets go of the helper, which keeps forwarding with its last tables until an agent takes it over. */
  detach(): void {
    const connection = this.connection;
    if (!connection) return;
    this.leaving = true;
    this.connection = undefined;
    connection.end();
  }
}
