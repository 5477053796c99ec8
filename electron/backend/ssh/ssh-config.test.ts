import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseJump, resolveHost, SshConfigError } from './ssh-config.ts';

const home = mkdtempSync(join(tmpdir(), 'gcon-sshcfg-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
mkdirSync(join(home, '.ssh', 'config.d'), { recursive: true });
writeFileSync(
  join(home, '.ssh', 'config'),
  `# the user's config
Include config.d/*
Host worker-*  !worker-3
  User ubuntu
  IdentityFile ~/.ssh/lab_key
  ProxyJump admin@bastion.example:2222

Host worker-1
  HostName 10.240.1.11
  User ignored-because-first-value-wins

Host *
  IdentityFile ~/.ssh/id_other
  Port 22
  User nobody
`,
);
writeFileSync(join(home, '.ssh', 'config.d', 'lab'), 'Host worker-3\n  HostName=10.240.2.13\n  Port 2200\n  IdentitiesOnly yes\n');
const resolve = (alias: string) => resolveHost(alias, { home });

describe('resolveHost, as OpenSSH reads ~/.ssh/config', () => {
  it('applies matching blocks, first value winning, identity files accumulating', () => {
    expect(resolve('worker-1')).toEqual({
      alias: 'worker-1',
      hostName: '10.240.1.11',
      user: 'ubuntu',
      port: 22,
      identityFiles: [join(home, '.ssh', 'lab_key'), join(home, '.ssh', 'id_other')],
      identitiesOnly: false,
      proxyJump: [{ host: 'bastion.example', user: 'admin', port: 2222 }],
    });
  });

  it('follows Include and honours a negated pattern', () => {
    const worker3 = resolve('worker-3');
    expect(worker3).toMatchObject({ hostName: '10.240.2.13', port: 2200, user: 'nobody', identitiesOnly: true, proxyJump: [] });
  });

  it('leaves an unknown host as typed', () => {
    expect(resolve('10.0.0.9')).toMatchObject({ hostName: '10.0.0.9', user: 'nobody', port: 22 });
  });

  it('treats a missing config as empty', () => {
    expect(resolveHost('x', { home, configPath: join(home, 'none') })).toEqual({ alias: 'x', hostName: 'x', identityFiles: [], identitiesOnly: false, proxyJump: [] });
  });

  it('names the file and line of a bad Port', () => {
    const bad = join(home, 'bad');
    writeFileSync(bad, 'Host a\n  Port http\n');
    expect(() => resolveHost('a', { home, configPath: bad })).toThrow(`${bad}:2: Port http is not a TCP port: write a number from 1 to 65535.`);
  });
});

/** Whether a Host line with `patterns` applies to `host`. */
function hostMatches(patterns: string, host: string): boolean {
  const file = join(home, `match-${patterns.replace(/\W/g, '_')}`);
  writeFileSync(file, `Host ${patterns}\n  User matched\n`);
  return resolveHost(host, { home, configPath: file }).user === 'matched';
}

describe('patterns and jumps', () => {
  it('matches wildcards case-insensitively', () => {
    expect(hostMatches('*.Example', 'node.example')).toBe(true);
    expect(hostMatches('*.example', 'NODE.example')).toBe(true);
    expect(hostMatches('node?', 'node12')).toBe(false);
    expect(hostMatches('* !db*', 'db1')).toBe(false);
    expect(hostMatches('* !db*', 'web1')).toBe(true);
  });
  it('applies Match host and Match all blocks, and never runs Match exec', () => {
    const file = join(home, 'match-blocks');
    const marker = join(home, 'exec-ran');
    writeFileSync(file, `Match exec "touch ${marker}"\n  User from-exec\nMatch host web*\n  Port 2022\nMatch all\n  User everyone\n`);
    expect(resolveHost('web1', { home, configPath: file })).toMatchObject({ port: 2022, user: 'everyone' });
    expect(resolveHost('db1', { home, configPath: file }).port).toBeUndefined();
    expect(existsSync(marker)).toBe(false);
  });
  it('names the file and line of a bad Port in an included file, past the blocks before it', () => {
    mkdirSync(join(home, 'inc'), { recursive: true });
    const inner = join(home, 'inc', 'ports');
    writeFileSync(inner, '# ports\nHost other\n  Port http\nHost target\n  Port https\n');
    const outer = join(home, 'inc', 'outer');
    writeFileSync(outer, `Host first\n  User x\nInclude ${inner}\n`);
    expect(() => resolveHost('target', { home, configPath: outer })).toThrow(`${inner}:5: Port https is not a TCP port`);
    expect(() => resolveHost('first', { home, configPath: outer })).not.toThrow();
  });
  it('refuses an unclosed quote, naming the file and line', () => {
    const file = join(home, 'quote');
    writeFileSync(file, 'Host a\n  HostName "10.0.0.1\n');
    expect(() => resolveHost('a', { home, configPath: file })).toThrow(SshConfigError);
    expect(() => resolveHost('a', { home, configPath: file })).toThrow(`${file}:2: HostName is not readable: a quote is not closed`);
  });
  it('parses a chain of jumps with users, ports and IPv6', () => {
    expect(parseJump('a,me@b:2022,[fd00::1]:22')).toEqual([{ host: 'a' }, { host: 'b', user: 'me', port: 2022 }, { host: 'fd00::1', port: 22 }]);
    expect(parseJump('none')).toEqual([]);
  });
});
