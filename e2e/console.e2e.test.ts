// The console in web mode, driven by Debian's Chromium as a user would drive it: every element is
// found by its role and accessible name. The node is a real sshd in a network namespace.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshdNode, type SshdNode } from '../lab/testing/sshd-node.ts';
import { openConsole, type ConsoleHarness } from './console-harness.ts';

let node: SshdNode;
let work: string;
let harness: ConsoleHarness;
let page: Page;
let broken: string;

function twoContextKubeconfig(unreachable: string): string {
  return `apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: lab
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
- name: far-away
  cluster:
    server: ${unreachable}
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: not-a-real-token
contexts:
- name: lab
  context: { cluster: lab, user: admin }
- name: unreachable
  context: { cluster: far-away, user: admin, namespace: kube-system }
`;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'gcon-e2e-'));
  node = await startSshdNode(10);
  const kubeconfig = join(work, 'kubeconfig');
  // Nothing listens on the node's port 6443: the API server is unreachable.
  writeFileSync(kubeconfig, twoContextKubeconfig(`https://${node.address}:6443`));
  // A second file on the KUBECONFIG list that is broken: named in an alert, the first still loads.
  broken = join(work, 'broken-kubeconfig');
  writeFileSync(broken, 'apiVersion: v1\nclusters: [ { name: oops\n');
  harness = await openConsole('console', {
    configDir: join(work, 'config'),
    ssh: { home: work, sshConfigPath: join(work, 'no-ssh-config'), agentSocket: '' },
    clusters: { paths: () => [kubeconfig, broken], timeoutMs: 4_000 },
  });
  page = harness.page;
}, 120_000);

afterAll(async () => {
  await harness?.close();
  await node?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the console in a browser', () => {
  it('is navigable by keyboard: the sidebar links take focus in order and open their section', async () => {
    const nav = page.getByRole('navigation', { name: 'Console sections' });
    const names = await nav.getByRole('link').allTextContents();
    expect(names).toEqual(['Clusters', 'Nodes', 'IP pools', 'Routing objects', 'Routes', 'BGP peers', 'Topology', 'Connectivity', 'Migration', 'Doctor', 'Measure', 'Captures', 'Terminal']);
    await nav.getByRole('link', { name: 'Clusters' }).focus();
    for (let i = 0; i < 4; i++) await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Routes');
    await page.keyboard.press('Enter');
    const heading = page.getByRole('heading', { level: 1, name: 'Routes' });
    await heading.waitFor();
    // Focus moves to the new section's heading, so a screen reader announces where the user is.
    expect(await page.evaluate('document.activeElement?.tagName + ":" + document.activeElement?.textContent')).toBe('H1:Routes');
    expect(await nav.getByRole('link', { name: 'Routes' }).getAttribute('aria-current')).toBe('page');
    // The Routes section asks which node's table to show.
    await page.getByRole('combobox', { name: 'Node' }).waitFor();
    await harness.screenshot('0-routes-section');
  });

  it('adds a node, shows its host key fingerprint, trusts it, and runs ip -br addr in a terminal on it', async () => {
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Nodes' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1, name: 'Nodes' }).isVisible()).toBe(true);

    const form = page.getByRole('form', { name: 'Add a node' });
    await form.getByRole('textbox', { name: 'Host' }).fill(node.address);
    await form.getByRole('textbox', { name: 'User' }).fill(node.user);
    await form.getByRole('textbox', { name: 'Private key file' }).fill(node.userKey);
    await form.getByRole('textbox', { name: 'Display name' }).fill('worker-1');
    await form.getByRole('button', { name: 'Add node' }).click();

    const table = page.getByRole('table', { name: 'SSH nodes' });
    await table.getByRole('rowheader', { name: 'worker-1' }).waitFor();
    await table.getByRole('button', { name: 'Open a terminal on worker-1' }).click();

    const dialog = page.getByRole('dialog', { name: 'Unknown host key for worker-1' });
    await dialog.waitFor();
    const shown = await dialog.getByRole('status', { name: 'Host key fingerprint' }).textContent();
    expect(shown).toBe(node.hostKeyFingerprint());
    await harness.screenshot('1-host-key-prompt');
    await dialog.getByRole('button', { name: 'Trust and connect' }).click();

    await expect.poll(() => page.getByRole('heading', { level: 1, name: 'Terminal' }).isVisible()).toBe(true);
    const terminal = page.getByRole('region', { name: 'Terminal on worker-1' });
    await terminal.getByRole('status').filter({ hasText: 'Shell open on worker-1.' }).waitFor();
    // The screen as a screen reader reads it: one list item per row (screen-reader mode is opt-in).
    await terminal.getByRole('checkbox', { name: 'Screen reader mode' }).check();
    await terminal.getByRole('textbox', { name: 'Terminal input' }).focus();
    await page.keyboard.type('ip -br addr\n');

    const rows = terminal.getByRole('list').getByRole('listitem');
    await rows.filter({ hasText: `${node.address}/30` }).first().waitFor({ timeout: 10_000 });
    const line = await rows.filter({ hasText: `${node.address}/30` }).first().textContent();
    expect(line).toMatch(new RegExp(`^gcon-n\\S*\\s+UP\\s+${node.address.replace(/\./g, '\\.')}/30`));
    await harness.screenshot('2-terminal-ip-br-addr');

    // A flood of output must not freeze the page: flow control paces the node to what xterm.js draws.
    // Screen-reader mode is off for it (it announces output and slows drawing about sixfold); the
    // end marker is then read from the screen once the mode is back on.
    await terminal.getByRole('checkbox', { name: 'Screen reader mode' }).uncheck();
    await terminal.getByRole('textbox', { name: 'Terminal input' }).focus();
    await page.keyboard.type("head -c 4000000 /dev/zero | tr '\\0' x; echo; echo FLOOD-$((6*7))\n");
    const started = Date.now();
    const worstStall = (await page.evaluate(`new Promise((resolve) => {
      let worst = 0, last = performance.now();
      const end = last + 1500;
      const tick = () => { const now = performance.now(); worst = Math.max(worst, now - last); last = now; now < end ? setTimeout(tick, 10) : resolve(worst); };
      setTimeout(tick, 10);
    })`)) as number;
    // While it floods, the user can still move around, and the shell survives the visit.
    const clickedAt = Date.now();
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Clusters' }).click();
    await page.getByRole('heading', { level: 1, name: 'Clusters' }).waitFor();
    const navigation = Date.now() - clickedAt;
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Terminal' }).click();
    await terminal.getByRole('checkbox', { name: 'Screen reader mode' }).check();
    await rows.filter({ hasText: 'FLOOD-42' }).first().waitFor({ timeout: 60_000 });
    console.log(`4 MB flood in the browser: done after ${Date.now() - started} ms; worst main-thread stall ${worstStall.toFixed(0)} ms; switching section took ${navigation} ms`);
    // Bounds generous enough for a busy two-core CI machine; a frozen page blows through them.
    expect(worstStall).toBeLessThan(2_000);
    expect(navigation).toBeLessThan(4_000);
    await harness.screenshot('2b-terminal-after-flood');
  });

  it('refuses the node after sshd restarts with a new host key, and shows the warning', async () => {
    await node.restartWithNewHostKey();
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Nodes' }).click();
    const table = page.getByRole('table', { name: 'SSH nodes' });
    // The restart cut the old session: the console says so rather than hiding it.
    await table.getByRole('alert').filter({ hasText: /closed the SSH connection|stopped answering/ }).waitFor({ timeout: 15_000 });
    await table.getByRole('button', { name: 'Connect to worker-1' }).click();

    const warning = table.getByRole('alert', { name: 'Connection to worker-1 failed' });
    await warning.waitFor();
    expect(await warning.textContent()).toMatch(/WARNING: the host key of .* has changed/);
    expect(await warning.textContent()).toContain(node.hostKeyFingerprint());
    await harness.screenshot('3-host-key-changed');
  });

  it('keeps a page without this launch\'s token out, and tells the user which URL to open', async () => {
    const stranger = await page.context().newPage();
    try {
      await stranger.goto(`${harness.server.origin}/#token=from-an-earlier-launch`);
      const banner = stranger.getByRole('alert').filter({ hasText: 'did not let this page in' }).first();
      await banner.waitFor({ timeout: 10_000 });
      await stranger.goto('about:blank');
      await stranger.goto(`${harness.server.origin}/`);
      // sessionStorage is per tab: this tab still holds the wrong token, so it is refused again.
      await stranger.getByRole('alert').first().waitFor();
      await harness.screenshot('5-refused-token', stranger);
    } finally {
      await stranger.close();
    }
  });

  it('lists both contexts of a kubeconfig and explains an unreachable server within seconds', async () => {
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Clusters' }).click();
    const contexts = page.getByRole('table', { name: 'Kubeconfig contexts' });
    await contexts.getByRole('rowheader', { name: /^lab/ }).waitFor();
    await contexts.getByRole('rowheader', { name: 'unreachable' }).waitFor();
    expect(await contexts.getByRole('row').count()).toBe(3); // header + two contexts
    const skipped = page.getByRole('alert').filter({ hasText: 'Skipped a kubeconfig file' });
    expect((await skipped.textContent())?.startsWith(`Skipped a kubeconfig file: ${broken}: not valid YAML`)).toBe(true);

    const started = Date.now();
    await contexts.getByRole('button', { name: 'Connect to unreachable' }).click();
    const error = page.getByRole('alert', { name: 'Cannot connect to unreachable' });
    await error.waitFor({ timeout: 6_000 });
    const elapsed = Date.now() - started;
    expect(await error.textContent()).toMatch(/connection refused|did not answer|no route/i);
    expect(elapsed).toBeLessThan(6_000);
    console.log(`unreachable context explained after ${elapsed} ms`);
    await harness.screenshot('4-unreachable-context');
  });
});
