// The console's own known_hosts, in OpenSSH's format so that a user can read it, diff it or copy
// lines from ~/.ssh/known_hosts into it. Only keys the user accepted in the console are written.
// Read-only files may be trusted beside it: the lab's, whose host keys the lab made on this machine.
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { keyAlgorithm } from './host-key.ts';

export type HostKeyVerdict =
  | { verdict: 'trusted' }
  | { verdict: 'unknown' }
  /** A different key is recorded for this host: possibly a man in the middle. Never connect. */
  | { verdict: 'changed'; recorded: Array<{ algorithm: string; key: Buffer; line: number }> };

/** How OpenSSH names a host in known_hosts: bare on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

interface Entry {
  names: string[];
  algorithm: string;
  key: Buffer;
  line: number;
  revoked: boolean;
}

function parse(text: string): Entry[] {
  const entries: Entry[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    let fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0]?.startsWith('@')) {
      // @cert-authority lines are not used by the console; @revoked marks a key as refused.
      if (fields[0] !== '@revoked') return;
      revoked = true;
      fields = fields.slice(1);
    }
    const [names, algorithm, base64] = fields;
    if (!names || !algorithm || !base64) return;
    entries.push({ names: names.split(','), algorithm, key: Buffer.from(base64, 'base64'), line: index + 1, revoked });
  });
  return entries;
}

function readEntries(path: string, what: string): Entry[] {
  try {
    return parse(readFileSync(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`Cannot read ${what} at ${path}: ${(error as Error).message}. Fix its permissions or move it aside.`);
  }
}

export class KnownHosts {
  constructor(
    readonly path: string,
    /** Other known_hosts files to trust, never written (the lab's). */
    private readonly alsoTrusted: readonly string[] = [],
  ) {}

  private entries(): Entry[] {
    return [readEntries(this.path, "the console's known_hosts"), ...this.alsoTrusted.map((file) => readEntries(file, 'a trusted known_hosts'))].flat();
  }

  check(host: string, port: number, key: Buffer): HostKeyVerdict {
    const name = knownHostsName(host, port);
    const forHost = this.entries().filter((entry) => entry.names.includes(name));
    if (forHost.some((entry) => entry.revoked && entry.key.equals(key))) {
      return { verdict: 'changed', recorded: [] };
    }
    const live = forHost.filter((entry) => !entry.revoked);
    if (live.some((entry) => entry.key.equals(key))) return { verdict: 'trusted' };
    if (live.length === 0) return { verdict: 'unknown' };
    // Some key is recorded for this host and it is not this one. OpenSSH refuses only when a key of
    // the same type differs; the console refuses for any type, so a server cannot slip past the
    // check by offering an algorithm it never offered before.
    return { verdict: 'changed', recorded: live.map(({ algorithm, key: recordedKey, line }) => ({ algorithm, key: recordedKey, line })) };
  }

  trust(host: string, port: number, key: Buffer): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    appendFileSync(this.path, `${knownHostsName(host, port)} ${keyAlgorithm(key)} ${key.toString('base64')}\n`, { mode: 0o600 });
  }
}
