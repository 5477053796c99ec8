// The captures e2e on the lab, in web mode: for each routing mode of the seed's table (docs/lab.md), the Captures
// view captures on worker-1's ens5 (its preset) while pod-1 curls pod-3 (or pod-2, where only
// pod-2 answers), the list shows what the table's last column says, and the export opens in tshark
// with the same packets. The lab is taken exclusively: the test switches the IP pool's mode.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlOk, poolName } from '../lab/cluster/objects.ts';
import { labSrcdst } from '../lab/lab.ts';
import { useLab, type LabLease } from '../lab/testing/lab-fixture.ts';
import { curlFrom } from '../lab/testing/probes.ts';
import { openConsole, type ConsoleHarness } from './console-harness.ts';

let lab: LabLease;
let work: string;
let harness: ConsoleHarness;
let page: Page;
const ip: Record<string, string> = {};
const worker1 = '10.240.1.11';
const worker3 = '10.240.2.13';

async function patchPool(spec: Record<string, unknown>): Promise<void> {
  await kubectlOk(lab.status.kubeconfig!, ['patch', 'ippools.crd.projectcalico.org', poolName, '--type=merge', '-p', JSON.stringify({ spec })]);
}

/** Waits until pod-1 reaches `pod` (the agents have reconciled the new mode). */
async function reachable(pod: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if ((await curlFrom('pod-1', ip[pod]!, 2)).code === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`pod-1 did not reach ${pod} within 120 s`);
}

/**
 * Captures with a preset while pod-1 curls `pod`; returns the list's rows (as text) and the
 * exported file's tshark fields.
 */
async function captureWhileCurling(preset: string, pod: string, shot: string): Promise<{ rows: string[]; tshark: string[]; captured: number }> {
  await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Captures' }).click();
  const form = page.locator('form.capture-form');
  await form.getByRole('combobox', { name: 'Preset' }).selectOption({ label: preset });
  await form.getByRole('button', { name: 'Start capture' }).click();
  const tab = page.getByRole('tab', { name: /· live$/ });
  await tab.waitFor({ timeout: 60_000 });
  const curl = await curlFrom('pod-1', ip[pod]!, 10);
  expect(curl.code).toBe(0);
  const list = page.getByRole('grid', { name: 'Packets of worker-1 ens5' });
  await list.getByRole('row').filter({ hasText: 'GET / HTTP/1.1' }).first().waitFor({ timeout: 20_000 });
  await harness.screenshot(shot);
  await page.getByRole('button', { name: 'Stop capture on worker-1 ens5' }).click();
  await page.getByRole('status').filter({ hasText: 'Stopped.' }).last().waitFor();
  const rows = (await list.getByRole('row').allTextContents()).slice(1);
  const captured = Number(await page.getByTestId('captured').textContent());
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export pcap', exact: true }).click()]);
  const file = join(work, download.suggestedFilename());
  await download.saveAs(file);
  const tshark = execFileSync('tshark', ['-n', '-r', file, '-T', 'fields', '-E', 'separator=,', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ip.proto', '-e', 'udp.dstport', '-e', 'vxlan.vni', '-e', 'http.request.uri'], { encoding: 'utf8' })
    .trim()
    .split('\n');
  expect(tshark).toHaveLength(captured);
  await page.getByRole('button', { name: 'Discard capture on worker-1 ens5' }).click();
  return { rows, tshark, captured };
}

beforeAll(async () => {
  lab = await useLab({ exclusive: true, progress: (line) => console.log(`[lab] ${line}`) });
  for (const pod of lab.status.pods) ip[pod.name] = pod.ip;
  work = mkdtempSync(join(tmpdir(), 'gcap-lab-e2e-'));
  harness = await openConsole('captures-lab', {
    configDir: join(work, 'config'),
    ssh: { home: work, sshConfigPath: join(work, 'no-ssh-config'), agentSocket: '' },
  });
  page = harness.page;
  for (const node of lab.status.nodes.filter((n) => n.name === 'worker-1' || n.name === 'worker-3')) {
    const added = harness.backend.nodes.add({ name: node.name, host: node.address, user: 'root', identityFile: lab.status.sshKey! });
    const first = await harness.backend.ssh.connect(added.id);
    if (first.state === 'host-key-unknown') harness.backend.ssh.trust(first.prompt.promptId);
  }
  await page.reload();
  await patchPool({ ipipMode: 'Always', vxlanMode: 'Never' });
  await reachable('pod-3');
}, 1_500_000);

afterAll(async () => {
  await harness?.close();
  if (lab) {
    // Leave the lab as the seed starts: ipipMode Always, checks on.
    await patchPool({ ipipMode: 'Always', vxlanMode: 'Never' }).catch(() => undefined);
    await labSrcdst('all', true).catch(() => undefined);
    await lab.release();
  }
  if (work) rmSync(work, { recursive: true, force: true });
}, 300_000);

describe('captures on the lab, one per routing mode', () => {
  it('ipipMode Always: protocol 4 with node addresses outside and pod addresses inside', async () => {
    const { rows, tshark } = await captureWhileCurling('IP-in-IP: pod-1 to pod-3 on the wire', 'pod-3', '1-ipip');
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.every((r) => r.includes(`IPIP ${worker1} -> ${worker3}`) || r.includes(`IPIP ${worker3} -> ${worker1}`))).toBe(true);
    expect(rows.some((r) => r.includes(`IPIP ${worker1} -> ${worker3}${ip['pod-1']}${ip['pod-3']}HTTP`) && r.includes('GET / HTTP/1.1'))).toBe(true);
    expect(tshark).toContain(`${worker1},${ip['pod-1']},${worker3},${ip['pod-3']},4,6,,,/`);
  });

  it('vxlanMode Always: UDP 4789 with VNI 4096 around pod addresses', async () => {
    await patchPool({ ipipMode: 'Never', vxlanMode: 'Always' });
    await reachable('pod-3');
    const { rows, tshark } = await captureWhileCurling('VXLAN: pod-1 to pod-3 on the wire', 'pod-3', '2-vxlan');
    expect(rows.some((r) => r.includes(`VXLAN VNI 4096 ${worker1} -> ${worker3}${ip['pod-1']}${ip['pod-3']}HTTP`) && r.includes('GET / HTTP/1.1'))).toBe(true);
    expect(rows.every((r) => r.includes('VXLAN VNI 4096'))).toBe(true);
    expect(tshark.some((l) => l.startsWith(`${worker1},${ip['pod-1']},${worker3},${ip['pod-3']},17,6,4789,4096,/`))).toBe(true);
  });

  it('ipipMode Never with src/dst checks off: plain pod addresses to pod-2', async () => {
    await labSrcdst('all', false);
    await patchPool({ ipipMode: 'Never', vxlanMode: 'Never' });
    await reachable('pod-2');
    const { rows, tshark } = await captureWhileCurling('Direct: pod addresses on the wire', 'pod-2', '3-direct');
    expect(rows.some((r) => r.includes(`direct${ip['pod-1']}${ip['pod-2']}HTTP`) && r.includes('GET / HTTP/1.1'))).toBe(true);
    expect(rows.every((r) => r.includes('direct'))).toBe(true);
    expect(tshark).toContain(`${ip['pod-1']},${ip['pod-2']},6,,,/`);
  });
});
