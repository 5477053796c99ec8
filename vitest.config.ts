// Three test tiers, one runner. scripts/test.ts decides which tiers run and checks their needs
// (root, Debian packages) first; this file only says which files belong to which tier.
import { defineConfig } from 'vitest/config';

const ignored = ['**/node_modules/**', '**/dist/**', '**/out/**'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.test.ts', '**/*.test.tsx'],
          exclude: [...ignored, '**/*.int.test.ts', '**/*.e2e.test.ts'],
        },
      },
      {
        // Real kernels, daemons and API servers: one file at a time, so that timing-sensitive
        // tests (hold timers, convergence) do not compete for this machine's two cores.
        test: {
          name: 'integration',
          include: ['**/*.int.test.ts'],
          exclude: ignored,
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 600_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['e2e/**/*.e2e.test.ts'],
          exclude: ignored,
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
