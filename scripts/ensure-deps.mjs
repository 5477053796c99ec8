#!/usr/bin/env node
// Installs the npm dependencies when they are missing or older than package-lock.json, so that
// `npm test` and `npm start` work straight after `git clone`. No dependencies of its own: it runs
// before there is a node_modules.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lock = path.join(root, 'package-lock.json');
const stamp = path.join(root, 'node_modules', '.gingham-lock-hash');

const wanted = createHash('sha256').update(readFileSync(lock)).digest('hex');
const have = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';

if (wanted !== have) {
  console.error(existsSync(path.join(root, 'node_modules'))
    ? 'npm dependencies are stale (package-lock.json changed): running npm ci ...'
    : 'npm dependencies are missing: running npm ci (first run only) ...');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('npm ci failed: check your network access to the npm registry, then run the command again.');
    process.exit(result.status ?? 1);
  }
  writeFileSync(stamp, wanted + '\n');
}
