// The scripts the installer runs on nodes: valid POSIX sh (dash parses them, as Debian's /bin/sh),
// and the probe's output read back field by field.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseProbe } from './install-node.ts';
import { activateScript, cacheFactsScript, finishScript, probeScript, superviseScript, systemdUnit, tokenExpiryScript, uninstallScript, waitStateScript } from './node-scripts.ts';

const release = { sha: 'abc', incoming: '/opt/gingham/releases/.incoming-abc-u1', files: [{ path: 'gingham-agent', mode: 0o755, packed: 'zstd' as const }, { path: 'native/build/Release/tcp_md5.node', mode: 0o755 }] };
const activation = { sha: 'abc', attempt: 'u1', init: 'daemon' as const, waitSeconds: 45, staged: '/etc/gingham/.staged.u1' };

describe('node scripts', () => {
  it.each([
    ['probe', probeScript],
    ['token expiry', tokenExpiryScript],
    ['supervise', superviseScript],
    ['activate', activateScript],
    ['uninstall', uninstallScript],
    ['wait-state', waitStateScript],
    ['finish: unpack, check and start', finishScript(release, activation)],
    ['finish: only check', finishScript(release, undefined)],
    ['finish: only start', finishScript(undefined, activation)],
    ['finish: from the cache', finishScript({ ...release, from: '/var/cache/gingham/releases/abc-zstd' }, activation)],
    ['cache facts', cacheFactsScript('abc')],
  ])('%s parses as POSIX sh', (_name, script) => {
    expect(() => execFileSync('dash', ['-n'], { input: script, stdio: ['pipe', 'pipe', 'pipe'] })).not.toThrow();
  });

  it('a syntax error would be caught', () => {
    expect(() => execFileSync('dash', ['-n'], { input: 'if true; then', stdio: ['pipe', 'pipe', 'pipe'] })).toThrow();
  });

  it('the systemd unit runs the current release and stops with SIGTERM, restarting only on failure', () => {
    const unit = systemdUnit();
    expect(unit).toContain('ExecStart=/opt/gingham/current/gingham-agent run --config /etc/gingham/agent.yaml');
    expect(unit).toContain('Restart=on-failure');
    expect(unit).toContain('RuntimeDirectoryMode=0700');
  });

  it('reads the probe output, the state file included', () => {
    const probe = parseProbe(
      [
        'uid=0',
        'arch=x86_64',
        'init=daemon',
        'missing=flock',
        'current=abc',
        'version=1.2.3',
        'agentPid=42',
        'agentExe=/opt/gingham/releases/abc/gingham-agent',
        'healthy=yes',
        'gzip=yes',
        'zstd=yes',
        'sha:/etc/gingham/agent.yaml=ff',
        'incoming=.incoming-def',
        '--- state',
        '{"attempt":"x","phase":"done","release":"abc","previous":"","message":"agent running","at":"2026-11-26T08:00:00Z"}',
        '',
      ].join('\n'),
    );
    expect(probe).toEqual({
      uid: 0,
      arch: 'x86_64',
      init: 'daemon',
      missing: ['flock'],
      current: 'abc',
      version: '1.2.3',
      agentPid: 42,
      agentExe: '/opt/gingham/releases/abc/gingham-agent',
      healthy: true,
      gzip: true,
      zstd: true,
      fileHashes: { '/etc/gingham/agent.yaml': 'ff' },
      incoming: ['.incoming-def'],
      state: { attempt: 'x', phase: 'done', release: 'abc', previous: '', message: 'agent running', at: '2026-11-26T08:00:00Z' },
    });
    expect(parseProbe('uid=1000\n--- state\nnot json').state).toBeUndefined();
  });
});
