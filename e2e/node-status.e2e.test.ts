// The Nodes and BGP peers views from the agents' published status, on the lab: each node's agent
// health, version, BGP sessions, mode and last pass come from the console's one watch of
// GinghamNodeStatus, and follow a change in the cluster (the pool switched to CrossSubnet and
// back with kubectl, so that every agent's status changes) without the page sending a single
// request meanwhile: the renderer's requests are counted on its WebSocket.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator } from 'playwright-core';
import { kubectl } from '../lab/controlplane/kubectl.ts';
import { poolName } from '../lab/cluster/objects.ts';
import { openLabConsole, type LabConsole } from './lab-console.ts';

let lab: LabConsole;
let kubeconfig: string;
let modeBefore: string | undefined;
/** Every request the renderer sent, in order (its frames on the WebSocket). */
const requests: Array<{ at: number; method: string }> = [];
const lab4 = ['master', 'worker-1', 'worker-2', 'worker-3'];

beforeAll(async () => {
  // Exclusive: the test switches the pool's mode, which the other lab tests must not see.
  lab = await openLabConsole('node-status', { exclusive: true, waitMs: 1_800_000 });
  kubeconfig = lab.lab.status.kubeconfig!;
  const pool = JSON.parse((await kubectl(kubeconfig, ['get', 'ippools.crd.projectcalico.org', poolName, '-o', 'json'])).stdout) as { spec: { ipipMode?: string } };
  modeBefore = pool.spec.ipipMode;
  // Count from the first frame: the page is loaded again with the listener in place (the token is kept for the tab).
  lab.page.on('websocket', (socket) =>
    socket.on('framesent', (frame) => {
      try {
        const parsed = JSON.parse(String(frame.payload)) as { kind?: string; method?: string };
        if (parsed.kind === 'request' && parsed.method) requests.push({ at: Date.now(), method: parsed.method });
      } catch {
        // not one of the contract's frames
      }
    }),
  );
  await lab.page.reload();
}, 2_400_000);

afterAll(async () => {
  if (kubeconfig && modeBefore) await setIpipMode(modeBefore).catch(() => undefined);
  await lab?.close();
});

async function setIpipMode(mode: string): Promise<void> {
  const result = await kubectl(kubeconfig, ['patch', 'ippools.crd.projectcalico.org', poolName, '--type=merge', '-p', JSON.stringify({ spec: { ipipMode: mode } })]);
  if (result.code !== 0) throw new Error(`kubectl patch failed: ${result.stderr}`);
}

/** Each row's text, by node, from the columns named. */
async function rowsOf(table: Locator, columns: Record<string, number>): Promise<string[]> {
  const lines: string[] = [];
  for (const row of await table.locator('tbody tr').all()) {
    const cells = row.locator('td');
    const parts = [await row.getAttribute('data-node')];
    for (const index of Object.values(columns)) parts.push((await cells.nth(index).textContent())?.trim() ?? '');
    lines.push(parts.join(' | '));
  }
  return lines;
}

/** Waits until `read` returns what `done` accepts, up to `ms`; returns the last reading. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const requestsSince = (t: number) => requests.filter((r) => r.at >= t).map((r) => r.method);

/** The whole page, scrolled, under test-results/node-status/. */
async function shot(name: string): Promise<void> {
  const dir = path.join(process.cwd(), 'test-results', 'node-status');
  mkdirSync(dir, { recursive: true });
  await lab.page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

describe('the Nodes and BGP peers views from the watch', () => {
  it("shows each node's agent and BGP sessions from its published status, and follows a mode switch with no request", async () => {
    const { page, nav, context } = lab;
    await lab.connect();
    await nav('Nodes');
    const agents = page.getByRole('table', { name: `Nodes of ${context}: agent and BGP` });
    // Columns after Select: Address 1, Subnet 2, Agent 3, BGP 4, Mode 5, Last pass 6, Problems 7.
    const columns = { agent: 3, bgp: 4, mode: 5 };
    await agents.locator('td[data-source="watch"][data-health="Ready"]').nth(3).waitFor({ timeout: 120_000 });
    const mode = (modeBefore ?? 'Always') === 'Always' ? 'IPIP Always' : `IPIP ${modeBefore}`;
    const before = await until(
      () => rowsOf(agents, columns),
      (rows) => rows.length === 4 && rows.every((r) => r.includes('3 of 3 sessions up') && r.endsWith(mode)),
      90_000,
      'four nodes Ready with three sessions up',
    );
    expect(before.map((r) => r.split(' | ')[0])).toEqual(lab4);
    for (const row of before) expect(row).toMatch(/ \| Ready .+ \| 3 of 3 sessions up \| IPIP /);
    expect(await page.getByText(/4 of 4 nodes publish their status/).count()).toBe(1);
    await shot('1-nodes-from-watch');

    // Quiet for a moment: what the page asks on its own while nothing happens is nothing.
    const quiet = Date.now();
    await page.waitForTimeout(2000);
    expect(requestsSince(quiet)).toEqual([]);
    const t0 = Date.now();
    await setIpipMode('CrossSubnet');
    const switched = await until(
      () => rowsOf(agents, columns),
      (rows) => rows.length === 4 && rows.every((r) => r.endsWith('IPIP CrossSubnet')),
      60_000,
      'every node programming CrossSubnet',
    );
    const seconds = (Date.now() - t0) / 1000;
    console.log(`kubectl patch -> every row showing IPIP CrossSubnet: ${seconds.toFixed(1)} s`);
    expect(switched.every((r) => r.includes('3 of 3 sessions up'))).toBe(true);
    // Each last pass in sync again once the agents have programmed it.
    await until(async () => (await agents.locator('tbody tr td:nth-of-type(7)').allTextContents()).every((t) => t.startsWith('In sync')), (ok) => ok, 30_000, 'every last pass in sync');
    await shot('2-nodes-after-switch');
    expect(requestsSince(t0)).toEqual([]);

    // BGP peers: every node's sessions from the watch, and one node's session table.
    await nav('BGP peers');
    const all = page.getByRole('table', { name: `BGP of every node of ${context}, as its agent publishes it` });
    await all.waitFor();
    // Columns: Agent 0, BGP 1, Mode 2, Last pass 3, Problems 4, AS 5.
    expect(await rowsOf(all, { bgp: 1, mode: 2 })).toEqual(lab4.map((n) => `${n} | 3 of 3 sessions up | IPIP CrossSubnet`));
    await page.getByRole('combobox', { name: 'Node' }).selectOption({ label: 'worker-1' });
    const peers = page.getByRole('table', { name: 'IPv4 BGP status' });
    await peers.waitFor();
    const sessions = await peers.locator('tbody tr').allTextContents();
    expect(sessions).toHaveLength(3);
    for (const s of sessions) expect(s).toMatch(/node-to-node mesh.*Established/);
    expect(await page.getByText("live from the agent's published status").count()).toBe(1);
    await shot('3-peers-from-watch');
    // Nothing asked over SSH for a node that publishes: only on demand.
    const t1 = Date.now();
    await page.getByRole('button', { name: 'Read prefix counts over SSH' }).click();
    await until(async () => (await peers.locator('tbody tr td:nth-of-type(6)').allTextContents()).every((t) => /^\d+$/.test(t)), (ok) => ok, 30_000, 'the prefix counts');
    expect(requestsSince(t1)).toEqual(['node.peers']);

    // Back to the mode it had: this view follows too, with no request.
    const t2 = Date.now();
    await setIpipMode(modeBefore ?? 'Always');
    await until(() => rowsOf(all, { mode: 2 }), (rows) => rows.every((r) => r.endsWith(mode)), 60_000, `every node back on ${mode}`);
    await until(() => rowsOf(all, { pass: 3 }), (rows) => rows.every((r) => r.includes('| In sync')), 30_000, 'every last pass in sync');
    await shot('4-peers-after-switch-back');
    expect(requestsSince(t2)).toEqual([]);
    const counts = new Map<string, number>();
    for (const r of requests) counts.set(r.method, (counts.get(r.method) ?? 0) + 1);
    console.log(`requests the page sent in all: ${[...counts].map(([m, n]) => `${m} ${n}`).join(', ')}`);
  }, 600_000);
});
