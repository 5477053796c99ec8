// Route reflectors from the BGP peers page on the lab, in web mode with Debian's Chromium: the
// advice (the mesh is fine at 4 nodes, master and worker-3 proposed), Move to reflectors, each
// step live, the roles in the nodes table and beside every session (master and worker-3
// reflectors, worker-1 and worker-2 clients peering with them only), then back to the mesh.
// Screenshots: /tmp/gingham-e2e-reflectors-*.png (the harness's names).
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl } from '../lab/controlplane/kubectl.ts';
import { reflectorLabel, reflectorPeerName } from '../shared/api/reflectors-contract.ts';
import { openLabConsole, type LabConsole } from './lab-console.ts';

let lab: LabConsole;
let page: Page;
const figures: string[] = [];

/** Back to the lab's own BGP (mesh on, no reflector, no BGPPeer) whatever a run left. */
async function restoreMesh() {
  const kubeconfig = lab.lab.status.kubeconfig!;
  await kubectl(kubeconfig, ['patch', 'bgpconfigurations.crd.projectcalico.org', 'default', '--type', 'merge', '-p', '{"spec":{"nodeToNodeMeshEnabled":true}}']);
  for (const node of lab.lab.status.nodes) {
    await kubectl(kubeconfig, ['annotate', 'node', node.name, 'projectcalico.org/RouteReflectorClusterID-']);
    await kubectl(kubeconfig, ['label', 'node', node.name, `${reflectorLabel}-`]);
  }
  await kubectl(kubeconfig, ['delete', 'bgppeers.crd.projectcalico.org', reflectorPeerName, '--ignore-not-found']);
}

beforeAll(async () => {
  // Exclusive: the test changes the cluster's BGP objects.
  lab = await openLabConsole('reflectors', { exclusive: true, waitMs: 1_800_000 });
  page = lab.page;
  await restoreMesh();
  await lab.connect();
}, 2_400_000);

afterAll(async () => {
  if (lab) await restoreMesh().catch(() => {});
  await lab?.close();
  console.log(`reflectors e2e figures:\n${figures.join('\n')}`);
});

const panel = () => page.getByRole('region', { name: 'Route reflectors' });
const roleOf = (node: string) => panel().locator(`tr[data-node="${node}"]`).getAttribute('data-role');

/** Clicks `button` and waits for the report's status to say how it ended. */
async function migrate(button: RegExp, shot: string): Promise<string> {
  const t0 = Date.now();
  await panel().getByRole('button', { name: button }).click();
  const status = panel().getByRole('status').filter({ hasText: /^(Done|Stopped)/ });
  await status.waitFor({ timeout: 600_000 });
  figures.push(`${button.source}: ${((Date.now() - t0) / 1000).toFixed(1)} s from the click`);
  await lab.harness.screenshot(shot);
  return (await status.textContent()) ?? '';
}

describe('route reflectors from the BGP peers page', () => {
  it('advises, moves the lab to reflectors on master and worker-3, shows the roles, and goes back', async () => {
    await lab.nav('BGP peers');
    await panel().getByText('The mesh is fine').waitFor({ timeout: 60_000 });
    expect(await panel().getByRole('checkbox', { checked: true }).count()).toBe(2);
    expect(await roleOf('worker-1')).toBe('mesh');
    await lab.harness.screenshot('1-advice');

    expect(await migrate(/^Move to reflectors master, worker-3$/, '2-on-reflectors')).toMatch(/^Done: The cluster routes by the reflectors master, worker-3/);
    await panel().locator('tr[data-node="master"][data-role="reflector"]').waitFor({ timeout: 30_000 });
    expect(await roleOf('worker-3')).toBe('reflector');
    expect(await roleOf('worker-1')).toBe('client');
    expect(await panel().locator('li[data-state="done"]').count()).toBe(6);
    // The sessions table, from the agents' published status: worker-1 peers with the two reflectors only.
    const sessions = page.getByRole('table', { name: /^BGP sessions of every node/ });
    const worker1 = sessions.locator('[data-node="worker-1"]');
    await expect.poll(() => worker1.count(), { timeout: 60_000 }).toBe(2);
    const texts = await worker1.allTextContents();
    expect(texts.every((t) => /client/.test(t) && /reflector/.test(t) && /Established/.test(t)), texts.join('\n')).toBe(true);
    await lab.harness.screenshot('3-sessions-with-roles');

    expect(await migrate(/^Back to the node-to-node mesh$/, '4-back-on-mesh')).toMatch(/^Done: The cluster is on the node-to-node mesh again/);
    await panel().locator('tr[data-node="master"][data-role="mesh"]').waitFor({ timeout: 30_000 });
    await expect.poll(() => worker1.count(), { timeout: 60_000 }).toBe(3);
  }, 1_200_000);
});
