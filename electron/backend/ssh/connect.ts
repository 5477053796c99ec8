// Opening an SSH connection as OpenSSH would: ~/.ssh/config settings, keys from IdentityFile or
// the usual defaults, ssh-agent, ProxyJump through bastions, and the console's own host key
// check at every hop. A refusal or a failure becomes a ConsoleError that says what to do.
import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
// ssh2 is CommonJS: Node's ESM loader gives its exports only as the default export.
import ssh2, { type AnyAuthMethod, type AuthMethod, type Client, type ConnectConfig } from 'ssh2';

const { Client: SshClient, utils } = ssh2;
import { ConsoleError } from '../../../shared/api/errors.ts';
import { fingerprint, keyAlgorithm } from './host-key.ts';
import { knownHostsName, type KnownHosts } from './known-hosts.ts';
import { resolveHost, type Jump } from './ssh-config.ts';

export interface SshTarget {
  /** A host, an address or an ~/.ssh/config alias. */
  host: string;
  port?: number;
  user?: string;
  identityFile?: string;
}

export interface SshConnectOptions {
  knownHosts: KnownHosts;
  /** ~/.ssh/config by default. */
  sshConfigPath?: string;
  home?: string;
  /** The agent socket; SSH_AUTH_SOCK by default. */
  agentSocket?: string;
  /** Bound on TCP connect + handshake + authentication, per hop. */
  readyTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
}

export interface UnknownHostKey {
  host: string;
  port: number;
  key: Buffer;
  algorithm: string;
  fingerprint: string;
}

export type SshConnectOutcome =
  | { kind: 'connected'; client: Client; hops: Client[]; algorithm: string; fingerprint: string }
  | { kind: 'host-key-unknown'; hostKey: UnknownHostKey };

interface Hop {
  host: string;
  port: number;
  user: string;
  identityFiles: string[];
  identitiesOnly: boolean;
  agent?: string;
  /** What the user called it, for messages. */
  label: string;
}

const defaultIdentities = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

class HostKeyUnknown extends Error {
  constructor(readonly hostKey: UnknownHostKey) {
    super('host key unknown');
  }
}

function describeHop(hop: Hop): string {
  return `${hop.user}@${hop.host}${hop.port === 22 ? '' : `:${hop.port}`}`;
}

/** Private keys in the order OpenSSH would offer them; an unreadable or encrypted key the user named is an error. */
function loadKeys(hop: Hop, home: string, explicit: string | undefined): Array<{ path: string; key: Buffer }> {
  const keys: Array<{ path: string; key: Buffer }> = [];
  // A path typed in the UI may start with ~ as it would in a shell.
  const expanded = explicit?.replace(/^~(?=\/|$)/, home);
  const named = [...(expanded ? [expanded] : []), ...hop.identityFiles];
  for (const path of named) {
    let key: Buffer;
    try {
      key = readFileSync(path);
    } catch (error) {
      if (path === expanded) {
        throw new ConsoleError('ssh-key-unreadable', `Cannot read the key ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}. Check the path and its permissions.`);
      }
      continue; // OpenSSH, too, skips IdentityFile entries that do not exist
    }
    const parsed = utils.parseKey(key);
    // A key from ~/.ssh/config that the console cannot use (a passphrase) is skipped, as the agent
    // usually holds it; only the key the user named in the console is worth stopping for.
    if (parsed instanceof Error && path !== expanded) continue;
    if (parsed instanceof Error) {
      const encrypted = /encrypted|passphrase/i.test(parsed.message);
      throw new ConsoleError(
        'ssh-key-unreadable',
        encrypted
          ? `The key ${path} is protected by a passphrase. Add it to your ssh-agent (ssh-add ${path}) and connect again.`
          : `The file ${path} is not a private key the console can read (${parsed.message}).`,
      );
    }
    keys.push({ path, key });
  }
  if (named.length === 0 && !hop.identitiesOnly) {
    for (const name of defaultIdentities) {
      const path = join(home, '.ssh', name);
      if (!existsSync(path)) continue;
      try {
        const key = readFileSync(path);
        if (!(utils.parseKey(key) instanceof Error)) keys.push({ path, key });
      } catch {
        // an unreadable default key is not the user's choice; the agent may still have one
      }
    }
  }
  return keys;
}

function mapError(error: Error & { level?: string; code?: string }, hop: Hop, triedKeys: string[], agent: boolean): ConsoleError {
  const where = describeHop(hop);
  if (error.level === 'client-authentication') {
    const tried = [...triedKeys, ...(agent ? ['the keys in ssh-agent'] : [])];
    return new ConsoleError(
      'ssh-auth-failed',
      tried.length === 0
        ? `${where} asked for a key and the console has none to offer: choose a key file, or start ssh-agent and ssh-add your key.`
        : `${where} refused ${tried.join(', ')}. Check the user name and that the public key is in ~/.ssh/authorized_keys on the node.`,
    );
  }
  if (error.level === 'client-timeout') {
    return new ConsoleError('ssh-timeout', `${where} did not complete the SSH handshake in time. Check that the address is right and that a firewall does not drop port ${hop.port}.`);
  }
  switch (error.code) {
    case 'ECONNREFUSED':
      return new ConsoleError('ssh-unreachable', `${hop.host} refused the connection on port ${hop.port}: is sshd running there, on that port?`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ConsoleError('ssh-unreachable', `There is no route to ${hop.host}. Check the address and your network (VPN?).`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConsoleError('ssh-unreachable', `The name ${hop.host} does not resolve. Check the spelling or your ~/.ssh/config HostName.`);
    case 'ETIMEDOUT':
      return new ConsoleError('ssh-timeout', `${hop.host}:${hop.port} did not answer. Check the address and any firewall.`);
    case 'ECONNRESET':
      return new ConsoleError('ssh-disconnected', `${where} closed the connection during the handshake (${error.message}).`);
  }
  return new ConsoleError('ssh-unreachable', `Cannot connect to ${where}: ${error.message}`);
}

function connectHop(hop: Hop, options: SshConnectOptions, explicitKey: string | undefined, sock?: Duplex): Promise<{ client: Client; key: Buffer }> {
  const home = options.home ?? homedir();
  const keys = loadKeys(hop, home, explicitKey);
  const agent = hop.agent && existsSync(hop.agent) ? hop.agent : undefined;
  const auth: AnyAuthMethod[] = [
    ...keys.map((k) => ({ type: 'publickey' as const, username: hop.user, key: k.key })),
    ...(agent ? [{ type: 'agent' as const, username: hop.user, agent }] : []),
  ];
  return new Promise((resolve, reject) => {
    const client = new SshClient();
    let presented: Buffer | undefined;
    let refusal: Error | undefined;
    const config: ConnectConfig = {
      host: hop.host,
      port: hop.port,
      username: hop.user,
      readyTimeout: options.readyTimeoutMs ?? 15_000,
      keepaliveInterval: options.keepaliveIntervalMs ?? 10_000,
      keepaliveCountMax: options.keepaliveCountMax ?? 3,
      authHandler: auth.length > 0 ? auth : [{ type: 'none', username: hop.user } as AuthMethod],
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
        presented = key;
        let verdict;
        try {
          verdict = options.knownHosts.check(hop.host, hop.port, key);
        } catch (error) {
          refusal = new ConsoleError('internal', (error as Error).message);
          verify(false);
          return;
        }
        if (verdict.verdict === 'trusted') {
          verify(true);
          return;
        }
        const presentedPrint = fingerprint(key);
        if (verdict.verdict === 'unknown') {
          refusal = new HostKeyUnknown({ host: hop.host, port: hop.port, key, algorithm: keyAlgorithm(key), fingerprint: presentedPrint });
        } else {
          const recorded = verdict.recorded.map((r) => `${r.algorithm} ${fingerprint(r.key)}`).join(', ') || 'a revoked key';
          refusal = new ConsoleError(
            'host-key-changed',
            `WARNING: the host key of ${knownHostsName(hop.host, hop.port)} has changed. Someone may be intercepting the connection ` +
              `(a man-in-the-middle attack), or the node was reinstalled. The console refused to connect. If you know the key ` +
              `changed legitimately, verify the new fingerprint out of band and remove the old line from ${options.knownHosts.path}.`,
            { host: knownHostsName(hop.host, hop.port), presented: `${keyAlgorithm(key)} ${presentedPrint}`, recorded, knownHosts: options.knownHosts.path },
          );
        }
        verify(false);
      },
      ...(sock ? { sock: sock as never } : {}),
    };
    client.once('ready', () => {
      client.removeAllListeners('error');
      // Connected: a later error (a keepalive timeout, a reset) is followed by 'close', which the
      // owner reports. Without a listener, an 'error' event would take the whole backend down.
      client.on('error', () => undefined);
      resolve({ client, key: presented! });
    });
    client.once('error', (error: Error & { level?: string; code?: string }) => {
      client.end();
      reject(refusal ?? mapError(error, hop, keys.map((k) => k.path), agent !== undefined));
    });
    client.connect(config);
  });
}

function forwardOut(client: Client, host: string, port: number, via: Hop): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    client.forwardOut('127.0.0.1', 0, host, port, (error, stream) => {
      if (error) reject(new ConsoleError('ssh-unreachable', `The bastion ${describeHop(via)} could not reach ${host}:${port}: ${error.message}`));
      else resolve(stream);
    });
  });
}

/** Resolves a target through ~/.ssh/config into the hops to walk: the bastions, then the node. */
export function planHops(target: SshTarget, options: SshConnectOptions): Hop[] {
  const home = options.home ?? homedir();
  const localUser = userInfo().username;
  const agent = options.agentSocket ?? process.env.SSH_AUTH_SOCK;
  let resolved;
  try {
    resolved = resolveHost(target.host, { configPath: options.sshConfigPath, home });
  } catch (error) {
    throw new ConsoleError('ssh-config', `Your SSH config cannot be used: ${(error as Error).message}`);
  }
  // A hop takes what the user typed first, then ~/.ssh/config, then OpenSSH's defaults.
  const hop = (r: typeof resolved, typed: { port?: number; user?: string }, label: string): Hop => ({
    host: r.hostName,
    port: typed.port ?? r.port ?? 22,
    user: typed.user ?? r.user ?? localUser,
    identityFiles: r.identityFiles,
    identitiesOnly: r.identitiesOnly,
    agent: r.identityAgent === 'none' ? undefined : (r.identityAgent ?? agent),
    label,
  });
  const toHop = (jump: Jump): Hop => hop(resolveHost(jump.host, { configPath: options.sshConfigPath, home }), jump, jump.host);
  const node = hop(resolved, target, target.host);
  return [...resolved.proxyJump.map(toHop), node];
}

/**
 * Connects to a target, through its bastions if it has any. An unknown host key at any hop is not
 * an error: it is returned for the user to decide on, and the connection is closed meanwhile.
 */
export async function openSsh(target: SshTarget, options: SshConnectOptions): Promise<SshConnectOutcome> {
  const hops = planHops(target, options);
  const opened: Client[] = [];
  try {
    let sock: Duplex | undefined;
    for (const [index, hop] of hops.entries()) {
      const isNode = index === hops.length - 1;
      const { client, key } = await connectHop(hop, options, isNode ? target.identityFile : undefined, sock);
      opened.push(client);
      if (isNode) {
        return { kind: 'connected', client, hops: opened.slice(0, -1), algorithm: keyAlgorithm(key), fingerprint: fingerprint(key) };
      }
      const next = hops[index + 1]!;
      sock = await forwardOut(client, next.host, next.port, hop);
    }
    throw new ConsoleError('internal', 'No hop to connect to.');
  } catch (error) {
    for (const client of opened.reverse()) client.end();
    if (error instanceof HostKeyUnknown) return { kind: 'host-key-unknown', hostKey: error.hostKey };
    throw error;
  }
}
