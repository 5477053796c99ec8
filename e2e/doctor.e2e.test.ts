// The Doctor page on the lab, in web mode with Debian's Chromium. In ipipMode Always (the seed's
// start): a source and a destination typed in, Trace, then the hop list with its evidence and
// verdicts and the final verdict; an unknown pod is refused with the names that exist. Then in
// ipipMode Never (the seed's second failure): the matrix's red cell pod-1 -> pod-3 opens its
// trace, which names the hop (the gateway) and the fix.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlOk, poolName } from '../lab/cluster/objects.ts';
import type { ConsoleHarness } from './console-harness.ts';
import { openLabConsole, type LabConsole } from './lab-console.ts';

let lab: LabConsole;
let harness: ConsoleHarness;
let page: Page;

beforeAll(async () => {
  // Exclusive: the last test switches the pool's mode.
  lab = await openLabConsole('doctor', { exclusive: true, waitMs: 1_200_000 });
  harness = lab.harness;
  page = lab.page;
}, 900_000);

const patchPool = (spec: Record<string, unknown>) => kubectlOk(lab.lab.status.kubeconfig!, ['patch', 'ippools.crd.projectcalico.org', poolName, '--type=merge', '-p', JSON.stringify({ spec })]);

afterAll(async () => {
  if (lab) await patchPool({ ipipMode: 'Always', vxlanMode: 'Never' }).catch(() => {});
  await lab?.close();
});

const nav = (name: string) => lab.nav(name);

describe('the Doctor page on the lab', () => {
  it('traces pod-1 -> pod-3: every hop with its evidence, IP-in-IP, reachable', async () => {
    await lab.connect();
    await nav('Doctor');
    const form = page.getByRole('form', { name: 'Trace' });
    await form.getByRole('textbox', { name: 'Source' }).fill('pod-1');
    await form.getByRole('textbox', { name: 'Destination' }).fill('pod-3');
    await form.getByRole('textbox', { name: 'TCP port' }).fill('80');
    await form.getByRole('button', { name: 'Trace' }).click();
    const verdict = page.locator('.verdict[role=status]');
    await verdict.waitFor({ timeout: 60_000 });
    expect(await verdict.getAttribute('data-code'), (await verdict.textContent()) ?? '').toBe('reachable');
    expect(await verdict.getAttribute('data-ok')).toBe('true');
    const hops = page.locator('ol.hops > li');
    const kinds: string[] = [];
    for (let i = 0; i < (await hops.count()); i++) kinds.push(`${await hops.nth(i).getAttribute('data-kind')}:${await hops.nth(i).getAttribute('data-status')}`);
    expect(kinds).toEqual([
      'source-pod:ok',
      'source-node:ok',
      'underlay:ok',
      'destination-node:ok',
      'destination-pod:ok',
      'return-node:ok',
      'return-underlay:ok',
      'return-arrival:ok',
    ]);
    // The evidence of the source node's hop: the kernel's answer for the tunnel.
    const sourceNode = hops.nth(1);
    await sourceNode.getByText('Evidence').click();
    await sourceNode.getByText(/dev tunl0/).first().waitFor();
    await page.getByText('IP-in-IP').first().waitFor();
    await harness.screenshot('1-trace-pod-1-pod-3');
  }, 180_000);

  it('probes live: a ping from pod-1 with a capture at each hop agrees with the prediction', async () => {
    await page.getByRole('checkbox', { name: /Probe live/ }).check();
    await page.getByRole('button', { name: 'Trace' }).click();
    const probe = page.locator('ol.hops > li[data-kind="probe"]');
    await probe.waitFor({ timeout: 60_000 });
    expect(await probe.getAttribute('data-code')).toBe('probe-agrees');
    await probe.getByText('Evidence').click();
    await probe.getByText(/tcpdump on worker-3 ens5 \(destination underlay\): [1-9]\d* echo request/).waitFor();
    await probe.scrollIntoViewIfNeeded();
    await harness.screenshot('1b-probe');
    await page.getByRole('checkbox', { name: /Probe live/ }).uncheck();
  }, 120_000);

  it('shows the node-pair table: in ipipMode Always every pair of nodes by IP-in-IP, and why', async () => {
    await page.getByRole('button', { name: 'Node pairs' }).click();
    const table = page.getByRole('table', { name: 'Node pairs' });
    await table.waitFor();
    const encapsulations = await Promise.all((await table.locator('tbody tr').all()).map((row) => row.getAttribute('data-encapsulation')));
    // The lab's four nodes: 4 x 3 ordered pairs, one pool.
    expect(encapsulations).toHaveLength(12);
    expect(new Set(encapsulations)).toEqual(new Set(['ipip']));
    await table.getByText('ipipMode Always, vxlanMode Never: always IP-in-IP').first().waitFor();
    await harness.screenshot('1c-node-pairs');
  });

  it('says what is wrong with a name that is no pod', async () => {
    await page.getByRole('textbox', { name: 'Destination' }).fill('pod-9');
    await page.getByRole('button', { name: 'Trace' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'No pod pod-9' });
    await alert.waitFor({ timeout: 30_000 });
    expect(await alert.textContent()).toContain('pods: pod-1, pod-2, pod-3');
    await harness.screenshot('2-unknown-pod');
  }, 60_000);

  it("ipipMode Never: the matrix's red cell pod-1 -> pod-3 opens its trace, which names the gateway and the fix", async () => {
    await patchPool({ ipipMode: 'Never' });
    await nav('Connectivity');
    const cell = page.locator('td[data-from="pod-1"][data-to="pod-3"]');
    const deadline = Date.now() + 120_000;
    while ((await cell.getAttribute('data-ok').catch(() => null)) !== 'false') {
      if (Date.now() > deadline) throw new Error('pod-1 -> pod-3 never turned red after ipipMode Never');
      const again = page.getByRole('button', { name: 'Probe again' });
      if (await again.isEnabled()) await again.click();
      await page.waitForTimeout(2000);
    }
    await harness.screenshot('3-matrix-never-red');
    await page.getByRole('link', { name: 'Trace pod-1 to pod-3' }).click();
    const verdict = page.locator('.verdict[role=status]');
    // The agents converge within seconds; trace again until the routes follow the pool.
    const until = Date.now() + 60_000;
    for (;;) {
      await verdict.waitFor({ timeout: 60_000 });
      if ((await verdict.getAttribute('data-code')) === 'gateway-cannot-route-pods') break;
      if (Date.now() > until) throw new Error(`the trace says ${await verdict.textContent()}`);
      await page.getByRole('button', { name: 'Trace' }).click();
      await page.waitForTimeout(1500);
    }
    expect(await verdict.getAttribute('data-ok')).toBe('false');
    expect(await verdict.textContent()).toContain("worker-1 sends pod-3's packets unencapsulated to the gateway 10.240.1.1 because the pool's ipipMode is Never");
    const failing = page.locator('ol.hops > li[data-status="fail"]').first();
    expect(await failing.getAttribute('data-kind')).toBe('underlay');
    expect(await failing.textContent()).toContain('set ipipMode CrossSubnet or Always');
    await harness.screenshot('4-trace-never-gateway');
  }, 300_000);
});
