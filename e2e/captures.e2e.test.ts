// The Captures view in web mode, driven in Debian's Chromium: a live capture on a real sshd node
// in a network namespace, rows in the list, the tree and hex panes with the selected field's bytes
// highlighted, the display filter, the chart, the export (a download that tshark reads with the
// same packets), and the live path's rate: packets per second from tcpdump on the node to rows in
// the browser's list without a skipped packet.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshdNode, type SshdNode } from '../lab/testing/sshd-node.ts';
import { openConsole, type ConsoleHarness } from './console-harness.ts';

let node: SshdNode;
let work: string;
let harness: ConsoleHarness;
let page: Page;
let web: ChildProcess | undefined;

async function capturedCount(): Promise<number> {
  return Number(await page.getByTestId('captured').textContent());
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'gcap-e2e-'));
  node = await startSshdNode(1, { prefix: 'gcap', subnet: '100.64.217' });
  // A web server on the node, as the lab's pods serve: the seed's curl has something to fetch.
  web = spawn('ip', ['netns', 'exec', node.netns, process.execPath, '-e', "require('http').createServer((q,r)=>r.end('pod says hi\\n')).listen(80)"], { stdio: 'ignore' });
  harness = await openConsole('captures', {
    configDir: join(work, 'config'),
    ssh: { home: work, sshConfigPath: join(work, 'no-ssh-config'), agentSocket: '' },
  });
  page = harness.page;
  // The node and its host key, trusted as the Nodes section would (that flow has its own e2e test).
  const added = harness.backend.nodes.add({ name: 'worker-1', host: node.address, user: node.user, identityFile: node.userKey });
  const first = await harness.backend.ssh.connect(added.id);
  if (first.state === 'host-key-unknown') harness.backend.ssh.trust(first.prompt.promptId);
  await page.reload();
}, 180_000);

afterAll(async () => {
  web?.kill();
  await harness?.close();
  await node?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the Captures view', () => {
  it('captures live on a node, decodes each packet into list, tree and hex, filters, charts and exports', async () => {
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Captures' }).click();
    await page.getByRole('heading', { level: 1, name: 'Captures' }).waitFor();
    const form = page.locator('form.capture-form');
    // A preset fills node, interface and filter; here the node has no ens5, so we adjust the interface.
    await form.getByRole('combobox', { name: 'Preset' }).selectOption({ label: 'Direct: pod addresses on the wire' });
    expect(await form.getByRole('combobox', { name: 'Node' }).inputValue()).not.toBe('');
    expect(await form.getByRole('textbox', { name: 'Capture filter (BPF)' }).inputValue()).toBe('net 192.168.0.0/16');
    await form.getByRole('combobox', { name: 'Interface' }).fill('any');
    await form.getByRole('textbox', { name: 'Capture filter (BPF)' }).fill(`host ${node.address}`);
    await form.getByRole('button', { name: 'Start capture' }).click();
    const tab = page.getByRole('tab', { name: /^worker-1 any \(host .*\) · \d+ packets · live$/ });
    await tab.waitFor({ timeout: 30_000 });

    execFileSync('ping', ['-c', '3', '-i', '0.2', node.address], { stdio: 'ignore' });
    execFileSync('curl', ['-s', '--max-time', '5', `http://${node.address}/index.html`], { stdio: 'ignore' });
    const list = page.getByRole('grid', { name: 'Packets of worker-1 any' });
    await harness.screenshot('0-after-traffic');
    await list.getByRole('row').filter({ hasText: 'GET /index.html HTTP/1.1' }).first().waitFor({ timeout: 15_000 });
    await list.getByRole('row').filter({ hasText: 'echo reply' }).nth(2).waitFor();
    await harness.screenshot('1-live-list');

    // Tree and hex: the HTTP request's packet, its IPv4 source address highlighted in the bytes.
    await list.getByRole('row').filter({ hasText: 'GET /index.html HTTP/1.1' }).first().click();
    const tree = page.getByRole('tree', { name: /^Packet \d+ decoded$/ });
    await tree.getByRole('button', { name: /^Hypertext Transfer Protocol$/ }).waitFor();
    await tree.getByRole('button', { name: `Source Address: ${node.hostAddress}` }).click();
    const hex = page.getByRole('region', { name: 'Packet bytes' });
    // Linux cooked v2 (20 bytes) then the IPv4 header: the source address is bytes 32..35.
    expect(await hex.getAttribute('data-highlight')).toBe('32:4');
    const octets = node.hostAddress.split('.').map((o) => Number(o).toString(16).padStart(2, '0'));
    expect((await hex.locator('.hex-bytes .hl').allTextContents())).toEqual(octets);
    await tree.getByRole('button', { name: 'Request URI: /index.html' }).click();
    expect((await hex.locator('.hex-text .hl').allTextContents()).join('')).toBe('/index.html');
    await harness.screenshot('2-tree-and-hex');

    // The display filter: only ICMP, then a mistake explained.
    const filter = page.getByRole('textbox', { name: 'Display filter' });
    await filter.fill(`icmp && ip.dst == ${node.address}`);
    await expect.poll(async () => (await list.getByRole('row').allTextContents()).slice(1).every((r) => r.includes('echo request'))).toBe(true);
    expect(await list.getByRole('row').count()).toBe(1 + 3);
    await filter.fill('ip.dst == banana');
    await page.getByText('ip.dst compares with == or != to an address or CIDR, not "banana"').waitFor();
    await harness.screenshot('3-display-filter-error');
    await filter.fill('');

    // The chart counts every packet, by second and encapsulation.
    await expect.poll(async () => Number(await page.locator('.traffic-charts').getAttribute('data-packets'))).toBe(await capturedCount());

    // Stop, then export: the download is a pcapng that tshark reads with the same packets.
    await page.getByRole('button', { name: 'Stop capture on worker-1 any' }).click();
    await page.getByRole('status').filter({ hasText: 'Stopped.' }).waitFor();
    const captured = await capturedCount();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export pcapng' }).click()]);
    const file = join(work, download.suggestedFilename());
    await download.saveAs(file);
    expect(download.suggestedFilename()).toMatch(/^gingham-worker-1-any-\d{4}-\d{2}-\d{2}T\d{6}Z\.pcapng$/);
    const fields = execFileSync('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'frame.interface_name', '-e', 'http.request.uri'], { encoding: 'utf8' }).trim().split('\n');
    expect(fields).toHaveLength(captured);
    expect(fields.filter((f) => f === 'any\t/index.html')).toHaveLength(1);
    await harness.screenshot('4-stopped-and-exported');
  });

  it('carries a flood from tcpdump to rows in the list without skipping one, and says how fast', async () => {
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Captures' }).click();
    const form = page.locator('form.capture-form');
    await form.getByRole('combobox', { name: 'Node' }).selectOption({ label: 'worker-1' });
    await form.getByRole('combobox', { name: 'Interface' }).fill('any');
    await form.getByRole('textbox', { name: 'Capture filter (BPF)' }).fill('icmp');
    await form.getByRole('button', { name: 'Start capture' }).click();
    await page.getByRole('tab', { name: /^worker-1 any \(icmp\) · \d+ packets · live$/ }).waitFor({ timeout: 30_000 });
    const packets = 2 * 10_000;
    const list = page.getByRole('grid', { name: 'Packets of worker-1 any' });
    const rowsInList = async () => Number(await list.getAttribute('aria-rowcount')) - 1;
    const started = Date.now();
    const flood = promisify(execFile)('ping', ['-f', '-c', String(packets / 2), node.address]);
    // Until every captured packet is a row in the list (the flood is over and nothing moved for 5 s), at most 3 minutes.
    let last = -1;
    let lastChange = Date.now();
    let done = false;
    void flood.then(() => (done = true));
    while (Date.now() - started < 180_000) {
      const rows = await rowsInList();
      const captured = await capturedCount();
      if (rows !== last) [last, lastChange] = [rows, Date.now()];
      if (done && rows === captured && Date.now() - lastChange > 5_000) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const elapsed = (lastChange - started) / 1000;
    const captured = await capturedCount();
    const seen = await rowsInList();
    await harness.screenshot('5-flood-received');
    await page.getByRole('button', { name: 'Stop capture on worker-1 any' }).click();
    await page.getByRole('status').filter({ hasText: 'Stopped.' }).last().waitFor();
    const status = (await page.locator('.capture-status').textContent()) ?? '';
    console.log(`live path: ${seen} rows in the browser's list of ${captured} captured (${packets} sent by ping -f) in ${elapsed.toFixed(2)} s = ${Math.round(seen / elapsed)} packets/s from tcpdump on the node to rows; status: ${status}`);
    // Every packet that reached the backend is a row: none skipped by the view. (What the node's
    // kernel dropped because sshd could not carry it fast enough is reported, not hidden.)
    expect(seen).toBe(captured);
    expect(await page.locator('.skipped').filter({ hasText: 'not shown' }).count()).toBe(0);
    await harness.screenshot('5-after-flood');
    // Two captures side by side (as worker-1's and worker-3's ens5 would be): a second one, on lo.
    await form.getByRole('combobox', { name: 'Interface' }).fill('lo');
    await form.getByRole('button', { name: 'Start capture' }).click();
    await page.getByRole('tab', { name: /^worker-1 lo \(icmp\) · \d+ packets · live$/ }).waitFor({ timeout: 30_000 });
    await page.getByRole('checkbox', { name: 'Side by side' }).check();
    await page.getByRole('grid', { name: 'Packets of worker-1 lo' }).waitFor();
    expect(await page.getByRole('grid', { name: 'Packets of worker-1 any' }).count()).toBeGreaterThanOrEqual(1);
    await harness.screenshot('6-side-by-side');
    await page.getByRole('checkbox', { name: 'Side by side' }).uncheck();
    await page.getByRole('button', { name: 'Stop capture on worker-1 lo' }).click();
  });
});
