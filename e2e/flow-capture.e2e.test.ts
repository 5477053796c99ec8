// The hop view on the lab, in web mode with Debian's Chromium: on the Captures page, "Follow a
// flow at both ends" from pod-1 (worker-1) to pod-3 (worker-3, the other subnet) while pod-1
// pings and fetches pod-3's page; the path per direction shows each hop's packets and latency, the
// list every packet's time at each of the six hops, one ping's journey from pod-1's veth through
// tunl0 and ens5 to worker-3 and pod-3 with its bytes at any hop; a ping dropped on worker-3 is
// shown lost after worker-3/tunl0; the export opens in tshark with the same packets and an
// interface per node and hop. Then the same in VXLAN, filtered on the VNI. The lab is taken
// exclusively (the test switches the pool's mode).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlOk, poolName } from '../lab/cluster/objects.ts';
import { curlFrom, labExec } from '../lab/testing/probes.ts';
import { openLabConsole, type LabConsole } from './lab-console.ts';

let lab: LabConsole;
let page: Page;
let work: string;
const ip: Record<string, string> = {};

async function patchPool(spec: Record<string, unknown>): Promise<void> {
  await kubectlOk(lab.lab.status.kubeconfig!, ['patch', 'ippools.crd.projectcalico.org', poolName, '--type=merge', '-p', JSON.stringify({ spec })]);
}

async function converged(dev: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const route = await labExec('worker-1', ['ip', 'route', 'get', ip['pod-3']!]).catch(() => ({ stdout: '' }));
    if (route.stdout.includes(`dev ${dev}`) && (await curlFrom('pod-1', ip['pod-3']!, 2)).code === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`pod-1 did not reach pod-3 through ${dev} within 120 s`);
}

const flow = () => page.getByRole('region', { name: 'Follow a flow at both ends' });
const journeys = () => flow().getByRole('table', { name: 'Packets hop by hop' });

/** Follows pod-1 -> pod-3 while `traffic` runs, stops, and waits for the stopped report. */
async function follow(traffic: () => Promise<void>, protocol = ''): Promise<void> {
  const form = page.getByRole('form', { name: 'Follow a flow' });
  await form.getByRole('textbox', { name: 'Source pod' }).fill('pod-1');
  await form.getByRole('textbox', { name: 'Destination pod' }).fill('pod-3');
  await form.getByRole('combobox', { name: 'Protocol' }).selectOption(protocol);
  await form.getByRole('button', { name: 'Follow flow' }).click();
  await page.getByRole('status').filter({ hasText: /^Following pod-1 \(worker-1\) ↔ pod-3 \(worker-3\)/ }).waitFor({ timeout: 60_000 });
  await traffic();
  // The live report shows the packets (each judged once every hop had 2 s to see it).
  await journeys().getByRole('row').filter({ hasText: 'every hop' }).first().waitFor({ timeout: 20_000 });
  await page.getByRole('button', { name: 'Stop flow' }).click();
  await page.getByRole('status').filter({ hasText: /^Followed pod-1/ }).waitFor({ timeout: 30_000 });
  await page.getByRole('button', { name: 'Discard flow' }).waitFor();
}

async function exportAndRead(): Promise<{ lines: string[]; interfaces: string[] }> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export flow (pcapng)' }).click()]);
  const file = path.join(work, download.suggestedFilename());
  await download.saveAs(file);
  const lines = execFileSync('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'frame.interface_name'], { encoding: 'utf8' }).trim().split('\n');
  return { lines, interfaces: [...new Set(lines)] };
}

/** The capture points' packet counts, from the table of points. */
async function pointCounts(): Promise<number[]> {
  const rows = page.getByRole('table', { name: 'Capture points' }).getByRole('row');
  const texts = await rows.evaluateAll((trs) => trs.slice(1).map((tr) => tr.querySelectorAll('td')[2]?.textContent ?? '0'));
  return texts.map(Number);
}

beforeAll(async () => {
  lab = await openLabConsole('flow-capture', { exclusive: true, waitMs: 1_200_000 });
  page = lab.page;
  work = mkdtempSync(path.join(tmpdir(), 'gflow-e2e-'));
  for (const pod of lab.lab.status.pods) ip[pod.name] = pod.ip;
  await patchPool({ ipipMode: 'Always', vxlanMode: 'Never' });
  await converged('tunl0');
}, 1_500_000);

afterAll(async () => {
  if (lab) {
    try {
      execFileSync('ip', ['netns', 'exec', 'worker-3', 'nft', 'delete', 'table', 'inet', 'gflow-e2e'], { stdio: 'ignore' });
    } catch {
      // not there: the test removed it
    }
    await patchPool({ ipipMode: 'Always', vxlanMode: 'Never' }).catch(() => undefined);
    await lab.close();
  }
  if (work) rmSync(work, { recursive: true, force: true });
}, 300_000);

describe('the hop view on the lab', () => {
  it('IP-in-IP: one ping followed from pod-1 through tunl0 and ens5 to pod-3, every packet at all six hops', async () => {
    await lab.connect();
    await lab.nav('Captures');
    await follow(async () => {
      await labExec('pod-1', ['ping', '-c', '5', '-i', '0.2', ip['pod-3']!]);
      expect((await curlFrom('pod-1', ip['pod-3']!, 10)).code).toBe(0);
    });
    const forward = page.getByRole('figure', { name: 'Path pod-1 -> pod-3' });
    await expect.poll(async () => forward.locator('figcaption').innerText()).toMatch(/pod-1 -> pod-3 \(IP-in-IP, outer 10\.240\.1\.11 → 10\.240\.2\.13\): (\d+) packets, \1 seen at every hop/);
    await expect.poll(async () => page.getByRole('figure', { name: 'Path pod-3 -> pod-1' }).locator('figcaption').innerText()).toMatch(/: (\d+) packets, \1 seen at every hop/);
    const hopNames = await forward.locator('.hop-name').allInnerTexts();
    expect(hopNames.map((n) => n.replace(/cali[0-9a-f]+$/, 'cali'))).toEqual(['worker-1/cali', 'worker-1/tunl0', 'worker-1/ens5', 'worker-3/ens5', 'worker-3/tunl0', 'worker-3/cali']);
    // Every row seen at every hop; no dash in any hop column.
    const rows = journeys().getByRole('row');
    const texts = (await rows.allInnerTexts()).slice(1);
    expect(texts.length).toBeGreaterThan(15);
    expect(texts.every((t) => t.includes('every hop') && !t.includes('—'))).toBe(true);
    await lab.harness.screenshot('flow-1-ipip-hops', page, { fullPage: true });

    // One echo request, hop by hop.
    await rows.filter({ hasText: 'echo request' }).filter({ hasText: 'seq 2' }).click();
    const detail = page.getByRole('region', { name: /^Packet \d+ hop by hop$/ });
    const steps = await detail.getByRole('listitem').allInnerTexts();
    expect(steps).toHaveLength(6);
    expect(steps[0]).toMatch(/^worker-1\/cali\w+\s+\d\d:\d\d:\d\d\.\d{6}\s+left pod-1/);
    expect(steps[1]).toMatch(/worker-1\/tunl0.*\(\+[\d.]+ (µs|ms)\).*routed into the tunnel/s);
    expect(steps[2]).toMatch(/worker-1\/ens5.*encapsulated: IPIP 10\.240\.1\.11 -> 10\.240\.2\.13/s);
    expect(steps[3]).toMatch(/worker-3\/ens5.*arrived: IPIP 10\.240\.1\.11 -> 10\.240\.2\.13/s);
    expect(steps[4]).toMatch(/worker-3\/tunl0.*decapsulated/s);
    expect(steps[5]).toMatch(/worker-3\/cali\w+.*reached pod-3/s);
    // Its bytes on worker-1's ens5: the outer header around the ping.
    await detail.getByRole('button', { name: /^Packet \d+ of worker-1\/ens5$/ }).click();
    await page.getByRole('treeitem').filter({ hasText: 'Internet Protocol Version 4, Src: 10.240.1.11, Dst: 10.240.2.13' }).first().waitFor();
    await lab.harness.screenshot('flow-2-ipip-one-ping', page, { fullPage: true });

    // Filters on the inner addresses: the echo requests only.
    await flow().getByRole('textbox', { name: 'Display filter' }).fill(`ip.dst == ${ip['pod-3']} && icmp`);
    await expect.poll(async () => (await journeys().getByRole('row').count()) - 1).toBe(5);

    const counts = await pointCounts();
    const exported = await exportAndRead();
    expect(exported.lines).toHaveLength(counts.reduce((a, b) => a + b, 0));
    expect(exported.interfaces.map((n) => n.replace(/cali[0-9a-f]+$/, 'cali')).sort()).toEqual(['worker-1/cali', 'worker-1/ens5', 'worker-1/tunl0', 'worker-3/cali', 'worker-3/ens5', 'worker-3/tunl0']);
    await flow().getByRole('textbox', { name: 'Display filter' }).fill('');
  }, 240_000);

  it('a ping dropped on worker-3 after decapsulation is shown lost after worker-3/tunl0', async () => {
    execFileSync('ip', ['netns', 'exec', 'worker-3', 'nft', '-f', '-'], {
      input: `table inet gflow-e2e {\n chain forward {\n  type filter hook forward priority -10; policy accept;\n  ip saddr ${ip['pod-1']} ip daddr ${ip['pod-3']} icmp type echo-request icmp sequence 3 drop\n }\n}\n`,
    });
    await follow(async () => {
      await labExec('pod-1', ['ping', '-c', '5', '-i', '0.2', ip['pod-3']!]);
    }, 'icmp');
    execFileSync('ip', ['netns', 'exec', 'worker-3', 'nft', 'delete', 'table', 'inet', 'gflow-e2e']);
    const lost = journeys().getByRole('row').filter({ hasText: 'lost after worker-3/tunl0' });
    await lost.waitFor();
    expect(await lost.count()).toBe(1);
    expect(await lost.innerText()).toMatch(/echo request id \d+ seq 3/);
    await expect.poll(async () => page.getByRole('figure', { name: 'Path pod-1 -> pod-3' }).locator('figcaption').innerText()).toMatch(/5 packets, 4 seen at every hop · 1 vanished/);
    await flow().getByRole('combobox', { name: 'Packets' }).selectOption('vanished');
    await expect.poll(async () => (await journeys().getByRole('row').count()) - 1).toBe(1);
    await journeys().getByRole('row').nth(1).click();
    const steps = await page.getByRole('region', { name: /hop by hop$/ }).getByRole('listitem').allInnerTexts();
    expect(steps[5]).toMatch(/not seen here: lost after worker-3\/tunl0/);
    await lab.harness.screenshot('flow-3-ipip-vanished', page, { fullPage: true });
    await flow().getByRole('combobox', { name: 'Packets' }).selectOption('all');
  }, 180_000);

  it('VXLAN: VNI 4096 on the underlay, every packet at all six hops, filtered on the VNI', async () => {
    await patchPool({ ipipMode: 'Never', vxlanMode: 'Always' });
    await converged('vxlan.calico');
    await follow(async () => {
      await labExec('pod-1', ['ping', '-c', '5', '-i', '0.2', ip['pod-3']!]);
      expect((await curlFrom('pod-1', ip['pod-3']!, 10)).code).toBe(0);
    });
    await page.getByRole('status').filter({ hasText: /VXLAN, VNI 4096, 6 capture points/ }).waitFor();
    await expect.poll(async () => page.getByRole('figure', { name: 'Path pod-1 -> pod-3' }).locator('figcaption').innerText()).toMatch(/\(VXLAN, outer 10\.240\.1\.11 → 10\.240\.2\.13\): (\d+) packets, \1 seen at every hop/);
    const all = (await journeys().getByRole('row').count()) - 1;
    await flow().getByRole('textbox', { name: 'Display filter' }).fill('vxlan.vni == 4096');
    await expect.poll(async () => (await journeys().getByRole('row').count()) - 1).toBe(all);
    await flow().getByRole('textbox', { name: 'Display filter' }).fill('vxlan.vni == 4097');
    await expect.poll(async () => (await journeys().getByRole('row').count()) - 1).toBe(0);
    await flow().getByRole('textbox', { name: 'Display filter' }).fill('vxlan.vni == 4096 && http');
    await journeys().getByRole('row').filter({ hasText: 'GET / HTTP/1.1' }).click();
    const steps = await page.getByRole('region', { name: /hop by hop$/ }).getByRole('listitem').allInnerTexts();
    expect(steps[2]).toMatch(/worker-1\/ens5.*encapsulated: VXLAN VNI 4096 10\.240\.1\.11 -> 10\.240\.2\.13/s);
    await lab.harness.screenshot('flow-4-vxlan', page, { fullPage: true });
    const counts = await pointCounts();
    const exported = await exportAndRead();
    expect(exported.lines).toHaveLength(counts.reduce((a, b) => a + b, 0));
    expect(exported.interfaces.map((n) => n.replace(/cali[0-9a-f]+$/, 'cali')).sort()).toEqual(['worker-1/cali', 'worker-1/ens5', 'worker-1/vxlan.calico', 'worker-3/cali', 'worker-3/ens5', 'worker-3/vxlan.calico']);
  }, 300_000);
});
