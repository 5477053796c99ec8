// ~/.ssh/config as OpenSSH reads it, for the options the console uses: HostName, User, Port,
// IdentityFile, IdentitiesOnly, ProxyJump, IdentityAgent. The `ssh-config` package parses the file
// and computes a host's settings (Host and Match blocks, the first value obtained winning,
// IdentityFile accumulating); this file adds what it leaves to its caller: Include (followed here,
// each line keeping its file and line number for the messages), host names matched without regard
// to case as OpenSSH does, no `Match exec` (it would run a shell from a config file), and settings
// checked (a Port that is not a TCP port, a ProxyJump that is not a host) with an error naming the
// file and line. One difference from OpenSSH remains, ssh-config's: its `?` also matches no
// character (OpenSSH's matches exactly one), so `Host node?` applies to `node` too.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import SSHConfig, { LineType, type Directive, type Line } from 'ssh-config';

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

/** Where a line of the config (Includes spliced in) was written. */
interface Origin {
  file: string;
  line: number;
}

/** The config text with every Include replaced by the files it names, and each directive's origin. */
interface Source {
  lines: string[];
  /** One per directive line of `lines`, in order. */
  directives: Origin[];
}

function expandHome(path: string, home: string): string {
  return path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

const valuesOf = (value: Directive['value']): string[] => (typeof value === 'string' ? (value === '' ? [] : [value]) : value.map((v) => v.val));

/**
 * The one directive of a line; `comment` for a comment or blank line, `nothing` for a line that
 * sets nothing (no keyword, or a keyword without a value). A line the parser refuses is an error
 * naming it, as OpenSSH refuses it (an unclosed quote, a Match without criteria).
 */
function directiveOf(raw: string, where: string): Directive | 'comment' | 'nothing' {
  const keyword = /^\s*([^\s=]+)/.exec(raw)?.[1] ?? '';
  let parsed: SSHConfig;
  try {
    parsed = SSHConfig.parse(raw);
  } catch (error) {
    const why = /line break/i.test((error as Error).message) ? 'a quote is not closed: close it' : `${(error as Error).message}: write it as the ssh_config manual page shows`;
    throw new SshConfigError(`${where}: ${keyword || 'line'} is not readable: ${why}.`);
  }
  const line: Line | undefined = parsed[0];
  if (!line || line.type !== LineType.DIRECTIVE) return 'comment';
  if (/^match$/i.test(line.param) && valuesOf(line.value).length === 0) {
    throw new SshConfigError(`${where}: ${line.param} has no criteria: write Match all, or Match host PATTERN.`);
  }
  // ssh-config would make a keyword without a value the winning (empty) value; OpenSSH's value is the next one.
  return line.param && valuesOf(line.value).length > 0 ? line : 'nothing';
}

/** `includedAt` names the Include line that led here, for the messages. */
function readSource(file: string, home: string, depth: number, includedAt?: string): Source {
  if (depth > 16) throw new SshConfigError(`${includedAt ?? `${file}:1`}: Include nested too deeply (more than 16 levels): is there an Include loop? Remove the Include that leads back.`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EISDIR' ? 'it is a folder, not a config file: name the files in it (folder/*)' : code === 'EACCES' || code === 'EPERM' ? 'it cannot be read (permission denied): make it readable by your user' : (error as Error).message;
    throw new SshConfigError(`${includedAt ?? `${file}:1`}: Include ${file}: ${why}.`);
  }
  const source: Source = { lines: [], directives: [] };
  text.split('\n').forEach((written, index) => {
    const where = `${file}:${index + 1}`;
    // A Host line without patterns matches no host (OpenSSH); ssh-config cannot parse it.
    const raw = /^\s*host\s*=?\s*$/i.test(written) ? 'Host !*' : written;
    const directive = directiveOf(raw, where);
    if (directive === 'nothing') return;
    if (directive !== 'comment' && /^include$/i.test(directive.param)) {
      for (const pattern of valuesOf(directive.value)) {
        const full = expandHome(pattern, home);
        const path = isAbsolute(full) ? full : join(home, '.ssh', full);
        for (const included of expandGlob(path)) {
          const inner = readSource(included, home, depth + 1, where);
          source.lines.push(...inner.lines);
          source.directives.push(...inner.directives);
        }
      }
      return;
    }
    source.lines.push(raw);
    if (directive !== 'comment') source.directives.push({ file, line: index + 1 });
  });
  return source;
}

/** Include may name a glob in its last component (e.g. config.d/*); that is what users write. */
function expandGlob(path: string): string[] {
  const name = basename(path);
  if (!/[*?]/.test(name)) return existsSync(path) ? [path] : [];
  const dir = dirname(path);
  if (!existsSync(dir)) return [];
  const escaped = name.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  const re = new RegExp(`^${escaped}$`);
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

/** Every directive of a parsed config, in file order (a Host or Match line, then its block). */
function directivesIn(config: SSHConfig): Directive[] {
  return config.flatMap((line) => (line.type !== LineType.DIRECTIVE ? [] : 'config' in line ? [line, ...directivesIn(line.config)] : [line]));
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
  const source: Source = existsSync(configPath) ? readSource(configPath, home, 0) : { lines: [], directives: [] };
  const config = SSHConfig.parse(source.lines.join('\n'));

  // compute() reports the winning value, not where it was written: the values that are checked
  // go through it as tokens naming their directive, so that an error can cite the file and line.
  const checked = new Map<string, { value: string; origin: Origin }>();
  directivesIn(config).forEach((directive, index) => {
    const origin = source.directives[index]!;
    if (/^host$/i.test(directive.param)) {
      // OpenSSH matches host names without regard to case; compute() compares exactly.
      directive.value = typeof directive.value === 'string' ? directive.value.toLowerCase() : directive.value.map((v) => ({ ...v, val: v.val.toLowerCase() }));
    } else if (/^(port|proxyjump)$/i.test(directive.param)) {
      const token = `\u0001${index}`;
      checked.set(token, { value: valuesOf(directive.value)[0]!, origin });
      directive.value = token;
    }
  });
  const computed = config.compute(alias.toLowerCase(), { ignoreCase: true, matchExec: false });
  const first = (key: string): string | undefined => {
    const value = computed[key];
    return Array.isArray(value) ? value[0] : value;
  };

  const resolved: ResolvedHost = { alias, hostName: alias, identityFiles: [], identitiesOnly: false, proxyJump: [] };
  const hostName = first('hostname');
  if (hostName !== undefined) resolved.hostName = hostName.replace(/%h/g, alias);
  const user = first('user');
  if (user !== undefined) resolved.user = user;
  const port = checked.get(first('port') ?? '');
  if (port) {
    const value = Number(port.value);
    if (!Number.isInteger(value) || value < 1 || value > 65535) throw new SshConfigError(`${port.origin.file}:${port.origin.line}: Port ${port.value} is not a TCP port: write a number from 1 to 65535.`);
    resolved.port = value;
  }
  const identityFiles = computed.identityfile;
  for (const file of Array.isArray(identityFiles) ? identityFiles : identityFiles ? [identityFiles] : []) {
    resolved.identityFiles.push(expandHome(file.replace(/%d/g, home).replace(/%h/g, alias), home));
  }
  resolved.identitiesOnly = first('identitiesonly')?.toLowerCase() === 'yes';
  const agent = first('identityagent');
  if (agent !== undefined && agent.toLowerCase() !== 'ssh_auth_sock') resolved.identityAgent = expandHome(agent, home);
  const jump = checked.get(first('proxyjump') ?? '');
  if (jump) {
    try {
      // `none` is OpenSSH's word for no jump (it overrides a ProxyJump of a wider Host block).
      resolved.proxyJump = parseJump(jump.value);
    } catch (error) {
      throw new SshConfigError(`${jump.origin.file}:${jump.origin.line}: ${(error as Error).message}`);
    }
  }
  return resolved;
}
