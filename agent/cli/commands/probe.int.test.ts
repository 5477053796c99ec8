// `gingham-agent probe` from a pod's namespace: found by the pod's address among the named
// namespaces, a reachable HTTP server answers, an unserved port and an unroutable address fail
// with the reason.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeResult } from './probe.ts';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin.ts');
const netns = `gops-probe-${process.pid.toString(36)}`;
const podIp = '10.99.77.5';
let server: ChildProcess | undefined;

beforeAll(async () => {
  execFileSync('ip', ['netns', 'add', netns]);
  execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  execFileSync('ip', ['-n', netns, 'addr', 'add', `${podIp}/32`, 'dev', 'lo']);
  server = spawn('ip', ['netns', 'exec', netns, 'python3', '-m', 'http.server', '8080', '--bind', '127.0.0.1'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1500));
});

afterAll(() => {
  server?.kill();
  execFileSync('ip', ['netns', 'del', netns]);
});

describe('gingham-agent probe', () => {
  it("pings and GETs from the pod's namespace, with a reason for each failure", () => {
    const out = JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', bin, 'probe', '--from', podIp, '--to', '127.0.0.1,10.99.77.200', '--port', '8080', '--timeout', '1'], { encoding: 'utf8' }),
    ) as { netns: string; results: ProbeResult[] };
    expect(out.netns).toBe(`/var/run/netns/${netns}`);
    const [local, nowhere] = out.results;
    expect(local).toMatchObject({ to: '127.0.0.1', ping: { ok: true }, http: { ok: true, status: 200 } });
    expect(nowhere).toMatchObject({ to: '10.99.77.200', ping: { ok: false }, http: { ok: false } });
    expect(nowhere!.ping.error).toMatch(/unreachable/i);
  });

  it('says so when no namespace has the address', () => {
    let stderr = '';
    try {
      execFileSync(process.execPath, ['--import', 'tsx', bin, 'probe', '--from', '10.99.77.99', '--to', '127.0.0.1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      stderr = String((error as { stderr: string }).stderr);
    }
    expect(stderr).toMatch(/no network namespace .* has the address 10\.99\.77\.99/);
  });
});
