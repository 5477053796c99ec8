// The staged switch from the IP pools page on the lab, in web mode with Debian's Chromium: the
// plan first (its stages and what is checked), Run, each stage's nodes converging live, then the
// report (per node the time to converge, per pair the packets lost) and Export JSON. Then back
// to IPIP Always all at once, and a switch to Never with the fabric's checks on, which rolls back
// on its own and shows the broken pairs with the doctor's trace. Screenshots: /tmp/s8-switch-*.png.
import { readFileSync } from 'node:fs';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlOk, poolName } from '../lab/cluster/objects.ts';
import { labSrcdst } from '../lab/lab.ts';
import type { SwitchReport } from '../shared/switch/switch-report.ts';
import { openLabConsole, type LabConsole } from './lab-console.ts';

let lab: LabConsole;
let page: Page;
const figures: string[] = [];

/** One attribute of each element the locator finds, in order. */
async function attributes(list: Locator, name: string): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let i = 0; i < (await list.count()); i++) out.push(await list.nth(i).getAttribute(name));
  return out;
}

/** Each row's cells, joined with ' / '. */
async function rowTexts(rows: Locator): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < (await rows.count()); i++) out.push((await rows.nth(i).locator('th, td').allTextContents()).join(' / '));
  return out;
}

const shot = (name: string) => page.screenshot({ path: `/tmp/s8-switch-${name}.png`, fullPage: true });
const patchPool = (spec: Record<string, unknown>) => kubectlOk(lab.lab.status.kubeconfig!, ['patch', 'ippools.crd.projectcalico.org', poolName, '--type=merge', '-p', JSON.stringify({ spec })]);

beforeAll(async () => {
  // Exclusive: the test switches the pool's mode.
  lab = await openLabConsole('staged-switch', { exclusive: true, waitMs: 1_800_000 });
  page = lab.page;
  await labSrcdst('all', true, lab.lab.stateDir);
  await patchPool({ ipipMode: 'Always', vxlanMode: 'Never' });
}, 2_400_000);

afterAll(async () => {
  if (lab) {
    await kubectlOk(lab.lab.status.kubeconfig!, ['annotate', 'nodes', '--all', 'gingham.dev/IPPoolModes-']).catch(() => {});
    await patchPool({ ipipMode: 'Always', vxlanMode: 'Never' }).catch(() => {});
  }
  await lab?.close();
  console.log(`staged switch e2e figures:\n${figures.join('\n')}`);
});

const switchSection = () => page.getByRole('region', { name: `Staged switch of ${poolName}` });

/** Picks the mode and canaries, plans, and waits for the plan's stages. */
async function plan(mode: string, canary: string[]): Promise<void> {
  const form = page.getByRole('form', { name: 'Staged switch' });
  await form.getByRole('combobox', { name: 'Switch to' }).selectOption(mode);
  for (const node of ['master', 'worker-1', 'worker-2', 'worker-3']) await form.getByRole('checkbox', { name: node }).setChecked(canary.includes(node));
  await form.getByRole('button', { name: 'Plan' }).click();
  await switchSection().getByRole('table', { name: new RegExp(`^Stages: .* → ${mode}$`) }).waitFor({ timeout: 120_000 });
}

/** Runs the plan shown; resolves with the report once the status says how it ended. */
async function runAndWait(ended: RegExp, shotWhileRunning?: string): Promise<string> {
  await switchSection().getByRole('button', { name: 'Run' }).click();
  const status = switchSection().getByRole('status').filter({ hasText: /^(Running|Switched|Rolled back|Failed)/ });
  if (shotWhileRunning) {
    // A stage's nodes, live: the table of the stage being checked.
    await switchSection().locator('section.switch-stage[data-verdict="running"]').first().waitFor({ timeout: 120_000 });
    await shot(shotWhileRunning);
  }
  await status.filter({ hasText: ended }).waitFor({ timeout: 480_000 });
  return (await status.textContent()) ?? '';
}

async function exported(): Promise<SwitchReport> {
  const [download] = await Promise.all([page.waitForEvent('download'), switchSection().getByRole('button', { name: 'Export JSON' }).click()]);
  return JSON.parse(readFileSync((await download.path())!, 'utf8')) as SwitchReport;
}

describe('the staged switch from the IP pools page', () => {
  it('plans IPIP Always -> VXLAN Always with worker-3 as the canary, runs it live and shows the report', async () => {
    await lab.connect();
    await lab.nav('IP pools');
    await page.getByRole('button', { name: `Staged switch of ${poolName}` }).click();
    await plan('VXLAN Always', ['worker-3']);
    const stages = switchSection().getByRole('table', { name: 'Stages: IPIP Always → VXLAN Always' });
    expect(await attributes(stages.locator('tbody tr'), 'data-stage')).toEqual(['canary', 'rest']);
    await switchSection().getByRole('heading', { name: 'Checked after each stage' }).waitFor();
    expect(await switchSection().locator('ul.checks li').count()).toBe(5);
    await shot('1-plan');

    const status = await runAndWait(/^(Switched|Rolled back|Failed)/, '2-running');
    await shot('3-report');
    expect(status, status).toMatch(/^Switched in /);
    for (const stage of ['canary', 'rest']) {
      const table = switchSection().getByRole('table', { name: new RegExp(`^Stage ${stage} \\(`) });
      const rows = table.locator('tbody tr');
      expect(await rows.count()).toBe(4);
      expect(await attributes(rows, 'data-converged')).toEqual(['true', 'true', 'true', 'true']);
      figures.push(`${stage}: ${(await rowTexts(rows)).join(' | ')}`);
    }
    const loss = switchSection().getByRole('table', { name: /^Packets lost through the switch/ });
    expect(await loss.locator('tbody tr').count()).toBe(6);
    figures.push(`${await loss.locator('caption').textContent()}: ${(await rowTexts(loss.locator('tbody tr'))).join(' | ')}`);

    const report = await exported();
    expect(report.state).toBe('switched');
    expect(report.plan.to.mode).toBe('VXLAN Always');
    expect(report.stages.map((s) => s.name)).toEqual(['canary', 'rest']);
    expect(report.loss).toHaveLength(6);
    // The pools table shows the new mode.
    await page.locator(`tr[data-pool="${poolName}"]`).getByText('Always').waitFor();
    expect(await page.locator(`tr[data-pool="${poolName}"] td`).nth(3).textContent()).toBe('Always');
  }, 720_000);

  it('switches back to IPIP Always all at once', async () => {
    await page.getByRole('button', { name: `Staged switch of ${poolName}` }).click();
    await plan('IPIP Always', []);
    expect(await switchSection().getByText('4 nodes (fewer than 5): all at once, in one stage').count()).toBe(1);
    const status = await runAndWait(/^(Switched|Rolled back|Failed)/);
    expect(status, status).toMatch(/^Switched in /);
  }, 600_000);

  it('rolls a switch to Never back on its own with the checks on, naming the broken pairs with their trace', async () => {
    await plan('Never', []);
    const status = await runAndWait(/^(Switched|Rolled back|Failed)/, '4-never-running');
    await switchSection().getByRole('heading', { name: 'Rollback: verified' }).waitFor();
    const failures = switchSection().locator('.switch-failures article');
    // The seed's table: Never with the checks on, no pair answers.
    expect((await attributes(failures, 'data-pair')).sort()).toEqual(['pod-1->pod-2', 'pod-1->pod-3', 'pod-2->pod-1', 'pod-2->pod-3', 'pod-3->pod-1', 'pod-3->pod-2']);
    await failures.first().getByText(/The doctor's trace/).click();
    await shot('5-rolled-back');
    expect(status, status).toMatch(/^Rolled back in /);
    figures.push(`Never: ${status}`);
    const report = await exported();
    expect(report.state).toBe('rolled-back');
    expect(report.rollback?.verified).toBe(true);
  }, 600_000);
});
