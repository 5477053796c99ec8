// Starts the console in web mode on a backend of the test's choosing and opens it in Debian's
// Chromium, headless, with a fresh profile: what every e2e test needs first.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { ConsoleBackend, type ConsoleBackendOptions } from '../electron/backend/console-backend.ts';
import { buildRenderer } from '../electron/web/build-renderer.ts';
import { startWebServer, type WebServer } from '../electron/web/web-server.ts';

export interface ConsoleHarness {
  page: Page;
  server: WebServer;
  backend: ConsoleBackend;
  /** Where this test's screenshots go (under test-results/, which git ignores); `fullPage` takes the whole scrolled page. */
  screenshot(name: string, of?: Page, options?: { fullPage?: boolean }): Promise<void>;
  close(): Promise<void>;
}

export const chromiumFlags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export async function openConsole(name: string, options: ConsoleBackendOptions): Promise<ConsoleHarness> {
  const shots = join(process.cwd(), 'test-results', name);
  mkdirSync(shots, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'gcon-chromium-'));
  const backend = new ConsoleBackend(options);
  let server: WebServer | undefined;
  let browser: BrowserContext | undefined;
  try {
    server = await startWebServer({ backend, rendererDir: await buildRenderer({ quiet: true }) });
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: chromiumFlags,
      viewport: { width: 1280, height: 800 },
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(server.url);
    const opened = { server, browser };
    return {
      page,
      server,
      backend,
      screenshot: async (shot, of = page, shotOptions = {}) => {
        await of.screenshot({ path: join(shots, `${shot}.png`), ...shotOptions });
      },
      close: async () => {
        await opened.browser.close();
        await opened.server.close();
        backend.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await browser?.close();
    await server?.close();
    backend.close();
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
}

/** The connectivity matrix's verdicts as `from->to:ok` (HTTP answered), in table order. */
export async function matrixVerdicts(table: Locator): Promise<string[]> {
  const cells = table.locator('td[data-from]');
  const verdicts: string[] = [];
  for (let i = 0; i < (await cells.count()); i++) {
    const cell = cells.nth(i);
    verdicts.push(`${await cell.getAttribute('data-from')}->${await cell.getAttribute('data-to')}:${await cell.getAttribute('data-ok')}`);
  }
  return verdicts;
}
