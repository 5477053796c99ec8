// Lint: typescript-eslint's recommended rules, plus the layering of docs/architecture.md (scripts/lint/layers.mjs).
import tseslint from 'typescript-eslint';
import globals from 'globals';
import gingham from './scripts/lint/layering-rule.mjs';

// Globals that exist only in a browser or only in Node: shared/ may use neither.
const browserOnly = ['window', 'document', 'navigator', 'localStorage', 'sessionStorage', 'HTMLElement', 'location'];
const nodeOnly = ['process', 'Buffer', 'require', '__dirname', '__filename', 'global', 'setImmediate'];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'out/', 'release/', '**/*.d.ts', 'test-results/', '.cache/'] },
  ...tseslint.configs.recommended,
  {
    plugins: { gingham },
    languageOptions: { globals: { ...globals.node } },
    rules: {
      'gingham/layering': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['shared/**/*.ts'],
    ignores: ['shared/**/*.test.ts'],
    rules: {
      'no-restricted-globals': ['error', ...[...browserOnly, ...nodeOnly].map((name) => ({
        name,
        message: 'shared/ is pure: no DOM and no Node globals. Pass what you need in as arguments.',
      }))],
    },
  },
  {
    files: ['renderer/**/*.{ts,tsx}', 'electron/preload/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-globals': ['error', ...nodeOnly.map((name) => ({ name, message: 'The renderer has no Node access.' }))],
    },
  },
);
