// The Measure page on the lab, in web mode with Debian's Chromium: pod-1 (worker-1) to pod-3
// (worker-3, the other subnet) in the seed's ipipMode Always, measured by the agents from the
// pods' namespaces and host to host; the charts and the table show the run, the path MTU shows
// the tunnel's 20 bytes, and the run is still there after a reload (kept per cluster).
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLabConsole, type LabConsole } from './lab-console.ts';

let lab: LabConsole;
let page: Page;

beforeAll(async () => {
  lab = await openLabConsole('measure', { waitMs: 1_200_000 });
  page = lab.page;
}, 900_000);

afterAll(async () => {
  await lab?.close();
});

describe('the Measure page on the lab', () => {
  it('measures pod-1 -> pod-3 and the nodes host to host, and charts them', async () => {
    await lab.connect();
    await lab.nav('Measure');
    await page.getByText('No measurement on this cluster yet.').waitFor();
    const form = page.getByRole('form', { name: 'Measure' });
    await form.getByRole('textbox', { name: 'Source pod' }).fill('pod-1');
    await form.getByRole('textbox', { name: 'Destination pod' }).fill('pod-3');
    const started = Date.now();
    await form.getByRole('button', { name: 'Measure' }).click();
    const row = page.getByRole('table', { name: 'Measurements' }).getByRole('row').nth(1);
    await row.waitFor({ timeout: 120_000 });
    console.log(`measured in ${((Date.now() - started) / 1000).toFixed(1)} s: ${await row.innerText()}`);
    const cells = await row.getByRole('cell').allInnerTexts();
    expect(cells[1]).toBe('IPIP Always');
    expect(cells[2]).toBe('pod-1 (worker-1) → pod-3 (worker-3)');
    for (const cell of [cells[3], cells[4], cells[5]]) expect(Number(/([\d.]+) Gbit\/s/.exec(cell!)?.[1])).toBeGreaterThan(0.05);
    // IP-in-IP's 20 bytes: the pods' path is 1480 bytes where the nodes' is 1500.
    expect(cells[9]).toBe('1480 / 1500');
    await page.getByRole('figure', { name: 'Throughput per run' }).locator('.recharts-bar-rectangle').first().waitFor();
    await page.getByRole('figure', { name: 'Latency per run' }).locator('.recharts-bar-rectangle').first().waitFor();
    await page.screenshot({ path: path.join(tmpdir(), 'gingham-measure.png'), fullPage: true });
  }, 180_000);

  it('keeps the run for this cluster: it is there after a reload', async () => {
    await page.reload();
    await lab.connect();
    await lab.nav('Measure');
    await page.getByRole('table', { name: 'Measurements' }).getByRole('row').nth(1).waitFor();
  }, 60_000);

  it('refuses two pods on one node, saying what to pick', async () => {
    const form = page.getByRole('form', { name: 'Measure' });
    await form.getByRole('textbox', { name: 'Source pod' }).fill('pod-1');
    await form.getByRole('textbox', { name: 'Destination pod' }).fill('pod-1');
    await form.getByRole('button', { name: 'Measure' }).click();
    await page.getByRole('alert').filter({ hasText: 'are both on worker-1: pick pods on two nodes' }).waitFor();
  });
});
