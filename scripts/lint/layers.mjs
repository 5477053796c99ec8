// The layering of docs/architecture.md as data: which folder is which layer, and what each layer may
// import. The lint rule (layering-rule.mjs) enforces it; the test beside it proves that it bites.

/**
 * Layers, most specific path first. `imports` lists the layers a file may import from. `testBed`:
 * the layer exists to run tests or measurements (the lab, e2e, bench), so that its files may use
 * test helpers (testing/ folders), which the product's layers may not.
 */
export const layers = [
  {
    name: 'shared',
    paths: ['shared/'],
    imports: ['shared'],
    // Pure TypeScript: it runs in the agent, the backend and the renderer alike.
    node: false,
    packages: ['zod', 'yaml', '@noble/hashes'],
  },
  {
    name: 'renderer',
    paths: ['renderer/'],
    imports: ['shared', 'renderer'],
    node: false,
    packages: ['react', 'react-dom', '@xterm/', 'recharts', '@tanstack/react-virtual', '@xyflow/react', 'elkjs', 'zod', '@noble/hashes', 'yaml'],
  },
  { name: 'electron/backend', paths: ['electron/backend/'], imports: ['shared', 'electron/backend'], node: true },
  { name: 'electron/web', paths: ['electron/web/'], imports: ['shared', 'electron/backend', 'electron/web'], node: true },
  { name: 'electron/main', paths: ['electron/main/'], imports: ['shared', 'electron/backend', 'electron/main'], node: true, electron: true },
  { name: 'electron/preload', paths: ['electron/preload/'], imports: ['shared', 'electron/preload'], node: false, electron: true },
  { name: 'agent', paths: ['agent/'], imports: ['shared', 'agent'], node: true },
  { name: 'lab', paths: ['lab/'], imports: ['shared', 'agent', 'lab'], node: true, testBed: true },
  { name: 'e2e', paths: ['e2e/'], imports: ['shared', 'lab', 'electron/backend', 'electron/web', 'e2e'], node: true, testBed: true },
  // bench may drive the console as the e2e tests do (e2e/console-harness.ts, e2e/console-scale.ts).
  { name: 'bench', paths: ['bench/'], imports: ['shared', 'agent', 'lab', 'e2e', 'bench'], node: true, testBed: true },
  { name: 'scripts', paths: ['scripts/'], imports: ['shared', 'scripts'], node: true },
];

/** Packages that only test files may import, whatever their layer (tests run under Node). */
export const testOnlyPackages = ['vitest', 'fast-check', 'ajv-formats', '@marcbachmann/cel-js', 'playwright-core', 'eslint'];

/** The layer a repository-relative path belongs to, or undefined for files outside every layer. */
export function layerOf(relativePath) {
  return layers.find((layer) => layer.paths.some((prefix) => relativePath.startsWith(prefix)));
}
