// The console drives the lab: the agent installed on all four nodes from the GUI (the lab comes
// up without it, and starts its pods once the console has installed the agent's CNI plugin), then
// the default pool switched Always -> CrossSubnet -> Never -> VXLAN Always and back from the IP
// pools view, with src/dst checks toggled as the seed does. After each step worker-1's route table
// (Routes view) has the seed's shape and the pod matrix, probed by the agents, matches docs/lab.md's
// table. Figures: install time (each node's steps printed beside it), an unchanged repeat install's,
// and Apply-to-converged time per switch. Screenshots in
// test-results/cluster-ops/.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { labPods, labSrcdst } from '../lab/lab.ts';
import { useLab, type LabLease } from '../lab/testing/lab-fixture.ts';
import { matrixVerdicts, openConsole, type ConsoleHarness } from './console-harness.ts';

let lab: LabLease;
let harness: ConsoleHarness;
let page: Page;
let dir: string;
let context: string;
const figures: string[] = [];
/** Each node's install steps with their times, from the installer's trace. */
const steps: string[] = [];

beforeAll(async () => {
  lab = await useLab({ agent: false, exclusive: true, progress: (line) => console.log(`lab: ${line}`) });
  dir = mkdtempSync(path.join(tmpdir(), 'gops-e2e-'));
  const artifactDir = path.join(dir, 'agent');
  await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/build-agent.ts', '--out', artifactDir], { maxBuffer: 1 << 24 });
  const status = lab.status;
  context = (parse(readFileSync(status.kubeconfig!, 'utf8')) as { 'current-context': string })['current-context'];
  // The console's own files: the lab's nodes with its key, and their host keys as the lab recorded them.
  const configDir = path.join(dir, 'config');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(configDir);
  copyFileSync(status.knownHosts!, path.join(configDir, 'known_hosts'));
  writeFileSync(
    path.join(configDir, 'nodes.json'),
    JSON.stringify({ nodes: status.nodes.map((n) => ({ id: `node-${n.name}`, name: n.name, host: n.address, user: 'root', identityFile: status.sshKey })) }),
  );
  harness = await openConsole('cluster-ops', { configDir, clusters: { paths: () => [status.kubeconfig!] }, installer: { artifactDir, trace: (node, step, ms) => steps.push(`${node} ${step} ${ms}`) } });
  page = harness.page;
}, 900_000);

afterAll(async () => {
  console.log(`figures:\n${figures.join('\n')}`);
  await harness?.close();
  await lab?.release();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const nav = (name: string) => page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name }).click();

async function routesOf(node: string): Promise<{ destination: string; gateway: string; iface: string; owner: string }[]> {
  await nav('Routes');
  await page.getByRole('combobox', { name: 'Node' }).selectOption({ label: node });
  const table = page.getByRole('table', { name: /Kernel IP routing table/ });
  await table.waitFor();
  const rows = table.locator('tbody tr');
  const result = [];
  for (let i = 0; i < (await rows.count()); i++) {
    const cells = await rows.nth(i).locator('td').allTextContents();
    result.push({ destination: cells[0]!, gateway: cells[1]!, iface: cells[5]!, owner: cells[6]! });
  }
  return result;
}

/** Waits until worker-1's remote blocks all go the way `expected` says (the table refreshes every 2 s). */
async function expectWorker1Routes(expected: (route: { destination: string; gateway: string; iface: string; owner: string }) => boolean, shot: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let remote: Awaited<ReturnType<typeof routesOf>> = [];
  for (;;) {
    // Remote blocks: the agent's owner column reads "pool P, MODE, NODE".
    remote = (await routesOf('worker-1')).filter((r) => r.owner.startsWith('pool '));
    if (remote.length >= 3 && remote.every(expected)) break;
    if (Date.now() > deadline) throw new Error(`worker-1's routes did not take the expected shape: ${JSON.stringify(remote)}`);
    await page.waitForTimeout(1000);
  }
  await harness.screenshot(shot);
}

/** Which pod pairs answer HTTP, per docs/lab.md's table (pod-1 and pod-2 share subnet 1, pod-3 is in subnet 2). */
const reach = {
  all: () => true,
  sameSubnetOnly: (from: string, to: string) => from !== 'pod-3' && to !== 'pod-3',
  none: () => false,
};

/** Reads the matrix table captioned `caption` until every cell says what `expected` does (probing again meanwhile), or fails with what it saw. */
async function expectMatrix(caption: RegExp, expected: (from: string, to: string) => boolean, shot: string): Promise<void> {
  const table = page.getByRole('table', { name: caption });
  const deadline = Date.now() + 90_000;
  let seen: string[] = [];
  for (let probes = 1; ; probes++) {
    await table.waitFor({ timeout: 120_000 });
    seen = await matrixVerdicts(table);
    const right = seen.length === 6 && seen.every((v) => v.endsWith(`:${expected(...(v.split(':')[0]!.split('->') as [string, string]))}`));
    if (right) {
      figures.push(`matrix ${shot}: ${seen.join(' ')} (probe ${probes})`);
      await table.scrollIntoViewIfNeeded();
      await harness.screenshot(shot);
      return;
    }
    if (Date.now() > deadline) {
      await harness.screenshot(`${shot}-wrong`);
      throw new Error(`the matrix did not match docs/lab.md's table (${shot}): ${seen.join(', ')}`);
    }
    // Probe again: the routes converged, but a first packet may still meet an old neighbour or tunnel.
    const again = table.locator('xpath=ancestor::section[1]').getByRole('button', { name: 'Probe again' });
    await again.click();
    await again.filter({ hasText: 'Probe again' }).waitFor({ timeout: 120_000 });
  }
}

async function expectConnectivityView(expected: (from: string, to: string) => boolean, shot: string): Promise<void> {
  await nav('Connectivity');
  await expectMatrix(/^From \(rows\) to \(columns\)/, expected, shot);
}

async function switchPool(ipipMode: string, vxlanMode: string, shot: string): Promise<number> {
  await nav('IP pools');
  await page.getByRole('button', { name: 'Edit default-ipv4-ippool' }).click();
  const form = page.getByRole('form', { name: 'Pool' });
  // Calico refuses both encapsulations at once: turn one off before turning the other on.
  if (ipipMode !== 'Never') await form.getByLabel('VXLAN mode').selectOption('Never');
  await form.getByLabel('IPIP mode').selectOption(ipipMode);
  await form.getByLabel('VXLAN mode').selectOption(vxlanMode);
  await form.getByRole('button', { name: 'Preview' }).click();
  await page.getByLabel('Preview per node').waitFor();
  // The API server's dry run names the mode field it would change, as stored and as it would store it.
  const server = page.getByRole('region', { name: 'What the API server would store' });
  await server.getByRole('row', { name: /spec\.(ipipMode|vxlanMode)/ }).first().waitFor();
  await harness.screenshot(`${shot}-preview`);
  await form.getByRole('button', { name: 'Apply' }).click();
  const caption = page.getByRole('table', { name: /Convergence/ }).locator('caption');
  await caption.filter({ hasText: /every node in/ }).waitFor({ timeout: 150_000 });
  const seconds = Number(/every node in ([\d.]+) s/.exec((await caption.textContent()) ?? '')![1]);
  const converged = await page.locator('table.convergence tbody tr[data-converged="true"]').count();
  if (converged !== 4) await harness.screenshot(`${shot}-not-converged`);
  expect(converged, `all four nodes converged after ${ipipMode}/${vxlanMode}: ${(await page.locator('table.convergence tbody tr').allTextContents()).join(' | ')}`).toBe(4);
  await harness.screenshot(`${shot}-converged`);
  figures.push(`Apply -> every node converged, ipipMode ${ipipMode} vxlanMode ${vxlanMode}: ${seconds.toFixed(1)} s`);
  return seconds;
}

/** The matrix the IP pools view probes once every node has converged after Apply. */
// Read before leaving the IP pools view: it forgets the Apply when another view opens.
const expectMatrixAfterApply = (expected: (from: string, to: string) => boolean, shot: string) => expectMatrix(/^After the change/, expected, shot);

describe('the console drives the lab', () => {
  it('installs the agent on all four nodes from the GUI', async () => {
    await nav('Clusters');
    await page.getByRole('button', { name: `Connect to ${context}` }).click();
    await page.getByRole('status').filter({ hasText: `Connected to ${context}` }).waitFor();
    // Before the install: worker-1's table comes from the kernel over SSH, read-only, and it has no BGP speaker.
    await nav('Routes');
    await page.getByRole('combobox', { name: 'Node' }).selectOption({ label: 'worker-1' });
    await page.getByText('read-only: kernel table over SSH').waitFor({ timeout: 60_000 });
    await harness.screenshot('0-routes-read-only');
    await nav('BGP peers');
    await page.getByRole('combobox', { name: 'Node' }).selectOption({ label: 'worker-1' });
    await page.getByText(/Neither a Gingham agent nor BIRD answers/).waitFor({ timeout: 60_000 });
    await nav('Nodes');
    const panel = page.getByRole('region', { name: 'Agents' });
    await panel.getByRole('row').filter({ hasText: 'worker-3' }).waitFor();
    await harness.screenshot('1-before-install');
    await panel.getByRole('checkbox', { name: 'Select all nodes' }).check();
    const t0 = Date.now();
    await panel.getByRole('button', { name: 'Install agent on selected' }).click();
    // Every node ends done or failed: the fourth to end stops the clock (Playwright sees it as the page changes, no polling interval).
    await panel.locator('.install-progress[data-phase="done"], .install-progress[data-phase="failed"]').nth(3).waitFor({ timeout: 600_000 });
    const seconds = (Date.now() - t0) / 1000;
    const failed = await panel.locator('.install-progress[data-phase="failed"]').allTextContents();
    if (failed.length > 0) throw new Error(`install failed: ${failed.join(' | ')}`);
    figures.push(`install on the four lab nodes from the GUI: ${seconds.toFixed(1)} s`);
    console.log(`install steps (ms):\n${steps.join('\n')}`);
    await harness.screenshot('2-installed');
    // The new agents publish their status: the console's watch shows them, no Refresh needed.
    await panel.locator('td[data-source="watch"][data-health="Ready"]').nth(3).waitFor({ timeout: 60_000 });
    await harness.screenshot('3-agents-running');
    // Again, with nothing to change: every node says so, with no upload and no restart.
    await panel.getByRole('checkbox', { name: 'Select all nodes' }).check();
    const t1 = Date.now();
    await panel.getByRole('button', { name: 'Install agent on selected' }).click();
    await panel.locator('.install-progress[data-outcome="unchanged"], .install-progress[data-phase="failed"]').nth(3).waitFor({ timeout: 120_000 });
    const again = (Date.now() - t1) / 1000;
    expect(await panel.locator('.install-progress[data-outcome="unchanged"]').count(), (await panel.locator('.install-progress').allTextContents()).join(' | ')).toBe(4);
    figures.push(`unchanged repeat install on the four lab nodes from the GUI: ${again.toFixed(1)} s`);
  }, 900_000);

  it("starts the lab's pods through the CNI plugin the console installed", async () => {
    const state = await labPods({ progress: (line) => console.log(`lab: ${line}`) });
    const pods = Object.values(state.pods);
    expect(pods.map((p) => p.name).sort()).toEqual(['pod-1', 'pod-2', 'pod-3']);
    for (const pod of pods) expect(pod.ip, pod.name).toMatch(/^192\.168\./);
  }, 600_000);

  it('shows worker-1 with blocks via tunl0 in ipipMode Always, and its BGP peers', async () => {
    await expectWorker1Routes((r) => r.iface === 'tunl0', '4-routes-ipip-always');
    await nav('BGP peers');
    await page.getByRole('combobox', { name: 'Node' }).selectOption({ label: 'worker-1' });
    const peers = page.getByRole('table', { name: 'IPv4 BGP status' });
    await peers.waitFor();
    const deadline = Date.now() + 60_000;
    let rows: string[] = [];
    while (!(rows.length === 3 && rows.every((r) => /Established|up/.test(r)))) {
      if (Date.now() > deadline) throw new Error(`worker-1's three mesh sessions did not come up: ${rows.join(' | ')}`);
      await page.waitForTimeout(1000);
      rows = await peers.locator('tbody tr').allTextContents();
    }
    await harness.screenshot('5-peers');
    await expectConnectivityView(reach.all, '5-matrix-ipip-always');
  }, 300_000);

  it('switches Always -> CrossSubnet -> Never -> VXLAN Always and back, routes and matrix as the seed finds after each', async () => {
    // The seed turns the checks off for direct routing: CrossSubnet and Never need it.
    await labSrcdst('all', false);
    await switchPool('CrossSubnet', 'Never', '6-crosssubnet');
    await expectMatrixAfterApply(reach.all, '6-crosssubnet-matrix');
    // Same subnet direct (worker-2, master via ens5), the other subnet (worker-3) through tunl0.
    await expectWorker1Routes((r) => (r.owner.includes('worker-3') ? r.iface === 'tunl0' : r.iface === 'ens5'), '6-crosssubnet-routes');
    await switchPool('Never', 'Never', '7-never');
    // Checks off: the router has no pod routes, so only the same subnet answers.
    await expectMatrixAfterApply(reach.sameSubnetOnly, '7-never-checks-off-matrix');
    await expectWorker1Routes((r) => r.iface === 'ens5', '7-never-routes');
    // Checks on (AWS's default): pod addresses on the wire are dropped, nothing answers.
    await labSrcdst('all', true);
    await expectConnectivityView(reach.none, '7-never-checks-on-matrix');
    await switchPool('Never', 'Always', '8-vxlan');
    // VXLAN carries pod packets between node addresses: it works with the checks on.
    await expectMatrixAfterApply(reach.all, '8-vxlan-matrix');
    await expectWorker1Routes((r) => r.iface === 'vxlan.calico', '8-vxlan-routes');
    await nav('BGP peers');
    await page.getByRole('combobox', { name: 'Node' }).selectOption({ label: 'worker-1' });
    await page.getByText(/BGP is off on this node/).waitFor({ timeout: 30_000 });
    await harness.screenshot('8-vxlan-bgp-off');
    await switchPool('Always', 'Never', '9-back-to-always');
    await expectMatrixAfterApply(reach.all, '9-always-matrix');
    await expectWorker1Routes((r) => r.iface === 'tunl0', '9-always-routes');
  }, 1_200_000);
});
