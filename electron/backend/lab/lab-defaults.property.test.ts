// Property: whatever the lab status file that `npm start` hands the backend holds (truncated,
// edited, another version's), the console starts: the lab's defaults, none, or an error that names
// the file and says to run `npm start` again; never a raw JSON or zod error.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { labDefaultsFromEnv, labStatusEnv } from './lab-defaults.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'glabprop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const status = { up: true, kubeconfig: '/nonexistent/admin.kubeconfig', sshKey: '/k', knownHosts: '/kh', nodes: [{ name: 'worker-1', address: '10.240.1.11' }], pods: [] };
let n = 0;

describe('the lab status file, any content', () => {
  it('gives the lab, no lab, or an error naming the file and what to do', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.record({ key: fc.constantFrom('up', 'kubeconfig', 'sshKey', 'knownHosts', 'nodes'), value: fc.jsonValue({ maxDepth: 2 }) }).map(({ key, value }) => JSON.stringify({ ...status, [key]: value })),
      fc.nat({ max: 120 }).map((cut) => JSON.stringify(status).slice(0, cut)),
    );
    fc.assert(
      fc.property(text, (body) => {
        const file = path.join(dir, `s${n++}.json`);
        writeFileSync(file, body);
        try {
          const lab = labDefaultsFromEnv({ [labStatusEnv]: file });
          if (lab) expect(lab.nodes.every((node) => typeof node.host === 'string' && node.id.startsWith('lab-'))).toBe(true);
        } catch (error) {
          expect((error as Error).message).toMatch(/[Rr]un `npm start` again\.$/);
          expect((error as Error).message).toContain(file);
          expect((error as Error).message).not.toMatch(/Invalid input|expected \w+, received|\[object Object\]/);
        }
      }),
      { numRuns: 400 },
    );
  });
});
