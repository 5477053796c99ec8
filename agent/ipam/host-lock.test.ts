// The node's IPAM lock: critical sections never overlap, whether the writers are in one process
// (the agent) or in several (CNI calls a runtime makes in parallel), and a writer that dies
// releases it.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { withHostLock } from './host-lock.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'gingham-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const here = path.dirname(fileURLToPath(import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Span = [number, number];
const overlaps = (spans: Span[]) => {
  const sorted = [...spans].sort((a, b) => a[0] - b[0]);
  return sorted.some((span, i) => i > 0 && span[0] < sorted[i - 1]![1]);
};

/** Another process that holds the lock for `holdMs` and prints when it held it. */
function otherProcess(file: string, holdMs: number): Promise<Span> {
  const script = `
    import { withHostLock } from ${JSON.stringify(path.join(here, 'host-lock.ts'))};
    const span = await withHostLock(${JSON.stringify(file)}, async () => {
      const start = Date.now();
      await new Promise((r) => setTimeout(r, ${holdMs}));
      return [start, Date.now()];
    });
    console.log(JSON.stringify(span));`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Span);
    });
  });
}

describe('the node’s IPAM lock', () => {
  it('serialises critical sections in one process', async () => {
    const file = path.join(dir, 'one.lock');
    const spans = await Promise.all(
      Array.from({ length: 4 }, () =>
        withHostLock(file, async () => {
          const start = Date.now();
          await sleep(50);
          return [start, Date.now()] as Span;
        }),
      ),
    );
    expect(overlaps(spans)).toBe(false);
  });

  it('serialises critical sections of separate processes', async () => {
    const file = path.join(dir, 'many.lock');
    const spans = await Promise.all([otherProcess(file, 400), otherProcess(file, 400), otherProcess(file, 400)]);
    expect(overlaps(spans), JSON.stringify(spans)).toBe(false);
  }, 90_000);

  it('is released when the process holding it dies', async () => {
    const file = path.join(dir, 'dies.lock');
    // flock(1) holding the lock until it is killed (with its command, one process group): a writer that crashed mid-way.
    const holder = spawn('flock', ['-x', file, 'sleep', '30'], { stdio: 'ignore', detached: true });
    await sleep(300);
    const waited = withHostLock(file, async () => Date.now());
    await sleep(300);
    const killedAt = Date.now();
    process.kill(-holder.pid!, 'SIGKILL');
    expect(await waited).toBeGreaterThanOrEqual(killedAt);
  }, 30_000);

  it('gives up after its timeout with a message that says who holds it', async () => {
    const file = path.join(dir, 'busy.lock');
    const holder = spawn('flock', ['-x', file, 'sleep', '30'], { stdio: 'ignore', detached: true });
    await sleep(300);
    await expect(withHostLock(file, async () => 1, 1000)).rejects.toThrow(/another IPAM operation on this node held .*busy\.lock for 1 s/);
    process.kill(-holder.pid!, 'SIGKILL');
  }, 30_000);
});
