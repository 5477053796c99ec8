// The connectivity matrix on the lab with its own agents and pods (ipipMode Always, the seed's
// start): every pod reaches every other by ping and HTTP, as the first row of docs/lab.md's table says, measured by
// the agents from the pods' namespaces. Also worker-1's routes read live from its agent.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matrixVerdicts, type ConsoleHarness } from './console-harness.ts';
import { openLabConsole, type LabConsole } from './lab-console.ts';

let lab: LabConsole;
let harness: ConsoleHarness;
let page: Page;

beforeAll(async () => {
  lab = await openLabConsole('connectivity');
  harness = lab.harness;
  page = lab.page;
}, 900_000);

afterAll(async () => {
  await lab?.close();
});

const nav = (name: string) => lab.nav(name);

describe('connectivity matrix on the lab', () => {
  it('shows every pod reaching every other in ipipMode Always, probed by the agents', async () => {
    await lab.connect();
    await nav('Connectivity');
    const matrix = page.getByRole('table', { name: 'From (rows) to (columns)' });
    await matrix.waitFor({ timeout: 120_000 });
    const verdicts = await matrixVerdicts(matrix);
    expect(verdicts).toHaveLength(6);
    console.log(`matrix: ${verdicts.join(', ')}`);
    expect(verdicts.every((v) => v.endsWith(':true'))).toBe(true);
    await harness.screenshot('1-matrix-ipip-always');
  }, 300_000);

  it("reads worker-1's routes live from its agent, with owners", async () => {
    await nav('Routes');
    await page.getByRole('combobox', { name: 'Node' }).selectOption({ label: 'worker-1' });
    await page.getByText('live from the agent').waitFor({ timeout: 60_000 });
    const owners = await page.locator('.data-table.routes tbody tr td:nth-child(7)').allTextContents();
    expect(owners.some((o) => /^pool default-ipv4-ippool, IPIP Always, worker-3/.test(o))).toBe(true);
    expect(owners.some((o) => o.startsWith('own block'))).toBe(true);
    // pod-1's own /32, made by the CNI plugin on its cali interface.
    const ifaces = await page.locator('.data-table.routes tbody tr td:nth-child(6)').allTextContents();
    expect(ifaces.some((i) => i.startsWith('cali'))).toBe(true);
    await harness.screenshot('2-worker-1-routes');
  }, 120_000);
});
