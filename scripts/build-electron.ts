// Builds the desktop app into out/: the main process (ESM, dependencies left to node_modules,
// electron provided at run time), the sandboxed preload script (one CommonJS file that requires
// only electron, as a sandboxed preload must be) and the renderer. `npm start` runs the result.
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const inRoot = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));

export async function buildElectron(outRoot: string = inRoot('out')): Promise<void> {
  const common = { configFile: false as const, root: inRoot(''), logLevel: 'warn' as const };
  await build({
    ...common,
    build: {
      ssr: inRoot('electron/main/main.ts'),
      outDir: `${outRoot}/main`,
      emptyOutDir: true,
      target: 'node22',
      rolldownOptions: { external: ['electron'], output: { format: 'es', entryFileNames: 'main.js' } },
    },
  });
  await build({
    ...common,
    build: {
      outDir: `${outRoot}/preload`,
      emptyOutDir: true,
      target: 'chrome130',
      lib: { entry: inRoot('electron/preload/preload.ts'), formats: ['cjs'], fileName: () => 'preload.cjs' },
      rolldownOptions: { external: ['electron'] },
    },
  });
  await build({ configFile: inRoot('vite.config.ts'), logLevel: 'warn', build: { outDir: `${outRoot}/renderer` } });
}
