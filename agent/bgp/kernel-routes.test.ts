// The lines the speaker feeds its route writer, checked with a stand-in writer that records them.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';

describe('kernel route lines', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'gbgp-writer-'));
  await writeFile(path.join(dir, 'gingham-route-writer'), `#!/bin/sh\necho "$@" > "${dir}/args.txt"\ncat > "${dir}/lines.txt"\n`);
  await chmod(path.join(dir, 'gingham-route-writer'), 0o755);
  process.env.GINGHAM_BGP_NATIVE_DIR = dir;
  const { KernelRoutes } = await import('./kernel-routes.ts');
  afterAll(async () => {
    delete process.env.GINGHAM_BGP_NATIVE_DIR;
    await rm(dir, { recursive: true, force: true });
  });

  it('writes adds and deletes as the writer reads them, once per change, across many buffers', async () => {
    const k = new KernelRoutes({ table: 'main', protocol: 72 }, pino({ level: 'silent' }));
    expect(k.native).toBe(true);
    k.set(0xc0a80140, 26, 0x0a000001);
    k.set(0xc0a80140, 26, 0x0a000001); // unchanged: no second line
    k.set(0, 0, 0xfffffffe);
    k.remove(0xc0a80140, 26);
    k.remove(0x01020300, 24); // never installed: nothing to do
    for (let i = 0; i < 5000; i++) k.set((0x10000000 + i * 256) >>> 0, 24, 0x0a000002);
    k.flush();
    await k.close();
    const lines = (await readFile(path.join(dir, 'lines.txt'), 'utf8')).split('\n');
    expect(lines.slice(0, 4)).toEqual(['A 192.168.1.64 26 10.0.0.1', 'A 0.0.0.0 0 255.255.255.254', 'D 192.168.1.64 26', 'A 16.0.0.0 24 10.0.0.2']);
    expect(lines[3 + 4999]).toBe('A 16.19.135.0 24 10.0.0.2');
    expect(lines).toHaveLength(3 + 5000 + 1);
    expect((await readFile(path.join(dir, 'args.txt'), 'utf8')).trim()).toBe('254 72');
  });
});
