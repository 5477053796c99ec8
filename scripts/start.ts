// `npm start`: the desktop console. With an Electron binary (and a display) it builds the main
// process, the preload script and the renderer into out/ and opens the window. Without one (as on
// a server, or where Electron's download was not allowed) it serves the same console in web mode
// and prints the URL to open. `npm run console:web` always takes the web path.
//
// The console opens on the lab, the newcomer's default cluster: run as root, it brings the lab up
// first when it is not (`--no-lab` skips that), and hands the lab's status to the backend, which
// then lists the lab's context and nodes. Without root it says how to start the lab.
//
// Each step of a first run (npm ci and the native build in ensure-deps.mjs, then the Debian
// packages, the control-plane build, lab up and the console being ready) prints its time, and the
// console's "ready" line is followed by all of them, so a slow first run says where it went.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildElectron } from './build-electron.ts';

/** `npm start -- --no-lab` opens the console without the lab; `--web` serves it to a browser (npm run console:web). */
const { values: options } = parseArgs({ options: { 'no-lab': { type: 'boolean', default: false }, web: { type: 'boolean', default: false } }, strict: true });

const root = fileURLToPath(new URL('../', import.meta.url));
const inRoot = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));

/** The steps of this start and their times, in order. */
const timings: Array<{ step: string; seconds: number }> = [];

/** What ensure-deps.mjs (run just before this by `npm start`) timed: npm ci and the native builds. */
function depsTimings(): Array<{ step: string; seconds: number }> {
  const file = inRoot('node_modules/.gingham-deps-timings.json');
  try {
    // Written at most a minute ago: by this `npm start`'s own ensure-deps, not an earlier one.
    if (Date.now() - statSync(file).mtimeMs > 60_000) return [];
    return (JSON.parse(readFileSync(file, 'utf8')) as { steps: Array<{ step: string; seconds: number }> }).steps;
  } catch {
    return [];
  }
}

function timed<T>(step: string, work: () => T): T {
  const started = Date.now();
  const result = work();
  const seconds = (Date.now() - started) / 1000;
  timings.push({ step, seconds });
  console.log(`[start] ${step}: ${seconds.toFixed(1)} s`);
  return result;
}

/** One of this checkout's TypeScript programs as a child, timed; resolves with its exit status. */
function timedChild(step: string, argv: string[], stdout: 'inherit' | 'ignore'): Promise<number> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', inRoot(argv[0]!), ...argv.slice(1)], { cwd: root, stdio: ['ignore', stdout, 'inherit'] });
    let ended = false;
    const done = (status: number) => {
      if (ended) return; // 'error' may come before 'exit'
      ended = true;
      const seconds = (Date.now() - started) / 1000;
      timings.push({ step, seconds });
      console.log(`[start] ${step}: ${seconds.toFixed(1)} s`);
      resolve(status);
    };
    child.on('error', () => done(1));
    child.on('exit', (code) => done(code ?? 1));
  });
}

// Read now: by the time the console is ready (minutes on a first run) the file is no longer fresh.
const startedAt = Date.now();
const depsSteps = depsTimings();

function summary(): string {
  const steps = [...depsSteps, ...timings];
  // Wall time: the Debian packages and the control-plane build overlap, so their sum would count twice.
  const total = depsSteps.reduce((sum, s) => sum + s.seconds, 0) + (Date.now() - startedAt) / 1000;
  return [
    'Time of each step of this start:',
    ...steps.map((s) => `  ${s.step.padEnd(44)} ${s.seconds.toFixed(1).padStart(7)} s`),
    `  ${'total (wall time)'.padEnd(44)} ${total.toFixed(1).padStart(7)} s (${(total / 60).toFixed(1)} min)`,
  ].join('\n');
}

/** The Electron binary that `npm install` downloaded, if it did. */
function electronBinary(): string | undefined {
  const pathFile = inRoot('node_modules/electron/path.txt');
  if (!existsSync(pathFile)) return undefined;
  const binary = inRoot(`node_modules/electron/dist/${readFileSync(pathFile, 'utf8').trim()}`);
  return existsSync(binary) ? binary : undefined;
}

function hasDisplay(): boolean {
  return process.platform !== 'linux' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
}

function run(command: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit', cwd: root });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** `npm run lab -- ARGS` as a child, with the console's progress lines passed through. */
function lab(args: string[], capture: boolean): { status: number; stdout: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', inRoot('lab/cli.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'],
  });
  return { status: result.status ?? 1, stdout: result.stdout ?? '' };
}

/** `lab status --json`'s document; anything else (a broken state folder) reads as no lab, and says so. */
function labDocument(stdout: string): { up?: boolean } | undefined {
  try {
    return JSON.parse(stdout) as { up?: boolean };
  } catch {
    console.log('`npm run lab -- status --json` did not print JSON; treating the lab as down (`npm run lab -- down` cleans up a broken one).');
    return undefined;
  }
}

/** The lab's status for the backend, in a file only this user reads; undefined without a lab. */
async function prepareLab(): Promise<string | undefined> {
  if (options['no-lab']) return undefined;
  if (process.getuid?.() !== 0) {
    console.log('The lab (the seed\'s cluster on this machine) needs root: start it with `sudo npm run lab -- up`, then `sudo npm start`. Opening the console without it.');
    return undefined;
  }
  let status = lab(['status', '--json'], true);
  let document = status.status === 0 ? labDocument(status.stdout) : undefined;
  if (!document?.up) {
    console.log("Bringing up the lab, the seed's cluster (master, worker-1..3, pod-1..3) in network namespaces on this machine.");
    console.log('The first time installs the Debian packages it runs and builds the Kubernetes control plane (minutes). `npm run lab -- down` removes it all; `npm start -- --no-lab` skips it.');
    // apt-get (network and disk) and the Go build (CPU) side by side: a first run waits for the longer only.
    const [packages, build] = await Promise.all([
      timedChild("Debian packages (the lab's)", ['lab/cli.ts', 'packages', '--for', 'lab'], 'inherit'),
      timedChild('control-plane build (etcd, kube-apiserver, kubectl)', ['lab/controlplane/cli.ts', 'build'], 'ignore'),
    ]);
    if (packages !== 0) {
      console.log('The lab cannot start without those packages (see above). Opening the console without it.');
      return undefined;
    }
    if (build !== 0) {
      console.log('The control plane did not build (see above). Opening the console without the lab; `npm run lab -- up` tries again.');
      return undefined;
    }
    if (timed('lab up', () => lab(['up', '--no-install'], false)).status !== 0) {
      console.log('The lab did not come up (see above). Opening the console without it; `npm run lab -- up` tries again.');
      return undefined;
    }
    status = lab(['status', '--json'], true);
    document = status.status === 0 ? labDocument(status.stdout) : undefined;
  }
  if (!document?.up) return undefined;
  const file = join(tmpdir(), `gingham-lab-status-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(document), { mode: 0o600 });
  process.on('exit', () => rmSync(file, { force: true }));
  console.log('The console opens on the lab: its context is `gingham-admin@gingham`, its nodes are listed under Nodes.');
  return file;
}

async function main(): Promise<number> {
  const webOnly = options.web;
  const labStatus = await prepareLab();
  if (labStatus) process.env.GINGHAM_LAB_STATUS = labStatus;
  const binary = webOnly ? undefined : electronBinary();
  if (binary && hasDisplay()) {
    console.log('Building the desktop console…');
    const started = Date.now();
    await buildElectron();
    timings.push({ step: 'desktop console build', seconds: (Date.now() - started) / 1000 });
    console.log(summary());
    const { version } = JSON.parse(readFileSync(inRoot('package.json'), 'utf8')) as { version: string };
    process.env.GINGHAM_APP_VERSION = version;
    return run(binary, [inRoot('out/main/main.js')]);
  }
  if (!webOnly) {
    console.log(
      binary
        ? 'No display to open a window on (DISPLAY/WAYLAND_DISPLAY unset): serving the console in web mode instead.'
        : "Electron's binary is not installed here (its download is optional; see README): serving the console in web mode instead.",
    );
  }
  return serveWeb();
}

/** The console in web mode, its output passed through; its "ready" line is timed and followed by the summary. */
function serveWeb(): Promise<number> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', inRoot('electron/web/serve.ts')], { stdio: ['inherit', 'pipe', 'inherit'], cwd: root });
    let told = false;
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      if (!told && chunk.toString().includes('is ready')) {
        told = true;
        const seconds = (Date.now() - started) / 1000;
        timings.push({ step: 'console ready (renderer build, backend)', seconds });
        console.log(`[start] console ready: ${seconds.toFixed(1)} s\n${summary()}`);
      }
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

process.exit(await main());
