// The Routing objects page against a real kube-apiserver with Calico's own CRDs, in Debian's
// Chromium: a BGPPeer typed with a typo and a wrong type is named field by field from the live CRD
// before anything is sent; Apply stays off until a dry run of that very text; the dry run shows
// the stored spec beside what the server would store (its defaults included), stores nothing, and
// Apply then stores it. Screenshots in test-results/routing-objects/.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCalicoTestCluster, type TestCluster } from '../lab/testing/test-cluster.ts';
import { openConsole, type ConsoleHarness } from './console-harness.ts';

let cluster: TestCluster;
let harness: ConsoleHarness;
let page: Page;
let configDir: string;
const context = 'gingham-admin@gingham';

beforeAll(async () => {
  cluster = await startCalicoTestCluster();
  await cluster.apply([{ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { asNumber: 64512, nodeToNodeMeshEnabled: true } }]);
  configDir = mkdtempSync(join(tmpdir(), 'grouting-e2e-'));
  harness = await openConsole('routing-objects', { configDir, clusters: { paths: () => [cluster.plane.kubeconfig] } });
  page = harness.page;
  await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Clusters' }).click();
  await page.getByRole('button', { name: `Connect to ${context}` }).click();
  await page.getByRole('status').filter({ hasText: `Connected to ${context}` }).waitFor();
  await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Routing objects' }).click();
}, 900_000);

afterAll(async () => {
  await harness?.close();
  await cluster?.down();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

const kubectlJson = async (args: string[]) => JSON.parse(await cluster.kubectl([...args, '-o', 'json'])) as { items: unknown[] };

describe('the Routing objects page', () => {
  it('names a typo and a wrong type from the live CRD as they are typed, and keeps Apply off', async () => {
    await page.getByRole('tab', { name: 'BGPPeer' }).click();
    await page.getByRole('button', { name: 'New BGPPeer' }).click();
    const form = page.getByRole('form', { name: 'BGPPeer spec' });
    await form.getByRole('textbox', { name: 'Name' }).fill('tor');
    await form.getByRole('textbox', { name: 'spec (YAML)' }).fill('peerIp: 10.240.1.1\nasNumber: sixty-four\n');
    const check = form.getByLabel('Schema check');
    await check.getByText('spec.peerIp').waitFor();
    await check.getByText(/spec\.asNumber.*must be integer/).waitFor();
    expect(await check.getByText(/not a field of this kind \(known here: .*peerIP/).count()).toBe(1);
    expect(await form.getByRole('button', { name: 'Dry run' }).isDisabled()).toBe(true);
    expect(await form.getByRole('button', { name: 'Apply' }).isDisabled()).toBe(true);
    await harness.screenshot('1-bgppeer-schema-issues');
  }, 60_000);

  it('dry-runs the corrected peer (nothing stored), then applies exactly that', async () => {
    const form = page.getByRole('form', { name: 'BGPPeer spec' });
    await form.getByRole('textbox', { name: 'spec (YAML)' }).fill('peerIP: 10.240.1.1\nasNumber: 64513\n');
    await form.getByLabel('Schema check').getByText("Matches the cluster's CRD").waitFor();
    await form.getByRole('button', { name: 'Dry run' }).click();
    const diff = page.getByLabel('What the API server would store');
    await diff.locator('tr[data-field="asNumber"]').waitFor();
    expect(await diff.locator('tr[data-field="peerIP"] td').allTextContents()).toEqual(['spec.peerIP', '(not set)', '"10.240.1.1"']);
    expect((await kubectlJson(['get', 'bgppeers.crd.projectcalico.org'])).items).toHaveLength(0);
    await diff.scrollIntoViewIfNeeded();
    await harness.screenshot('2-bgppeer-dry-run');
    await form.getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('status').filter({ hasText: 'BGPPeer tor applied' }).waitFor();
    expect((await kubectlJson(['get', 'bgppeers.crd.projectcalico.org'])).items).toHaveLength(1);
  }, 60_000);

  it("a BGPConfiguration edit: the diff shows the stored value beside the server's, and a changed text needs a new dry run", async () => {
    await page.getByRole('tab', { name: 'BGPConfiguration' }).click();
    await page.getByRole('button', { name: 'Edit default' }).click();
    const form = page.getByRole('form', { name: 'BGPConfiguration spec' });
    const spec = form.getByRole('textbox', { name: 'spec (YAML)' });
    await spec.fill((await spec.inputValue()).replace('nodeToNodeMeshEnabled: true', 'nodeToNodeMeshEnabled: false'));
    await form.getByLabel('Schema check').getByText("Matches the cluster's CRD").waitFor();
    await form.getByRole('button', { name: 'Dry run' }).click();
    const row = page.getByLabel('What the API server would store').locator('tr[data-field="nodeToNodeMeshEnabled"] td');
    await row.first().waitFor();
    expect(await row.allTextContents()).toEqual(['spec.nodeToNodeMeshEnabled', 'true', 'false']);
    await row.first().scrollIntoViewIfNeeded();
    await harness.screenshot('3-bgpconfiguration-dry-run');
    await spec.fill((await spec.inputValue()).replace('asNumber: 64512', 'asNumber: 64600'));
    expect(await form.getByRole('button', { name: 'Apply' }).isDisabled()).toBe(true);
  }, 60_000);
});
