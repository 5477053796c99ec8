// The lines the speaker feeds its route writer, checked with a stand-in writer that records them.
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
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

  it('keeps order and next hops across queue chunks, flushed in pieces', async () => {
    const k = new KernelRoutes({ table: 100, protocol: 72 }, pino({ level: 'silent' }));
    const hops = [0x0a000001, 0x0a000002, 0xc0a80001];
    const expected: string[] = [];
    const n = 40_000; // more than two chunks of queued records
    for (let i = 0; i < n; i++) {
      const a = (0x20000000 + i * 256) >>> 0, hop = hops[i % 3]!;
      k.set(a, 24, hop);
      expected.push(`A ${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.0 24 ${hop >>> 24}.${(hop >>> 16) & 255}.${(hop >>> 8) & 255}.${hop & 255}`);
      if (i % 7 === 0) {
        k.remove(a, 24);
        expected.push(`D ${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.0 24`);
      }
      if (i % 10_000 === 0) k.flush();
    }
    k.set(0x08080800, 24, 0x01020304); // a next hop first seen after the queue emptied and refilled
    expected.push('A 8.8.8.0 24 1.2.3.4');
    await k.close();
    const lines = (await readFile(path.join(dir, 'lines.txt'), 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(expected.length);
    expect(lines).toEqual(expected);
    expect(k.size).toBe(n - Math.ceil(n / 7) + 1);
    expect((await readFile(path.join(dir, 'args.txt'), 'utf8')).trim()).toBe('100 72');
  });

  it('sweep removes the routes no longer wanted, and only those; removeAll the rest', async () => {
    const k = new KernelRoutes({ table: 'main', protocol: 72 }, pino({ level: 'silent' }));
    for (let i = 0; i < 6; i++) k.set((0xc0000000 + i * 256) >>> 0, 24, 0x0a000001);
    expect(k.sweep((address) => ((address >>> 8) & 255) % 2 === 0)).toBe(3);
    expect(k.size).toBe(3);
    expect(k.has(0xc0000200, 24)).toBe(true);
    expect(k.has(0xc0000100, 24)).toBe(false);
    k.removeAll();
    expect(k.size).toBe(0);
    await k.close();
    const lines = (await readFile(path.join(dir, 'lines.txt'), 'utf8')).trim().split('\n');
    // The table's order is its hash order: compare each step's removals as sets.
    expect(lines).toHaveLength(12);
    expect(lines.slice(6, 9).sort()).toEqual(['D 192.0.1.0 24', 'D 192.0.3.0 24', 'D 192.0.5.0 24']);
    expect(lines.slice(9).sort()).toEqual(['D 192.0.0.0 24', 'D 192.0.2.0 24', 'D 192.0.4.0 24']);
  });

  it('without the native writer, feeds `ip -force -batch -` the same changes as ip commands', async () => {
    // A stand-in `ip` first in PATH records what it is given; the writer is moved away meanwhile.
    const bin = path.join(dir, 'bin');
    await mkdir(bin, { recursive: true });
    await writeFile(path.join(bin, 'ip'), `#!/bin/sh\necho "$@" > "${dir}/ip-args.txt"\ncat > "${dir}/ip-lines.txt"\n`);
    await chmod(path.join(bin, 'ip'), 0o755);
    await rename(path.join(dir, 'gingham-route-writer'), path.join(dir, 'writer.away'));
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath}`;
    try {
      const k = new KernelRoutes({ table: 100, protocol: 72, device: 'lo' }, pino({ level: 'silent' }));
      expect(k.native).toBe(false);
      k.set(0xc0a80140, 26, 0x0a000001);
      k.remove(0xc0a80140, 26);
      for (let i = 0; i < 3000; i++) k.set((0x10000000 + i * 256) >>> 0, 24, 0x0a000002); // more than one 64 KB write
      await k.close();
      const lines = (await readFile(path.join(dir, 'ip-lines.txt'), 'utf8')).split('\n');
      expect(lines.slice(0, 3)).toEqual([
        'route replace 192.168.1.64/26 via 10.0.0.1 dev lo onlink proto 72 table 100',
        'route del 192.168.1.64/26 proto 72 table 100',
        'route replace 16.0.0.0/24 via 10.0.0.2 dev lo onlink proto 72 table 100',
      ]);
      expect(lines).toHaveLength(2 + 3000 + 1);
      expect(lines[2 + 2999]).toBe('route replace 16.11.183.0/24 via 10.0.0.2 dev lo onlink proto 72 table 100');
      expect((await readFile(path.join(dir, 'ip-args.txt'), 'utf8')).trim()).toBe('-force -batch -');
    } finally {
      process.env.PATH = savedPath;
      await rename(path.join(dir, 'writer.away'), path.join(dir, 'gingham-route-writer'));
    }
  });
});
