#!/usr/bin/env node
// Installs the npm dependencies when they are missing or older than package-lock.json, so that
// `npm test` and `npm start` work straight after `git clone`. No dependencies of its own: it runs
// before there is a node_modules.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lock = path.join(root, 'package-lock.json');
const stamp = path.join(root, 'node_modules', '.gingham-lock-hash');

// How long each first-run step took, for `npm start`'s summary (scripts/start.ts reads it).
const timingsFile = path.join(root, 'node_modules', '.gingham-deps-timings.json');
const timings = [];
const timedStep = (name, work) => {
  const started = Date.now();
  const result = work();
  const seconds = (Date.now() - started) / 1000;
  timings.push({ step: name, seconds });
  console.error(`[first run] ${name}: ${seconds.toFixed(1)} s`);
  return result;
};

const wanted = createHash('sha256').update(readFileSync(lock)).digest('hex');
const have = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';

if (process.argv.includes('--stamp-only')) {
  // Run by npm as the postinstall script: whatever npm just installed matches the lockfile, so a
  // developer's own `npm install <pkg>` does not make the next `npm test` reinstall everything.
  writeFileSync(stamp, wanted + '\n');
  process.exit(0);
}

if (wanted !== have) {
  console.error(existsSync(path.join(root, 'node_modules'))
    ? 'npm dependencies are stale (package-lock.json changed): running npm ci ...'
    : 'npm dependencies are missing: running npm ci (first run only) ...');
  const result = timedStep('npm ci', () => spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' }));
  if (result.status !== 0) {
    console.error('npm ci failed: check your network access to the npm registry, then run the command again.');
    process.exit(result.status ?? 1);
  }
  writeFileSync(stamp, wanted + '\n');
}

// Native parts (the few things Node has no API for: TCP_MD5SIG, TUN, raw sockets) live in
// `native/` folders with a binding.gyp. Build each when its sources changed, with npm's own
// node-gyp and this Node's headers, so a fresh clone needs no extra step.
function nativeDirs(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === 'node_modules' || entry.name === 'build') continue;
    const child = path.join(dir, entry.name);
    if (entry.name === 'native' && existsSync(path.join(child, 'binding.gyp'))) found.push(child);
    else found.push(...nativeDirs(child));
  }
  return found;
}

for (const dir of nativeDirs(path.join(root, 'agent'))) {
  const hash = createHash('sha256');
  for (const name of readdirSync(dir).sort()) {
    if (/\.(gyp|c|cc|h)$/.test(name)) hash.update(name).update(readFileSync(path.join(dir, name)));
  }
  const digest = hash.digest('hex');
  const builtStamp = path.join(dir, 'build', '.source-hash');
  if (existsSync(builtStamp) && readFileSync(builtStamp, 'utf8').trim() === digest) continue;
  console.error(`Building the native part in ${path.relative(root, dir)} ...`);
  const npmRoot = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' }).stdout.trim();
  const gyp = path.join(npmRoot, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const headers = existsSync('/usr/include/node/node_api.h') ? ['--nodedir=/usr'] : [];
  const result = timedStep(`native build of ${path.relative(root, dir)}`, () => spawnSync(process.execPath, [gyp, 'rebuild', ...headers], { cwd: dir, stdio: 'inherit' }));
  if (result.status !== 0) {
    console.error(`Building ${path.relative(root, dir)} failed: it needs gcc, make and python3 (apt-get install build-essential python3).`);
    process.exit(result.status ?? 1);
  }
  writeFileSync(builtStamp, digest + '\n');
}

writeFileSync(timingsFile, JSON.stringify({ at: Date.now(), steps: timings }) + '\n');
