// `npm start`: the desktop console. With an Electron binary (and a display) it builds the main
// process, the preload script and the renderer into out/ and opens the window. Without one (as on
// a server, or where Electron's download was not allowed) it serves the same console in web mode
// and prints the URL to open. `npm run console:web` always takes the web path.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildElectron } from './build-electron.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const inRoot = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));

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

async function main(): Promise<number> {
  const webOnly = process.argv.includes('--web');
  const binary = webOnly ? undefined : electronBinary();
  if (binary && hasDisplay()) {
    console.log('Building the desktop console…');
    await buildElectron();
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
  return run(process.execPath, ['--import', 'tsx', inRoot('electron/web/serve.ts')]);
}

process.exit(await main());
