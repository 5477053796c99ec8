// Property: whatever a user types in the Add node form (host, name, user, port, key file) and
// whatever the console's node list file holds (hand-edited, truncated, another program's), the
// console neither crashes nor loses nodes: a node is added and survives a restart, or the request
// is refused naming the field and what is allowed; a node list it cannot read is refused naming the
// file, the field and what to do, and is left as it was.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createDispatcher } from '../../../shared/api/dispatcher.ts';
import type { RequestHandlers } from '../../../shared/api/console-contract.ts';
import { NodeStore } from './node-store.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'gnodeprop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const text = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('', ' ', 'worker-1', '10.240.1.11', 'root@worker-1', 'a b', '::1', 'x'.repeat(300), '~/.ssh/id_ed25519', 'é', '../../etc/passwd'));
const fields = fc.record(
  { host: text, name: text, user: text, port: fc.oneof(fc.integer({ min: -5, max: 70_000 }), fc.constant(22), fc.double()), identityFile: text },
  { requiredKeys: [] },
);

describe('nodes typed in the Add node form, any fields', () => {
  it('are added and survive a restart, or refused naming the field', async () => {
    await fc.assert(
      fc.asyncProperty(fields, async (params) => {
        const file = path.join(dir, `nodes-${n++}.json`);
        const store = new NodeStore(file);
        const dispatcher = createDispatcher({ 'nodes.add': async (f: Parameters<NodeStore['add']>[0]) => store.add(f), 'nodes.list': async () => ({ nodes: store.list() }) } as unknown as RequestHandlers, {} as never);
        const outcome = await dispatcher.request('nodes.add', params);
        if (outcome.ok) {
          expect(new NodeStore(file).list()).toEqual([outcome.result]);
        } else {
          expect(outcome.error.code).toBe('invalid-request');
          expect(outcome.error.message).toMatch(/^Invalid nodes\.add request: (host|name|user|port|identityFile): /);
          expect(outcome.error.message).not.toMatch(/Invalid input|expected \w+, received|\[object Object\]/);
          expect(new NodeStore(file).list()).toEqual([]);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("the console's node list file, any content", () => {
  it('loads, or is refused naming the file and what to do, and is left as it was', () => {
    const node = { id: 'a', name: 'worker-1', host: '10.240.1.11', user: 'root' };
    const content = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.record({ key: fc.constantFrom('id', 'name', 'host', 'user', 'port', 'identityFile'), value: fc.jsonValue({ maxDepth: 1 }) }).map(({ key, value }) => JSON.stringify({ nodes: [{ ...node, [key]: value }] })),
      fc.constant(JSON.stringify({ nodes: [node] }).slice(0, 30)),
    );
    fc.assert(
      fc.property(content, (body) => {
        const file = path.join(dir, `list-${n++}.json`);
        writeFileSync(file, body);
        try {
          new NodeStore(file).list();
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
          expect((error as Error).message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `));
          expect((error as Error).message).toMatch(/Fix that, or move the file aside to start afresh/);
          expect((error as Error).message).not.toMatch(/"code":|Invalid input|expected \w+, received|\[object Object\]/);
          expect(readFileSync(file, 'utf8')).toBe(body);
        }
      }),
      { numRuns: 400 },
    );
  });
});
