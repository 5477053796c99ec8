// Wire-to-screen latency of a live capture (ksniff#6), in Debian's Chromium: the console in web
// mode (e2e/console-harness.ts) capturing on a real sshd node while iperf3 sends it UDP at a steady
// rate. A packet's wire time is its kernel timestamp, read from the capture's export afterwards; its
// screen time is when the browser's list first counted it (a MutationObserver on the list's
// aria-rowcount, which React sets in the frame it draws the rows: the paint follows in that frame).
// The page's clock and the kernel's are this machine's. Prints p50/p99/max of the steady flow (from
// its first second to its last), and apart its last packets (tcpdump's last, partly filled block
// waits for the kernel's 1 s timeout), with rows skipped (then the mapping of rows to packets
// breaks, and the run says so).
// Run (root): npx tsx bench/capture-screen-latency.ts [--pps 10000] [--seconds 10] [--size 100] [--runs 3]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureReader } from '../shared/packets/capture-reader.ts';
import { startSshdNode } from '../lab/testing/sshd-node.ts';
import { openConsole } from '../e2e/console-harness.ts';
import { benchArgs } from './support/options.ts';

const cli = benchArgs(
  {
    pps: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    size: { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
  },
  'npx tsx bench/capture-screen-latency.ts [--pps 10000] [--seconds 10] [--size 100] [--runs 3]',
);
const pps = cli.number('pps');
const seconds = cli.number('seconds');
const size = cli.number('size');
const runs = cli.number('runs');
const port = 5312;

const percentile = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(1));

const work = mkdtempSync(join(tmpdir(), 'gcsl-'));
const node = await startSshdNode(3, { prefix: 'gcsl', subnet: '100.64.233' });
const harness = await openConsole('capture-screen-latency', { configDir: join(work, 'config'), ssh: { home: work, sshConfigPath: join(work, 'no-ssh-config'), agentSocket: '' } });
try {
  const page = harness.page;
  const added = harness.backend.nodes.add({ name: 'latency-node', host: node.address, user: node.user, identityFile: node.userKey });
  const first = await harness.backend.ssh.connect(added.id);
  if (first.state === 'host-key-unknown') harness.backend.ssh.trust(first.prompt.promptId);
  await page.reload();
  await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Captures' }).click();
  console.log(`${pps} packets/s of ${size}-byte UDP for ${seconds} s to the browser's list, ${runs} runs; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (let run = 1; run <= runs; run++) {
    const form = page.locator('form.capture-form');
    await form.getByRole('combobox', { name: 'Node' }).selectOption({ label: 'latency-node' });
    await form.getByRole('combobox', { name: 'Interface' }).fill('any');
    await form.getByRole('textbox', { name: 'Capture filter (BPF)' }).fill(`udp and dst port ${port}`);
    await form.getByRole('button', { name: 'Start capture' }).click();
    const tab = page.getByRole('tab', { name: /^latency-node any \(udp .*\) · \d+ packets · live$/ }).last();
    await tab.waitFor({ timeout: 30_000 });
    await tab.click();
    const list = page.getByRole('grid', { name: 'Packets of latency-node any' });
    await list.waitFor();
    // In the page: every change of the list's row count, with the page's wall clock.
    await list.evaluate((grid) => {
      const seen: Array<[number, number]> = [];
      (window as unknown as { gcslSeen: typeof seen }).gcslSeen = seen;
      new MutationObserver(() => seen.push([performance.timeOrigin + performance.now(), Number(grid.getAttribute('aria-rowcount')) - 1])).observe(grid, { attributes: true, attributeFilter: ['aria-rowcount'] });
    });
    const server = spawn('ip', ['netns', 'exec', node.netns, 'iperf3', '-s', '-1', '-p', String(port)], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 500));
    const sender = spawn('iperf3', ['-c', node.address, '-p', String(port), '-u', '-b', String(pps * size * 8), '-l', String(size), '-t', String(seconds + 1)], { stdio: 'ignore' });
    await new Promise((r) => sender.once('exit', r));
    server.kill();
    await new Promise((r) => setTimeout(r, 2000));
    const seen = await page.evaluate(() => (window as unknown as { gcslSeen: Array<[number, number]> }).gcslSeen);
    const status = (await page.locator('.capture-status').first().textContent()) ?? '';
    await page.getByRole('button', { name: 'Stop capture on latency-node any' }).click();
    await page.getByRole('status').filter({ hasText: 'Stopped.' }).last().waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export pcap', exact: true }).click()]);
    const file = join(work, `run-${run}.pcap`);
    await download.saveAs(file);
    const wire: number[] = [];
    new CaptureReader().push(readFileSync(file), (p) => wire.push(p.tsSec * 1000 + p.tsNsec / 1e6));
    // Packet n (1-based) reached the screen in the first change that counted n rows.
    const warm = (wire[0] ?? 0) + 1000;
    const cool = (wire.at(-1) ?? 0) - 1000;
    const steady: number[] = [];
    const tail: number[] = [];
    let k = 0;
    for (let n = 1; n <= wire.length; n++) {
      while (k < seen.length && seen[k]![1] < n) k++;
      if (k === seen.length) break;
      const latency = seen[k]![0] - wire[n - 1]!;
      if (wire[n - 1]! > cool) tail.push(latency);
      else if (wire[n - 1]! >= warm) steady.push(latency);
    }
    const sorted = Float64Array.from(steady).sort();
    const skipped = /(\d+) not shown/.exec(status)?.[1] ?? '0';
    console.log(
      `run ${run}: ${wire.length} packets, ${seen.at(-1)?.[1] ?? 0} rows counted in ${seen.length} draws; steady flow ${sorted.length} packets: wire to screen p50 ${ms(percentile(sorted, 50))} ms, p99 ${ms(percentile(sorted, 99))} ms, max ${ms(sorted.at(-1))} ms; ` +
        `its last ${tail.length} up to ${ms(tail.length ? Math.max(...tail) : undefined)} ms; ${skipped} rows not shown${skipped !== '0' ? ' (rows are then not packets one for one: the figures are off)' : ''}; load ${loadavg()[0]!.toFixed(2)}`,
    );
    await page.getByRole('button', { name: 'Discard capture on latency-node any' }).click();
  }
} finally {
  await harness.close();
  await node.stop();
  rmSync(work, { recursive: true, force: true });
}
