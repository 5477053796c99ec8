// Property: no kubeconfig file a user has crashes the console's loader. Any text, and any mutation
// of a valid file (a field set to any value, removed, or an unknown one added), either loads or is
// reported as that file's error, naming the file and what is wrong; the other files still load.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadKubeconfig } from './kubeconfig.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'gkubeprop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const good = path.join(dir, 'good');
writeFileSync(good, stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'g', cluster: { server: 'https://127.0.0.1:1' } }], users: [{ name: 'g', user: { token: 't' } }], contexts: [{ name: 'good', context: { cluster: 'g', user: 'g' } }] }));

const valid = {
  apiVersion: 'v1',
  kind: 'Config',
  'current-context': 'lab',
  clusters: [{ name: 'lab', cluster: { server: 'https://10.240.1.10:6443', 'certificate-authority-data': 'AAAA' } }],
  users: [{ name: 'admin', user: { token: 'abc' } }],
  contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'admin', namespace: 'default' } }],
};
const fields = ['apiVersion', 'kind', 'current-context', 'clusters', 'clusters.0', 'clusters.0.name', 'clusters.0.cluster', 'clusters.0.cluster.server', 'users', 'users.0', 'users.0.name', 'users.0.user', 'contexts', 'contexts.0', 'contexts.0.name', 'contexts.0.context', 'contexts.0.context.cluster', 'contexts.0.context.user', 'contexts.0.context.namespace'];

function mutate(at: string, value: unknown, remove: boolean): unknown {
  const copy = structuredClone(valid) as Record<string, unknown>;
  const parts = at.split('.');
  let parent = copy as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) parent = parent[part] as Record<string, unknown>;
  if (remove) delete parent[parts.at(-1)!];
  else parent[parts.at(-1)!] = value;
  return copy;
}

let n = 0;
function check(text: string): void {
  const file = path.join(dir, `k${n++}`);
  writeFileSync(file, text);
  const loaded = loadKubeconfig([file, good]);
  const source = loaded.sources[0]!;
  expect(['loaded', 'error']).toContain(source.state);
  if (source.state === 'error') {
    expect(source.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: \\S`));
    expect(source.message).not.toMatch(/\[object Object\]|undefined$/);
  }
  // The good file's context is there whatever the first file holds (unless the first defines the same name).
  expect(loaded.contexts.map((c) => c.name)).toContain('good');
  for (const context of loaded.contexts) {
    expect(typeof context.name).toBe('string');
    expect(typeof context.cluster).toBe('string');
    expect(typeof context.user).toBe('string');
  }
  expect(loaded.currentContext === undefined || typeof loaded.currentContext === 'string').toBe(true);
}

describe('kubeconfig loader, any file', () => {
  it('any mutation of a valid file loads or is that file’s error, and the other file still loads', () => {
    const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('good', 'lab', '', 'not a url', 'https://[::1', 12));
    fc.assert(fc.property(fc.constantFrom(...fields), value, fc.boolean(), (at, v, remove) => check(stringify(mutate(at, v, remove)))), { numRuns: 500 });
  });

  it('any text loads or is that file’s error', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (text) => check(text)), { numRuns: 300 });
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), (v) => check(stringify(v))), { numRuns: 300 });
  });
});
