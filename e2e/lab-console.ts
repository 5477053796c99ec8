// The console opened on the lab as a newcomer's would be: the lab's kubeconfig as its cluster, the
// lab's nodes (with their known host keys and the lab's SSH key) as its SSH nodes, in a config
// folder of the test's own. What every e2e test of a page that works on the lab needs first.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { parse } from 'yaml';
import { useLab, type LabLease } from '../lab/testing/lab-fixture.ts';
import { openConsole, type ConsoleHarness } from './console-harness.ts';

export interface LabConsole {
  lab: LabLease;
  harness: ConsoleHarness;
  page: Page;
  /** The lab's kubeconfig context. */
  context: string;
  /** Opens a section from the sidebar. */
  nav(name: string): Promise<void>;
  /** Connects to the lab's cluster on the Clusters page and waits until it says so. */
  connect(): Promise<void>;
  close(): Promise<void>;
}

export async function openLabConsole(name: string, options: { exclusive?: boolean; waitMs?: number } = {}): Promise<LabConsole> {
  const lab = await useLab({ ...options, progress: (line) => console.log(`lab: ${line}`) });
  const dir = mkdtempSync(path.join(tmpdir(), `g${name}-e2e-`));
  try {
    const status = lab.status;
    const context = (parse(readFileSync(status.kubeconfig!, 'utf8')) as { 'current-context': string })['current-context'];
    const configDir = path.join(dir, 'config');
    mkdirSync(configDir);
    copyFileSync(status.knownHosts!, path.join(configDir, 'known_hosts'));
    writeFileSync(path.join(configDir, 'nodes.json'), JSON.stringify({ nodes: status.nodes.map((n) => ({ id: `node-${n.name}`, name: n.name, host: n.address, user: 'root', identityFile: status.sshKey })) }));
    const harness = await openConsole(name, { configDir, clusters: { paths: () => [status.kubeconfig!] } });
    const page = harness.page;
    const nav = (section: string) => page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: section }).click();
    return {
      lab,
      harness,
      page,
      context,
      nav,
      connect: async () => {
        await nav('Clusters');
        await page.getByRole('button', { name: `Connect to ${context}` }).click();
        await page.getByRole('status').filter({ hasText: `Connected to ${context}` }).waitFor();
      },
      close: async () => {
        await harness.close();
        await lab.release();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await lab.release();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
