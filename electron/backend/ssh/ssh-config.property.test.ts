// Property: no ~/.ssh/config crashes the console's reader. Any file made of the keywords users
// write (with any values, quoting, `=` or spaces, Host and Match blocks, Includes) resolves to
// settings the console can use (a host name, ports that are TCP ports, jumps that are hosts), or
// is refused with an SshConfigError naming the file, the line and the keyword, and what to write.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveHost, SshConfigError } from './ssh-config.ts';

const home = mkdtempSync(path.join(tmpdir(), 'gsshprop-'));
mkdirSync(path.join(home, '.ssh'));
mkdirSync(path.join(home, '.ssh', 'a-folder'));
writeFileSync(path.join(home, '.ssh', 'included'), 'Port 2222\n');
afterAll(() => rmSync(home, { recursive: true, force: true }));

const keyword = fc.constantFrom('Host', 'Match', 'HostName', 'User', 'Port', 'IdentityFile', 'IdentitiesOnly', 'IdentityAgent', 'ProxyJump', 'Include', 'ForwardAgent', 'port', 'HOSTNAME');
const word = fc.oneof(
  fc.constantFrom('*', 'lab', 'worker-1', '!worker-1', 'all', '10.240.1.11', '22', '0', '65536', '-1', '2222', 'yes', 'no', 'none', 'SSH_AUTH_SOCK', '~/.ssh/id_ed25519', '%h', '%d', 'bastion', 'root@bastion:2200', 'a@b:99999', '[::1]:22', 'a,b', ',', '@', ':', 'included', 'a-folder', 'missing', '*.d/*', '"quoted value"', '"'),
  fc.string({ maxLength: 12 }),
);
const line = fc.tuple(keyword, fc.constantFrom(' ', '=', ' = ', '\t'), fc.array(word, { maxLength: 3 })).map(([k, sep, args]) => `${k}${sep}${args.join(' ')}`);
const config = fc.array(fc.oneof(line, fc.constantFrom('', '# comment', '   ', 'Host lab', 'Match all')), { maxLength: 12 }).map((lines) => lines.join('\n'));

let n = 0;
function check(text: string, alias: string): void {
  const file = path.join(home, '.ssh', `config-${n++}`);
  writeFileSync(file, text);
  try {
    const resolved = resolveHost(alias, { configPath: file, home });
    expect(typeof resolved.hostName).toBe('string');
    if (resolved.port !== undefined) expect(Number.isInteger(resolved.port) && resolved.port >= 1 && resolved.port <= 65535).toBe(true);
    for (const jump of resolved.proxyJump) {
      expect(jump.host).not.toBe('');
      if (jump.port !== undefined) expect(Number.isInteger(jump.port) && jump.port >= 1 && jump.port <= 65535).toBe(true);
    }
  } catch (error) {
    expect(error).toBeInstanceOf(SshConfigError);
    expect((error as Error).message).toMatch(/^\/\S+:\d+: \S+ .+: .+/);
  }
}

describe('ssh config reader, any file', () => {
  it('resolves usable settings or names the file, line and keyword', () => {
    fc.assert(fc.property(config, fc.constantFrom('lab', 'worker-1', '10.240.1.11'), (text, alias) => check(text, alias)), { numRuns: 800 });
  });
});
