// ~/.ssh/config as OpenSSH reads it, for the options the console uses: HostName, User, Port,
// IdentityFile, IdentitiesOnly, ProxyJump, IdentityAgent. The first value obtained for an option
// wins (IdentityFile accumulates); Host patterns take * ? and !negation; Include is followed;
// Match blocks are skipped (their conditions need a shell), except `Match all`.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';

/** A setting in the SSH config that the console cannot use: the message names the file, line and keyword. */
export class SshConfigError extends Error {
  override name = 'SshConfigError';
}

export interface Jump {
  host: string;
  user?: string;
  port?: number;
}

export interface ResolvedHost {
  /** The name the user typed (an alias or a host). */
  alias: string;
  hostName: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  identitiesOnly: boolean;
  proxyJump: Jump[];
  /** An agent socket from IdentityAgent, `none` to use no agent, or undefined for SSH_AUTH_SOCK. */
  identityAgent?: string;
}

interface Line {
  keyword: string;
  args: string[];
  file: string;
  line: number;
}

function tokenize(value: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(value); m; m = re.exec(value)) out.push(m[1] ?? m[2] ?? '');
  return out;
}

function expandHome(path: string, home: string): string {
  return path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

/** OpenSSH's Host matching: any positive pattern matches and no negated one does. */
export function hostMatches(patterns: string[], host: string): boolean {
  let matched = false;
  for (const pattern of patterns) {
    if (pattern.startsWith('!')) {
      if (globToRegExp(pattern.slice(1)).test(host)) return false;
    } else if (globToRegExp(pattern).test(host)) {
      matched = true;
    }
  }
  return matched;
}

/** `includedAt` names the Include line that led here, for the messages. */
function readLines(file: string, home: string, depth: number, includedAt?: string): Line[] {
  if (depth > 16) throw new SshConfigError(`${includedAt ?? `${file}:1`}: Include nested too deeply (more than 16 levels): is there an Include loop? Remove the Include that leads back.`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EISDIR' ? 'it is a folder, not a config file: name the files in it (folder/*)' : code === 'EACCES' || code === 'EPERM' ? 'it cannot be read (permission denied): make it readable by your user' : (error as Error).message;
    throw new SshConfigError(`${includedAt ?? `${file}:1`}: Include ${file}: ${why}.`);
  }
  const lines: Line[] = [];
  text.split('\n').forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const m = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(trimmed);
    if (!m) return;
    const keyword = m[1]!.toLowerCase();
    const args = tokenize(m[2]!);
    if (keyword === 'include') {
      for (const pattern of args) {
        const full = expandHome(pattern, home);
        const path = isAbsolute(full) ? full : join(home, '.ssh', full);
        for (const included of expandGlob(path)) lines.push(...readLines(included, home, depth + 1, `${file}:${index + 1}`));
      }
      return;
    }
    lines.push({ keyword, args, file, line: index + 1 });
  });
  return lines;
}

/** Include may name a glob in its last component (e.g. config.d/*); that is what users write. */
function expandGlob(path: string): string[] {
  const name = basename(path);
  if (!/[*?]/.test(name)) return existsSync(path) ? [path] : [];
  const dir = dirname(path);
  if (!existsSync(dir)) return [];
  const re = globToRegExp(name);
  // Only files: a folder that the pattern also matches (config.d/* beside config.d/old/) is not a config.
  return readdirSync(dir)
    .filter((entry) => re.test(entry))
    .sort()
    .map((entry) => join(dir, entry))
    .filter((entry) => {
      try {
        return statSync(entry).isFile();
      } catch {
        return false;
      }
    });
}

export function parseJump(spec: string): Jump[] {
  if (spec.toLowerCase() === 'none') return [];
  return spec.split(',').map((hop) => {
    const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hop.trim());
    if (!m) throw new SshConfigError(`ProxyJump entry "${hop}" is not [user@]host[:port]: write the jump hosts as user@host:port, separated by commas.`);
    const host = m[2]!.replace(/^\[|\]$/g, '');
    if (host === '') throw new SshConfigError(`ProxyJump entry "${hop}" has no host: write the jump hosts as user@host:port, separated by commas.`);
    if (m[3] && (Number(m[3]) < 1 || Number(m[3]) > 65535)) throw new SshConfigError(`ProxyJump entry "${hop}": port ${m[3]} is not a TCP port: write a number from 1 to 65535.`);
    return { host, ...(m[1] ? { user: m[1] } : {}), ...(m[3] ? { port: Number(m[3]) } : {}) };
  });
}

/**
 * What OpenSSH would use to reach `alias`. `configPath` defaults to ~/.ssh/config; a missing file
 * means no settings. A malformed Port or ProxyJump is an error naming the file and line.
 */
export function resolveHost(alias: string, options: { configPath?: string; home?: string } = {}): ResolvedHost {
  const home = options.home ?? homedir();
  const configPath = options.configPath ?? join(home, '.ssh', 'config');
  const lines = existsSync(configPath) ? readLines(configPath, home, 0) : [];
  const resolved: ResolvedHost = { alias, hostName: alias, identityFiles: [], identitiesOnly: false, proxyJump: [] };
  const seen = new Set<string>();
  let active = true; // options before the first Host line apply to every host
  for (const { keyword, args, file, line } of lines) {
    if (keyword === 'host') {
      active = hostMatches(args, alias);
      continue;
    }
    if (keyword === 'match') {
      active = args.length === 1 && args[0]!.toLowerCase() === 'all';
      continue;
    }
    if (!active || args.length === 0) continue;
    const value = args[0]!;
    if (keyword === 'identityfile') {
      resolved.identityFiles.push(expandHome(value.replace(/%d/g, home).replace(/%h/g, alias), home));
      continue;
    }
    if (seen.has(keyword)) continue;
    seen.add(keyword);
    switch (keyword) {
      case 'hostname':
        resolved.hostName = value.replace(/%h/g, alias);
        break;
      case 'user':
        resolved.user = value;
        break;
      case 'port': {
        const port = Number(value);
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SshConfigError(`${file}:${line}: Port ${value} is not a TCP port: write a number from 1 to 65535.`);
        resolved.port = port;
        break;
      }
      case 'identitiesonly':
        resolved.identitiesOnly = value.toLowerCase() === 'yes';
        break;
      case 'identityagent':
        resolved.identityAgent = value.toLowerCase() === 'ssh_auth_sock' ? undefined : expandHome(value, home);
        break;
      case 'proxyjump':
        try {
          // `none` is OpenSSH's word for no jump (it overrides a ProxyJump of a wider Host block).
          resolved.proxyJump = value.toLowerCase() === 'none' ? [] : parseJump(value);
        } catch (error) {
          throw new SshConfigError(`${file}:${line}: ${(error as Error).message}`);
        }
        break;
    }
  }
  return resolved;
}
