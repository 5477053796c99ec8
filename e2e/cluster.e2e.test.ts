// Clusters against a real kube-apiserver (the lab's control plane, without kubelets): KUBECONFIG
// with two files merged as kubectl merges them, an exec credential plugin found only on the login
// shell's PATH, the node list with addresses, and an expired credential explained.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginShellPath } from '../electron/backend/kube/login-shell-path.ts';
import { controlPlaneDown, controlPlaneUp, type ControlPlane } from '../lab/controlplane/controlplane.ts';
import { kubectl } from '../lab/controlplane/kubectl.ts';
import { openConsole, type ConsoleHarness } from './console-harness.ts';

let work: string;
let plane: ControlPlane;
let harness: ConsoleHarness;
let page: Page;

const worker = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'worker-1', labels: { 'node-role.kubernetes.io/worker': '' } },
  status: {
    addresses: [
      { type: 'InternalIP', address: '10.240.1.11' },
      { type: 'Hostname', address: 'worker-1' },
    ],
    conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ready', lastHeartbeatTime: new Date().toISOString(), lastTransitionTime: new Date().toISOString() }],
  },
};

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'gcon-cluster-'));
  plane = await controlPlaneUp({ stateDir: join(work, 'controlplane'), progress: () => undefined });
  const created = await kubectl(plane.kubeconfig, ['create', '-f', '-'], JSON.stringify(worker));
  if (created.code !== 0) throw new Error(`kubectl create node: ${created.stderr}`);
  // A kubelet reports status through the status subresource; so does this test.
  const patched = await kubectl(plane.kubeconfig, ['patch', 'node', 'worker-1', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: worker.status })]);
  if (patched.code !== 0) throw new Error(`kubectl patch node status: ${patched.stderr}`);

  // An exec credential plugin that hands out the admin's client certificate. It lives in a folder
  // that only the login shell's profile puts on PATH, as Homebrew or gcloud installs do.
  const pluginDir = join(work, 'plugins');
  mkdirSync(pluginDir);
  const pki = join(plane.stateDir, 'pki');
  writeFileSync(
    join(work, 'credential.json'),
    JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { clientCertificateData: readFileSync(join(pki, 'admin.crt'), 'utf8'), clientKeyData: readFileSync(join(pki, 'admin.key'), 'utf8') },
    }),
  );
  writeFileSync(join(pluginDir, 'gcon-credential'), `#!/bin/sh\ncat '${join(work, 'credential.json')}'\n`);
  chmodSync(join(pluginDir, 'gcon-credential'), 0o755);
  const home = join(work, 'home');
  mkdirSync(home);
  writeFileSync(join(home, '.bash_profile'), `export PATH="${pluginDir}:$PATH"\n`);

  // The second kubeconfig names the cluster `gingham` that only the first one defines: merging joins them.
  const extra = join(work, 'extra.kubeconfig');
  writeFileSync(
    extra,
    `apiVersion: v1
kind: Config
current-context: lab-exec
users:
- name: plugin-user
  user:
    exec: { apiVersion: client.authentication.k8s.io/v1, command: gcon-credential, interactiveMode: Never }
- name: stale
  user: { token: expired-or-revoked-token }
contexts:
- name: lab-exec
  context: { cluster: gingham, user: plugin-user }
- name: expired
  context: { cluster: gingham, user: stale }
`,
  );
  harness = await openConsole('cluster', {
    configDir: join(work, 'config'),
    clusters: {
      paths: () => [plane.kubeconfig, extra],
      timeoutMs: 5_000,
      // The user's login shell, with the profile above, and not this test process's PATH.
      loginPath: () => loginShellPath('/bin/bash', { HOME: home, PATH: '/usr/bin:/bin' }),
    },
  });
  page = harness.page;
}, 900_000);

afterAll(async () => {
  await harness?.close();
  if (plane) await controlPlaneDown(plane.stateDir, true);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('clusters from a real API server', () => {
  it('merges two kubeconfig files and lists every context, the first file setting the current one', async () => {
    const contexts = page.getByRole('table', { name: 'Kubeconfig contexts' });
    await contexts.getByRole('rowheader', { name: /^gingham-admin@gingham/ }).waitFor();
    const names = await contexts.getByRole('rowheader').allTextContents();
    expect(names).toEqual(['gingham-admin@gingham (current)', 'lab-exec', 'expired']);
  });

  it('connects through an exec plugin found on the login shell PATH and lists the nodes with addresses', async () => {
    const contexts = page.getByRole('table', { name: 'Kubeconfig contexts' });
    await contexts.getByRole('button', { name: 'Connect to lab-exec' }).click();
    const nodes = page.getByRole('table', { name: 'Nodes of lab-exec' });
    await nodes.waitFor({ timeout: 15_000 });
    const row = nodes.getByRole('row', { name: /worker-1/ });
    expect(await row.getByRole('cell').allTextContents()).toEqual(['10.240.1.11 (InternalIP), worker-1 (Hostname)', 'Ready', 'worker']);
    expect(await page.getByRole('status').filter({ hasText: 'Connected to lab-exec' }).textContent()).toMatch(/Kubernetes v1\.\d+\.\d+/);
    await harness.screenshot('1-connected-via-exec-plugin');
  });

  it('explains an expired credential instead of spinning', async () => {
    const started = Date.now();
    await page.getByRole('table', { name: 'Kubeconfig contexts' }).getByRole('button', { name: 'Connect to expired' }).click();
    const error = page.getByRole('alert', { name: 'Cannot connect to expired' });
    await error.waitFor({ timeout: 6_000 });
    expect(await error.textContent()).toMatch(/rejected your credentials \(HTTP 401\).*Log in again/);
    console.log(`expired credential explained after ${Date.now() - started} ms`);
    await harness.screenshot('2-expired-credential');
  });

  it("offers the connected cluster's nodes for SSH on the Nodes page", async () => {
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Nodes' }).click();
    await page.getByRole('table', { name: 'Nodes of lab-exec' }).getByRole('button', { name: 'Use worker-1 for SSH' }).click();
    const form = page.getByRole('form', { name: 'Add a node' });
    expect(await form.getByRole('textbox', { name: 'Host' }).inputValue()).toBe('10.240.1.11');
    expect(await form.getByRole('textbox', { name: 'Display name' }).inputValue()).toBe('worker-1');
    await harness.screenshot('3-nodes-from-cluster');
  });
});
