// Builds the renderer with the repository's vite.config.ts into out/renderer, so that web mode
// serves exactly what the Electron window loads, under the same strict CSP (a dev server's inline
// hot-reload scripts would need a weaker one).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

export const rendererOutDir = fileURLToPath(new URL('../../out/renderer', import.meta.url));

export async function buildRenderer(options: { quiet?: boolean } = {}): Promise<string> {
  await build({
    configFile: fileURLToPath(new URL('../../vite.config.ts', import.meta.url)),
    logLevel: options.quiet ? 'error' : 'warn',
  });
  if (!existsSync(`${rendererOutDir}/index.html`)) throw new Error(`The renderer build left no ${rendererOutDir}/index.html.`);
  return rendererOutDir;
}
