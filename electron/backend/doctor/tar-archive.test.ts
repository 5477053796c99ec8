import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tarGz } from './tar-archive.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'gtar-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tarGz', () => {
  it('writes an archive GNU tar lists and extracts byte for byte, long names included', () => {
    const long = `bundle-${'x'.repeat(60)}/nodes/${'worker-'.repeat(8)}1/${'ip-route-table-all-'.repeat(4)}.json`;
    const binary = Buffer.from(Array.from({ length: 1500 }, (_, i) => i % 256));
    const file = path.join(dir, 'a.tar.gz');
    writeFileSync(file, tarGz([{ path: 'b/index.html', content: '<p>ünïcode</p>\n' }, { path: long, content: binary }, { path: 'b/empty.txt', content: '' }], 1764750000));
    expect(execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).trim().split('\n')).toEqual(['b/index.html', long, 'b/empty.txt']);
    execFileSync('tar', ['-xzf', file, '-C', dir]);
    expect(readFileSync(path.join(dir, 'b/index.html'), 'utf8')).toBe('<p>ünïcode</p>\n');
    expect(readFileSync(path.join(dir, long)).equals(binary)).toBe(true);
    expect(execFileSync('tar', ['-tvzf', file], { encoding: 'utf8' })).toContain('2025-12-03');
  });

  it('refuses a name it cannot store rather than cutting it', () => {
    expect(() => tarGz([{ path: 'y'.repeat(120), content: 'x' }])).toThrow(/too long a name/);
  });
});
