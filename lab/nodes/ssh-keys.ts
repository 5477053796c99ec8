// The admin's SSH key (authorized on every node) and the nodes' host keys (one per node, kept
// across `down`/`up` so that a console that trusted a node keeps trusting it), plus the
// known_hosts file that lists them, so that nothing connects to a node without verifying it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../sh.ts';

export interface LabKeys {
  /** The admin's private key (its `.pub` beside it). */
  sshKey: string;
  knownHosts: string;
}

async function ensureKey(file: string, comment: string): Promise<void> {
  if (existsSync(file) && existsSync(`${file}.pub`)) return;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

export async function ensureAdminKey(stateDir: string): Promise<string> {
  const key = path.join(stateDir, 'ssh', 'id_ed25519');
  await ensureKey(key, 'gingham-lab-admin');
  return key;
}

export async function ensureHostKey(nodeDir: string, node: string): Promise<string> {
  const key = path.join(nodeDir, 'ssh', 'ssh_host_ed25519_key');
  await ensureKey(key, `root@${node}`);
  return key;
}

/** known_hosts with each node under its name and its address. */
export function writeKnownHosts(stateDir: string, nodes: Array<{ name: string; address: string; hostKey: string }>): string {
  const file = path.join(stateDir, 'ssh', 'known_hosts');
  const lines = nodes.map((n) => {
    const [type, key] = readFileSync(`${n.hostKey}.pub`, 'utf8').trim().split(/\s+/);
    return `${n.address},${n.name} ${type} ${key}`;
  });
  writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  return file;
}

/** Options for OpenSSH's client: the admin key only, host keys verified against the lab's known_hosts. */
export function sshOptions(keys: LabKeys): string[] {
  return [
    '-i', keys.sshKey,
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${keys.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=20',
    '-o', 'LogLevel=ERROR',
  ];
}
