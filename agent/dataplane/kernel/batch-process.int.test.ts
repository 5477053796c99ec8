// The long-lived `ip -batch` reads a full route table as one JSON line of megabytes, which reaches
// the agent in 64 KiB chunks. Reading it must cost what one `ip -json` process and a JSON.parse
// cost, not grow with the square of the table (it did: 100k routes took seconds per pass).
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchProcess } from './batch-process.ts';

const ns = `gk-batch-${process.pid}`;
const ROUTES = 100_000;
const asRoot = process.getuid?.() === 0;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe.skipIf(!asRoot)('BatchProcess reading a large route table (needs root: a network namespace)', () => {
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'd0', 'up']);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'd1', 'up']);
    execFileSync('ip', ['-n', ns, 'address', 'add', '10.9.0.1/24', 'dev', 'd0']);
    const adds: string[] = [];
    for (let i = 0; i < ROUTES; i++) adds.push(`route add ${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24 via 10.9.0.2 dev d0 proto 71 onlink`);
    execFileSync('ip', ['-n', ns, '-batch', '-'], { input: adds.join('\n') + '\n' });
  }, 60_000);

  afterAll(() => {
    execFileSync('ip', ['netns', 'del', ns]);
  });

  it(`reads ${ROUTES} routes within twice the time of one ip -json process and JSON.parse`, async () => {
    const flags = ['-n', ns, '-N', '-json', '-details'];
    const batch = new BatchProcess('ip', flags);
    try {
      const through: number[] = [];
      const plain: number[] = [];
      for (let round = 0; round < 3; round++) {
        let started = performance.now();
        const [routes] = (await batch.read(['route show table main'])) as [unknown[]];
        through.push(performance.now() - started);
        expect(routes.length).toBe(ROUTES + 1); // and d0's subnet
        started = performance.now();
        const text = execFileSync('ip', [...flags, 'route', 'show', 'table', 'main'], { maxBuffer: 1 << 30, encoding: 'utf8' });
        expect((JSON.parse(text) as unknown[]).length).toBe(ROUTES + 1);
        plain.push(performance.now() - started);
      }
      console.log(`${ROUTES} routes: through the batch process ${median(through).toFixed(0)} ms, one ip process + JSON.parse ${median(plain).toFixed(0)} ms (medians of 3)`);
      expect(median(through)).toBeLessThan(2 * median(plain) + 50);
    } finally {
      batch.close();
    }
  }, 120_000);
});
