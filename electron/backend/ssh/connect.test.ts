// Key problems are found before any packet is sent, and said in words that lead to the fix.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSsh, planHops } from './connect.ts';
import { KnownHosts } from './known-hosts.ts';

const dir = mkdtempSync(join(tmpdir(), 'gcon-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const options = { knownHosts: new KnownHosts(join(dir, 'known_hosts')), home: dir, sshConfigPath: join(dir, 'none'), agentSocket: '' };

describe('openSsh, before connecting', () => {
  it('asks for ssh-agent when the chosen key has a passphrase', async () => {
    const key = join(dir, 'locked');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret', '-f', key]);
    await expect(openSsh({ host: '127.0.0.1', user: 'root', identityFile: key }, options)).rejects.toMatchObject({
      code: 'ssh-key-unreadable',
      message: `The key ${key} is protected by a passphrase. Add it to your ssh-agent (ssh-add ${key}) and connect again.`,
    });
  });

  it('names a key file that is not there', async () => {
    await expect(openSsh({ host: '127.0.0.1', identityFile: '~/missing_key' }, options)).rejects.toMatchObject({
      code: 'ssh-key-unreadable',
      message: expect.stringContaining(`Cannot read the key ${join(dir, 'missing_key')}: ENOENT`),
    });
  });

  it('lets what the user typed override ~/.ssh/config, as command-line options do', () => {
    const hops = planHops({ host: '10.0.0.5', port: 2200, user: 'admin' }, options);
    expect(hops).toHaveLength(1);
    expect(hops[0]).toMatchObject({ host: '10.0.0.5', port: 2200, user: 'admin' });
  });
});
