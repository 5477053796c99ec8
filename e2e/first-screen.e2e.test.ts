// The newcomer's first screen: `npm start` brings the lab up and hands the console `lab status
// --json` in a file ($GINGHAM_LAB_STATUS); the console, with no settings of its own yet (no nodes,
// no known_hosts, no kubeconfig), must open on Nodes already connected to the lab: its context,
// its four nodes over SSH verified against the lab's host keys (no question asked), the agents
// running with their BGP sessions up, and one line saying what the lab is and how to connect
// one's own cluster.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { labDefaultsFromEnv, labStatusEnv } from '../electron/backend/lab/lab-defaults.ts';
import { useLab, type LabLease } from '../lab/testing/lab-fixture.ts';
import { openConsole, type ConsoleHarness } from './console-harness.ts';

let lab: LabLease;
let harness: ConsoleHarness;
let page: Page;
let dir: string;
let context: string;

beforeAll(async () => {
  lab = await useLab({ progress: (line) => console.log(`lab: ${line}`) });
  dir = mkdtempSync(path.join(tmpdir(), 'gfirst-'));
  context = (parse(readFileSync(lab.status.kubeconfig!, 'utf8')) as { 'current-context': string })['current-context'];
  // What scripts/start.ts writes and sets, read by the same code the backend reads it with.
  const statusFile = path.join(dir, 'lab-status.json');
  writeFileSync(statusFile, JSON.stringify(lab.status));
  const labDefaults = labDefaultsFromEnv({ [labStatusEnv]: statusFile });
  harness = await openConsole('first-screen', {
    configDir: path.join(dir, 'config'),
    clusters: { paths: () => [] },
    ...(labDefaults ? { lab: labDefaults } : {}),
  });
  page = harness.page;
}, 900_000);

afterAll(async () => {
  await harness?.close();
  await lab?.release();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('first screen on the lab', () => {
  it('lands on Nodes connected to the lab: context, nodes over SSH, agents running, BGP up, one line about the lab', async () => {
    await page.getByRole('heading', { level: 1, name: 'Nodes' }).waitFor();
    expect(new URL(page.url()).hash).toBe('#/nodes');
    const banner = page.getByRole('note', { name: 'The lab' });
    await banner.getByRole('status').filter({ hasText: `Connected to its context ${context}` }).waitFor({ timeout: 60_000 });
    expect(await banner.textContent()).toMatch(/^This is the lab: the seed’s cluster \(master, worker-1, worker-2, worker-3\) in network namespaces on this machine, brought up by npm start\. Connected to its context .* Your own cluster: connect its context under Clusters\.$/);
    expect(await banner.getByRole('link', { name: 'Clusters' }).getAttribute('href')).toBe('#/clusters');
    expect(await banner.getByRole('alert').count()).toBe(0);

    // The cluster's own node list, from the lab's API server.
    const clusterNodes = page.getByRole('table', { name: `Nodes of ${context}`, exact: true });
    expect(await clusterNodes.locator('tbody th').allTextContents()).toEqual(['master', 'worker-1', 'worker-2', 'worker-3']);

    // Each node over SSH, verified against the lab's known_hosts: connected, no host-key question.
    const sshNodes = page.getByRole('table', { name: 'SSH nodes' });
    const rows = sshNodes.locator('tbody tr');
    expect(await rows.count()).toBe(4);
    for (let i = 0; i < 4; i++) expect(await rows.nth(i).locator('td').nth(2).textContent()).toBe('Connected');
    expect(await page.getByRole('dialog').count()).toBe(0);

    // The agents: running on every node, every BGP session established (a full mesh of four: 3 each).
    const agents = page.getByRole('table', { name: `Nodes of ${context}: agent and BGP` });
    // Each from its agent's published status, through the console's watch of the cluster.
    await agents.locator('td[data-source="watch"][data-health="Ready"]').nth(3).waitFor({ timeout: 60_000 });
    // Each node's subnet as the VPC has it (Calico's annotation is the address with its prefix).
    const subnets: string[] = [];
    for (const row of await agents.locator('tbody tr').all()) subnets.push(`${await row.getAttribute('data-node')} ${await row.locator('td').nth(2).textContent()}`);
    expect(subnets).toEqual(['master 10.240.1.0/24', 'worker-1 10.240.1.0/24', 'worker-2 10.240.1.0/24', 'worker-3 10.240.2.0/24']);
    const bgp = async () => {
      const lines: string[] = [];
      for (const row of await agents.locator('tbody tr').all()) lines.push(`${await row.getAttribute('data-node')}: ${await row.locator('td').nth(4).textContent()}`);
      return lines;
    };
    // Sessions may still be opening on a lab just brought up: the watch shows them coming up, with no Refresh.
    const deadline = Date.now() + 90_000;
    while (!(await bgp()).every((line) => line.endsWith('3 of 3 sessions up')) && Date.now() < deadline) await page.waitForTimeout(500);
    expect(await bgp()).toEqual(['master: 3 of 3 sessions up', 'worker-1: 3 of 3 sessions up', 'worker-2: 3 of 3 sessions up', 'worker-3: 3 of 3 sessions up']);
    await harness.screenshot('1-landing');
  }, 240_000);
});
