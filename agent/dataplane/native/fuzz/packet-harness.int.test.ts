// The user-space tunl0's packet work under AddressSanitizer and UBSan: the harness calls the very
// functions the root helper runs (segmentation, receive coalescing, checksum finishing,
// decapsulation with its cluster-host check) over a sweep of every edge MSS, payload length and
// header shape, then over seeded random inputs. Any read or write past a buffer, any undefined
// behaviour, or a segment that is not what the wire must carry fails the run.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const native = path.resolve(import.meta.dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'gingham-tunl0-fuzz-'));
const harness = path.join(dir, 'packet-harness');

beforeAll(() => {
  execFileSync('gcc', [
    '-std=gnu11', '-g', '-O1', '-fno-omit-frame-pointer',
    '-fsanitize=address,undefined', '-fno-sanitize-recover=all',
    '-Wall', '-Wextra', '-Werror',
    path.join(native, 'fuzz', 'packet-harness.c'), path.join(native, 'tunl0-packets.c'),
    '-o', harness,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(seed: string, cases: number): { status: number | null; out: string } {
  const result = spawnSync(harness, [seed, String(cases)], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', UBSAN_OPTIONS: 'print_stacktrace=1' },
  });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

describe('the tunnel helper packet functions under ASan/UBSan', () => {
  it('sweeps every edge MSS (1 to past 64 KiB, 1500 and 9001 MTUs) and header shape, then a fixed seeded corpus', () => {
    const { status, out } = run('1', 20_000);
    console.log(out.trim().split('\n').slice(-3).join('\n'));
    expect(out).not.toMatch(/AddressSanitizer|runtime error|LeakSanitizer/);
    expect(status, out.slice(-3000)).toBe(0);
    expect(out).toMatch(/^\d+ passed, 0 failed$/m);
  }, 120_000);

  it('a fresh random seed each run (printed, so that a failure can be replayed)', () => {
    const seed = String(Date.now());
    const { status, out } = run(seed, 10_000);
    expect(out, `seed ${seed}`).not.toMatch(/AddressSanitizer|runtime error|LeakSanitizer/);
    expect(status, `seed ${seed}: ${out.slice(-3000)}`).toBe(0);
  }, 120_000);
});
