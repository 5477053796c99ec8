import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kubeconfigPaths, loadKubeconfig } from './kubeconfig.ts';

const dir = mkdtempSync(join(tmpdir(), 'gcon-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

const first = file(
  'a/config',
  `apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: shared
  cluster: { server: 'https://first.example:6443', certificate-authority: ca.crt }
users:
- name: alice
  user: { client-certificate: certs/alice.crt, client-key: certs/alice.key }
contexts:
- name: dev
  context: { cluster: shared, user: alice, namespace: team-a }
- name: both
  context: { cluster: shared, user: alice }
`,
);
const second = file(
  'b/config',
  `apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: shared
  cluster: { server: 'https://second.example:6443' }
- name: prod
  cluster: { server: 'https://prod.example:6443' }
users:
- name: bob
  user: { token: abc }
contexts:
- name: prod
  context: { cluster: prod, user: bob }
- name: both
  context: { cluster: prod, user: bob }
`,
);

describe('kubeconfigPaths', () => {
  it('uses every file named in KUBECONFIG, in order, once each', () => {
    expect(kubeconfigPaths({ KUBECONFIG: [first, '', second, first].join(delimiter) }, '/home/u')).toEqual([first, second]);
  });
  it('falls back to ~/.kube/config', () => {
    expect(kubeconfigPaths({}, '/home/u')).toEqual(['/home/u/.kube/config']);
  });
});

describe('loadKubeconfig, merged as kubectl merges', () => {
  const merged = loadKubeconfig([first, second]);

  it('lists the contexts of every file', () => {
    expect(merged.contexts.map((c) => c.name)).toEqual(['dev', 'both', 'prod']);
  });

  it('lets the first file to define a name win, for contexts and clusters alike', () => {
    const both = merged.contexts.find((c) => c.name === 'both');
    expect(both).toMatchObject({ cluster: 'shared', user: 'alice', server: 'https://first.example:6443', source: first });
  });

  it('takes current-context from the first file that sets it', () => {
    expect(merged.currentContext).toBe('dev');
  });

  it('resolves relative certificate paths against the file that names them', () => {
    expect(merged.config.getCluster('shared')?.caFile).toBe(join(dir, 'a', 'ca.crt'));
    expect(merged.config.getUser('alice')?.certFile).toBe(join(dir, 'a', 'certs', 'alice.crt'));
  });

  it('keeps the namespace of a context', () => {
    expect(merged.contexts[0]).toMatchObject({ name: 'dev', namespace: 'team-a' });
  });
});

describe('loadKubeconfig, files that cannot be used', () => {
  it('skips a missing file as kubectl does, and says so', () => {
    const result = loadKubeconfig([join(dir, 'nope'), second]);
    expect(result.sources[0]).toEqual({ path: join(dir, 'nope'), state: 'missing' });
    expect(result.contexts.map((c) => c.name)).toEqual(['prod', 'both']);
  });

  it('reports a file that is not YAML by name, and still loads the others', () => {
    const broken = file('broken', 'clusters: [\n  - name: x\n  cluster: {');
    const result = loadKubeconfig([broken, second]);
    expect(result.sources[0]?.state).toBe('error');
    expect(result.sources[0]?.message).toMatch(new RegExp(`^${broken}: not valid YAML`));
    expect(result.contexts).toHaveLength(2);
  });

  it('reports a directory given as a kubeconfig', () => {
    const result = loadKubeconfig([dir]);
    expect(result.sources[0]).toMatchObject({ state: 'error', message: `${dir}: this is a directory, not a kubeconfig file` });
  });

  it('reports a context whose cluster entry lacks a server', () => {
    const bad = file('no-server', 'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {}\ncontexts: []\nusers: []\n');
    expect(loadKubeconfig([bad]).sources[0]?.state).toBe('error');
  });
});
