// The node migration from the GUI on the mixed lab (topology mixed-calico: worker-2 and worker-3
// on calico-node): the Migration section, worker-2 to the Gingham agent, Plan, Run, each step
// seen live and the report (steps, pod kept, packets lost per pair); then worker-2 back to
// calico-node the same way. Screenshots in test-results/migration/: the plan, a step running, each
// report. The loss bound (1 s per pair) is the integration test's (migration-lab.int.test.ts); here
// the report must say Migrated and show every pair's count.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ensureCalicoNode } from '../lab/calico-node/build.ts';
import { useLab, type LabLease } from '../lab/testing/lab-fixture.ts';
import { topologyFileFor } from '../lab/topology/topology.ts';
import { openConsole, type ConsoleHarness } from './console-harness.ts';

let lab: LabLease;
let harness: ConsoleHarness;
let page: Page;
let dir: string;
let context: string;

beforeAll(async () => {
  await ensureCalicoNode((line) => console.log(`[calico-node] ${line}`));
  dir = mkdtempSync(path.join(tmpdir(), 'gmigration-e2e-'));
  const artifactDir = path.join(dir, 'agent');
  await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/build-agent.ts', '--out', artifactDir], { maxBuffer: 1 << 24 });
  lab = await useLab({ topologyFile: topologyFileFor('mixed-calico'), exclusive: true, fresh: true, waitMs: 1_800_000, progress: (line) => console.log(`lab: ${line}`) });
  const status = lab.status;
  context = (parse(readFileSync(status.kubeconfig!, 'utf8')) as { 'current-context': string })['current-context'];
  const configDir = path.join(dir, 'config');
  mkdirSync(configDir);
  copyFileSync(status.knownHosts!, path.join(configDir, 'known_hosts'));
  writeFileSync(path.join(configDir, 'nodes.json'), JSON.stringify({ nodes: status.nodes.map((n) => ({ id: `node-${n.name}`, name: n.name, host: n.address, user: 'root', identityFile: status.sshKey })) }));
  harness = await openConsole('migration', { configDir, clusters: { paths: () => [status.kubeconfig!] }, installer: { artifactDir } });
  page = harness.page;
}, 2_400_000);

afterAll(async () => {
  await harness?.close();
  await lab?.release();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 300_000);

const nav = (name: string) => page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name }).click();

async function migrateFromGui(to: 'the Gingham agent' | 'calico-node (back)', shot: string): Promise<void> {
  await nav('Migration');
  const form = page.getByRole('form', { name: 'Migrate a node' });
  await form.getByRole('combobox', { name: 'Node' }).selectOption('worker-2');
  await form.getByRole('radio', { name: to }).check();
  await form.getByRole('button', { name: 'Plan' }).click();
  const plan = page.getByLabel('Migration plan');
  await plan.waitFor({ timeout: 60_000 });
  await expect.poll(() => plan.textContent()).toContain('init script /etc/init.d/calico-node');
  await harness.screenshot(`${shot}-plan`, page, { fullPage: true });
  await form.getByRole('button', { name: 'Run' }).click();
  const report = page.getByLabel('Migration report');
  // A step seen running, live from migration.progress.
  await report.locator('tr[data-state="running"]').first().waitFor({ timeout: 120_000 });
  await harness.screenshot(`${shot}-running`, page, { fullPage: true });
  await page.locator('[aria-label="Migration report"]:not([data-state="running"])').waitFor({ timeout: 600_000 });
  await harness.screenshot(`${shot}-report`, page, { fullPage: true });
  expect(await report.getAttribute('data-state'), (await report.getByRole('status').textContent()) ?? '').toBe('migrated');
  await expect.poll(() => report.getByRole('status').textContent()).toMatch(/^Migrated in .*worker-2 runs/);
  const steps = report.getByRole('table', { name: /Migration of worker-2/ });
  expect(await steps.locator('tr[data-state="failed"]').count()).toBe(0);
  expect(await report.locator('tr[data-pod="pod-2"]').getAttribute('data-kept')).toBe('true');
  const loss = report.getByRole('table', { name: /Packets lost during the migration/ });
  expect(await loss.locator('tbody tr').count()).toBe(6);
}

// First run on the mixed lab 2026-12-08: both ways pass, 0 pings lost on the 6 pairs.
describe('the migration from the GUI', () => {
  it('moves worker-2 from calico-node to the Gingham agent and back, each shown step by step with its report', async () => {
    await nav('Clusters');
    await page.getByRole('button', { name: `Connect to ${context}` }).click();
    await page.getByRole('status').filter({ hasText: `Connected to ${context}` }).waitFor();
    await migrateFromGui('the Gingham agent', 'to-gingham');
    // The same node again is refused, with the reason.
    await page.getByRole('form', { name: 'Migrate a node' }).getByRole('button', { name: 'Plan' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 60_000 }).toMatch(/worker-2 runs the Gingham agent already/);
    await harness.screenshot('to-gingham-refused-again', page, { fullPage: true });
    await migrateFromGui('calico-node (back)', 'to-calico');
  }, 1_800_000);
});
