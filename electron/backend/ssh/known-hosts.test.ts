import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fingerprint, keyAlgorithm } from './host-key.ts';
import { KnownHosts, knownHostsName } from './known-hosts.ts';

const dir = mkdtempSync(join(tmpdir(), 'gcon-known-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An SSH public key blob: a length-prefixed algorithm name and some key bytes. */
function blob(algorithm: string, fill: number): Buffer {
  const name = Buffer.from(algorithm);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(name.length);
  return Buffer.concat([head, name, Buffer.alloc(32, fill)]);
}

describe('host keys', () => {
  it('reads the algorithm from the blob and prints the fingerprint as OpenSSH does', () => {
    const key = blob('ssh-ed25519', 7);
    expect(keyAlgorithm(key)).toBe('ssh-ed25519');
    expect(fingerprint(key)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('names hosts as known_hosts does', () => {
    expect(knownHostsName('10.0.0.1', 22)).toBe('10.0.0.1');
    expect(knownHostsName('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
  });
});

describe('KnownHosts', () => {
  const path = join(dir, 'known_hosts');
  const known = new KnownHosts(path);
  const key = blob('ssh-ed25519', 1);

  it('knows nothing until the user trusts a key, then trusts exactly that key on that port', () => {
    expect(known.check('10.0.0.1', 22, key)).toEqual({ verdict: 'unknown' });
    known.trust('10.0.0.1', 22, key);
    expect(readFileSync(path, 'utf8')).toBe(`10.0.0.1 ssh-ed25519 ${key.toString('base64')}\n`);
    expect(known.check('10.0.0.1', 22, key)).toEqual({ verdict: 'trusted' });
    expect(known.check('10.0.0.1', 2222, key)).toEqual({ verdict: 'unknown' });
  });

  it('calls a different key for a known host a change, whatever its algorithm', () => {
    expect(known.check('10.0.0.1', 22, blob('ssh-ed25519', 2))).toMatchObject({ verdict: 'changed', recorded: [{ algorithm: 'ssh-ed25519', line: 1 }] });
    expect(known.check('10.0.0.1', 22, blob('ecdsa-sha2-nistp256', 1)).verdict).toBe('changed');
  });

  it('reads lines a user pasted from ~/.ssh/known_hosts, with host lists, comments and @revoked', () => {
    const pasted = join(dir, 'pasted');
    const revoked = blob('ssh-ed25519', 9);
    writeFileSync(pasted, `# copied\nnode-a,10.0.0.2 ssh-ed25519 ${key.toString('base64')}\n@revoked * ssh-ed25519 ${revoked.toString('base64')}\n@revoked 10.0.0.3 ssh-ed25519 ${revoked.toString('base64')}\n`);
    const file = new KnownHosts(pasted);
    expect(file.check('10.0.0.2', 22, key).verdict).toBe('trusted');
    expect(file.check('node-a', 22, key).verdict).toBe('trusted');
    expect(file.check('10.0.0.3', 22, revoked).verdict).toBe('changed');
  });
});
