// What the speaker feeds its route writer, checked with a stand-in writer that records it: binary
// records, read back here as `A prefix len next-hop` / `D prefix len` lines.
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';

const dotted = (a: number) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;

/** Decodes the writer's input as route_writer.c does (8-byte records, next hops defined in the stream). */
async function writerLines(file: string): Promise<string[]> {
  const bytes = await readFile(file);
  expect(bytes.length % 8).toBe(0);
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const hops = new Map<number, number>();
  const lines: string[] = [];
  for (let i = 0; i < words.length; i += 2) {
    const address = words[i]!, word = words[i + 1]!, length = (word >>> 25) & 63, index = word & ((1 << 25) - 1);
    if (length === 63) hops.set(index, address);
    else if (word & 0x80000000) lines.push(`D ${dotted(address)} ${length}`);
    else {
      expect(hops.has(index), `next hop ${index} defined before use`).toBe(true);
      lines.push(`A ${dotted(address)} ${length} ${dotted(hops.get(index)!)}`);
    }
  }
  return lines;
}

describe('kernel route records', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'gbgp-writer-'));
  await writeFile(path.join(dir, 'gingham-route-writer'), `#!/bin/sh\necho "$@" > "${dir}/args.txt"\ncat > "${dir}/lines.txt"\n`);
  await chmod(path.join(dir, 'gingham-route-writer'), 0o755);
  process.env.GINGHAM_BGP_NATIVE_DIR = dir;
  const { KernelRoutes } = await import('./kernel-routes.ts');
  afterAll(async () => {
    delete process.env.GINGHAM_BGP_NATIVE_DIR;
    await rm(dir, { recursive: true, force: true });
  });

  it('writes adds and deletes as the writer reads them, in order, across many buffers', async () => {
    const k = new KernelRoutes({ table: 'main', protocol: 72 }, pino({ level: 'silent' }));
    expect(k.native).toBe(true);
    k.set(0xc0a80140, 26, 0x0a000001);
    k.set(0, 0, 0xfffffffe);
    k.remove(0xc0a80140, 26);
    for (let i = 0; i < 50_000; i++) k.set((0x10000000 + i * 256) >>> 0, 24, 0x0a000002);
    k.flush();
    await k.close();
    const lines = await writerLines(path.join(dir, 'lines.txt'));
    expect(lines.slice(0, 4)).toEqual(['A 192.168.1.64 26 10.0.0.1', 'A 0.0.0.0 0 255.255.255.254', 'D 192.168.1.64 26', 'A 16.0.0.0 24 10.0.0.2']);
    expect(lines[3 + 49_999]).toBe('A 16.195.79.0 24 10.0.0.2');
    expect(lines).toHaveLength(3 + 50_000);
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
    const lines = await writerLines(path.join(dir, 'lines.txt'));
    expect(lines).toHaveLength(expected.length);
    expect(lines).toEqual(expected);
    expect((await readFile(path.join(dir, 'args.txt'), 'utf8')).trim()).toBe('100 72');
  });

  it('sweep lists our routes in the kernel and removes those no longer wanted; removeAll removes every one', async () => {
    // A stand-in `ip` lists six routes of protocol 72 (one a default route, one a /32) and records how it was asked.
    const bin = path.join(dir, 'bin-sweep');
    await mkdir(bin, { recursive: true });
    const listing = ['192.0.0.0/24 via 10.0.0.1 dev eth0', '192.0.1.0/24 via 10.0.0.1 dev eth0', '192.0.2.0/24 via 10.0.0.1 dev eth0', 'default via 10.0.0.1 dev eth0', '192.0.4.7 via 10.0.0.1 dev eth0', '192.0.5.0/24 via 10.0.0.1 dev eth0'];
    await writeFile(path.join(bin, 'ip'), `#!/bin/sh\necho "$@" > "${dir}/ip-show-args.txt"\nprintf '${listing.join('\\n')}\\n'\n`);
    await chmod(path.join(bin, 'ip'), 0o755);
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath}`;
    try {
      const k = new KernelRoutes({ table: 'main', protocol: 72 }, pino({ level: 'silent' }));
      expect(await k.adoptExisting()).toBe(6);
      expect((await readFile(path.join(dir, 'ip-show-args.txt'), 'utf8')).trim()).toBe('-4 route show proto 72 table main');
      const asked: string[] = [];
      expect(await k.sweep((address, length) => { asked.push(`${dotted(address)}/${length}`); return ((address >>> 8) & 255) % 2 === 0 && length !== 0; })).toBe(3);
      expect(asked).toEqual(['192.0.0.0/24', '192.0.1.0/24', '192.0.2.0/24', '0.0.0.0/0', '192.0.4.7/32', '192.0.5.0/24']);
      await k.close();
      expect(await writerLines(path.join(dir, 'lines.txt'))).toEqual(['D 192.0.1.0 24', 'D 0.0.0.0 0', 'D 192.0.5.0 24']);
      // removeAll drops what is still queued (the writer finishes what it has first) and removes everything listed.
      k.set(0x0b000000, 24, 0x0a000001);
      expect(await k.removeAll()).toBe(6);
      await k.close();
      expect(await writerLines(path.join(dir, 'lines.txt'))).toEqual(listing.map((l) => l.split(' ')[0]!).map((d) => d === 'default' ? 'D 0.0.0.0 0' : d.includes('/') ? `D ${d.replace('/', ' ')}` : `D ${d} 32`));
    } finally {
      process.env.PATH = savedPath;
    }
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
      // Never `route replace` (it would take the place of a connected or dataplane route): our
      // own route is deleted first, then added, which fails on a route of another protocol.
      expect(lines.slice(0, 5)).toEqual([
        'route del 192.168.1.64/26 proto 72 table 100',
        'route add 192.168.1.64/26 via 10.0.0.1 dev lo onlink proto 72 table 100',
        'route del 192.168.1.64/26 proto 72 table 100',
        'route del 16.0.0.0/24 proto 72 table 100',
        'route add 16.0.0.0/24 via 10.0.0.2 dev lo onlink proto 72 table 100',
      ]);
      expect(lines).toHaveLength(3 + 2 * 3000 + 1);
      expect(lines[3 + 2 * 2999 + 1]).toBe('route add 16.11.183.0/24 via 10.0.0.2 dev lo onlink proto 72 table 100');
      expect(lines.some((l) => l.startsWith('route replace'))).toBe(false);
      expect((await readFile(path.join(dir, 'ip-args.txt'), 'utf8')).trim()).toBe('-force -batch -');
    } finally {
      process.env.PATH = savedPath;
      await rename(path.join(dir, 'writer.away'), path.join(dir, 'gingham-route-writer'));
    }
  });
});
