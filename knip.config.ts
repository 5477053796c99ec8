// knip (`npm run lint:unused`, part of `npm run lint` and `npm test`): files, exports and
// dependencies nothing uses. Only files git tracks count, so that another change's files still
// being written (untracked) neither hide an unused export nor are reported before they land.
import { execFileSync } from 'node:child_process';
import type { KnipConfig } from 'knip';
import { debianPackages } from './shared/host/debian-packages.ts';

function untrackedFiles(): string[] {
  try {
    const out = execFileSync('git', ['ls-files', '--others', '--exclude-standard'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').filter((file) => file !== '');
  } catch {
    return []; // not a git checkout (a source tarball): every file counts
  }
}

const notTracked = untrackedFiles().map((file) => `!${file}`);

const config: KnipConfig = {
  entry: [
    'agent/cli/bgp-bin.ts',
    'agent/cli/sea-main.ts',
    'electron/main/main.ts',
    'electron/preload/preload.ts',
    'electron/web/serve.ts',
    'lab/*/cli.ts',
    'bench/*.ts',
    'scripts/*.ts',
    'scripts/*.mjs',
    '**/*.test.ts',
    ...notTracked,
  ],
  project: ['**/*.{ts,tsx,mjs}', ...notTracked],
  ignoreExportsUsedInFile: true,
  // The programs the code runs are the declared Debian list's (shared/host/debian-packages.ts): one
  // that is not there is reported as an unlisted binary.
  ignoreBinaries: [...new Set(debianPackages.map((pkg) => pkg.provides))],
  // Electron's packaging tools, run by electron-builder.yml and scripts, not imported.
  ignoreDependencies: ['electron-builder', 'postject'],
};

export default config;
