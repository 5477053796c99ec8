// The built agent runs where no Node.js is installed: a PATH without node, a working directory
// far from the checkout, and the native parts found beside the executable (the TCP-MD5 addon is
// loaded by a BGP speaker with a password peer, whose status the same executable then reads).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentManifest } from '../shared/api/agent-artifact.ts';
import { buildAgent } from './build-agent.ts';

let dir: string;
let outDir: string;
let manifest: AgentManifest;
let exe: string;
/** Only the tools the agent shells out to; no node, no npx. */
let env: NodeJS.ProcessEnv;
let speaker: ChildProcess | undefined;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gops-build-'));
  outDir = path.join(dir, 'agent');
  const started = Date.now();
  manifest = await buildAgent(outDir, { version: '9.8.7-test' });
  console.log(`built the agent in ${((Date.now() - started) / 1000).toFixed(1)} s: ${(manifest.files[0]!.size / 1e6).toFixed(1)} MB`);
  exe = path.join(outDir, manifest.executable);
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of ['ip', 'sh']) symlinkSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), path.join(bin, tool));
  env = { PATH: bin, HOME: dir };
}, 300_000);

afterAll(() => {
  speaker?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function agent(args: string[], extra: NodeJS.ProcessEnv = {}): string {
  return execFileSync(exe, args, { cwd: dir, env: { ...env, ...extra }, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

describe('npm run build:agent', () => {
  it('writes a manifest whose hashes match the files', () => {
    expect(manifest.version).toBe('9.8.7-test');
    expect(manifest.files.map((f) => f.path)).toEqual([
      'gingham-agent',
      'native/build/Release/gingham-route-writer',
      'native/build/Release/gingham-tunl0',
      'native/build/Release/tcp_md5.node',
    ]);
    for (const file of manifest.files) {
      expect(createHash('sha256').update(readFileSync(path.join(outDir, file.path))).digest('hex')).toBe(file.sha256);
    }
    expect(manifest.sha256).toBe(manifest.files[0]!.sha256);
    // The compressed copy the installer uploads where it can: the same bytes once unpacked.
    const gz = manifest.files[0]!.gzip!;
    const packed = readFileSync(path.join(outDir, gz.path));
    expect(createHash('sha256').update(packed).digest('hex')).toBe(gz.sha256);
    expect(createHash('sha256').update(gunzipSync(packed)).digest('hex')).toBe(manifest.sha256);
    // The cluster manifests the executable prints, kept for the installer (not uploaded).
    const kept = readFileSync(path.join(outDir, manifest.clusterManifests!.path), 'utf8');
    expect(createHash('sha256').update(kept).digest('hex')).toBe(manifest.clusterManifests!.sha256);
    expect(kept).toBe(agent(['manifests']));
    expect(kept).toMatch(/kind: ValidatingAdmissionPolicy/);
    expect(gz.size).toBeLessThan(manifest.files[0]!.size / 2);
    expect(JSON.parse(readFileSync(path.join(outDir, 'manifest.json'), 'utf8'))).toEqual(manifest);
  });

  it('runs with no node on PATH: --version and a subcommand that validates its input', () => {
    expect(() => execFileSync('sh', ['-c', 'command -v node'], { env })).toThrow();
    expect(agent(['--version']).trim()).toBe('9.8.7-test');
    const yaml = agent(['manifests', '--no-crds']);
    expect(yaml).toContain('kind: ServiceAccount');
    expect(yaml).toContain('name: gingham-agent');
    // A bad configuration is reported field by field, through zod and yaml inside the bundle.
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'nodeName: ""\n');
    let stderr = '';
    try {
      agent(['run', '--config', bad]);
    } catch (error) {
      stderr = String((error as { stderr: string }).stderr);
    }
    expect(stderr).toMatch(/nodeName/);
    expect(stderr).toMatch(/kubeconfig/);
  });

  it('loads its native addon from beside the executable: a BGP speaker with a TCP-MD5 peer answers status', async () => {
    const port = 20_000 + (process.pid % 20_000);
    const control = path.join(dir, 'bgp.sock');
    const config = path.join(dir, 'bgp.yaml');
    writeFileSync(config, `routerId: 127.0.0.1\nasn: 64512\nlisten: 127.0.0.1:${port}\npeers:\n  - address: 127.0.0.2\n    port: ${port}\n    password: gops-secret\n    passive: true\n`);
    speaker = spawn(exe, ['bgp', '--config', config, '--control', control], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    speaker.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!existsSync(control)) {
      if (speaker.exitCode !== null || Date.now() > deadline) throw new Error(`the speaker did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const status = JSON.parse(agent(['status', '--json', '--control', control])) as { peers: { address: string }[] };
    expect(status.peers.map((p) => p.address)).toEqual(['127.0.0.2']);
    expect(log).not.toMatch(/native addon/);
  });
});
