// No Electron binary runs on the test machines, so this pins down what Electron needs of the build:
// an ESM main process that finds the renderer and the preload beside it, and a preload that is one
// CommonJS file requiring nothing but electron (a sandboxed preload can require nothing else).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildElectron } from './build-electron.ts';

const out = mkdtempSync(join(tmpdir(), 'gcon-electron-build-'));
beforeAll(() => buildElectron(out), 120_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the Electron build', () => {
  it('makes an ESM main process that imports electron and leaves other packages to node_modules', () => {
    const main = readFileSync(join(out, 'main', 'main.js'), 'utf8');
    expect(main).toMatch(/from "electron"/);
    expect(main).toMatch(/from "ssh2"/);
    expect(main).not.toMatch(/\brequire\(/);
    // main.ts finds its neighbours by these relative paths.
    expect(main).toContain('"../renderer"');
    expect(main).toContain('"../preload/preload.cjs"');
    // And the agent build the installer uploads, in a checkout (npm run build:agent's out/agent).
    expect(main).toContain('"../agent"');
  });

  it('packages the agent build as a resource outside the asar archive, and the app files without it', () => {
    const config = parse(readFileSync(new URL('../electron-builder.yml', import.meta.url), 'utf8')) as { files: string[]; extraResources: { from: string; to: string }[] };
    expect(config.extraResources).toContainEqual({ from: 'out/agent', to: 'agent' });
    expect(config.files.filter((f) => f.startsWith('out/')).sort()).toEqual(['out/main/**', 'out/preload/**', 'out/renderer/**']);
  });

  it('makes a preload that requires only electron', () => {
    const preload = readFileSync(join(out, 'preload', 'preload.cjs'), 'utf8');
    const required = [...preload.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(new Set(required)).toEqual(new Set(['electron']));
    expect(preload).toContain('exposeInMainWorld');
  });

  it('makes a renderer with no inline script, as the CSP demands', () => {
    const html = readFileSync(join(out, 'renderer', 'index.html'), 'utf8');
    expect(html).toMatch(/<script type="module" crossorigin src="\.\/assets\/[^"]+\.js"><\/script>/);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(existsSync(join(out, 'renderer', 'assets'))).toBe(true);
  });
});
