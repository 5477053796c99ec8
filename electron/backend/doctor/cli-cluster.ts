// What the doctor's commands share: which cluster the global options name (--lab, or --kubeconfig
// with --context), and a console backend on it for the length of one command. `doctor switch`
// (electron/backend/switch/switch-cli.ts) uses the same.
import { Command, CommanderError } from 'commander';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { ConsoleBackend } from '../console-backend.ts';
import { labDefaultsFrom, type LabDefaults } from '../lab/lab-defaults.ts';

/** Bad input on the command line: exit status 2. */
export class BadInput extends Error {}

export interface GlobalOptions {
  lab?: boolean;
  kubeconfig?: string;
  context?: string;
}

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The lab's status as `npm run lab -- status --json` prints it (the backend never imports the lab). */
function labDefaults(): LabDefaults {
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'lab/cli.ts'), 'status', '--json'], { cwd: repo, encoding: 'utf8' });
  if (result.status !== 0) throw new BadInput(`\`npm run lab -- status --json\` failed: ${(result.stderr || result.stdout).trim()}`);
  const defaults = labDefaultsFrom(JSON.parse(result.stdout));
  if (!defaults?.context) throw new BadInput('The lab is not up: start it with `sudo npm run lab -- up`, or give --kubeconfig FILE --context NAME.');
  return defaults;
}

/** A console backend on the cluster the options name, with that cluster's context, for the length of `use`. */
export async function withCliBackend<T>(global: GlobalOptions, use: (backend: ConsoleBackend, context: string) => Promise<T>): Promise<T> {
  if (!global.lab && !(global.kubeconfig && global.context)) throw new BadInput('Say which cluster: --lab, or --kubeconfig FILE --context NAME.');
  const lab = global.lab ? labDefaults() : undefined;
  const configDir = mkdtempSync(path.join(os.tmpdir(), 'gingham-doctor-'));
  const backend = new ConsoleBackend({
    // The user's own nodes and known hosts unless --lab (whose are given): read, never written.
    ...(lab ? { configDir, lab } : { lab: { nodes: [] } }),
    clusters: { paths: () => (global.kubeconfig ? [global.kubeconfig] : []) },
  });
  try {
    return await use(backend, lab?.context ?? global.context!);
  } finally {
    backend.close();
    rmSync(configDir, { recursive: true, force: true });
  }
}

/** The `doctor` program with the global options every doctor command takes (GlobalOptions). */
export function doctorProgram(): Command {
  return new Command('doctor')
    .option('--lab', "the lab's cluster: its kubeconfig, SSH key and known hosts (`npm run lab -- up`)")
    .option('--kubeconfig <file>', 'a kubeconfig file')
    .option('--context <name>', 'its context')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
}

/** ConsoleError codes that mean the command line asked for something wrong: exit status 2, as for bad input. */
const badInputCodes = new Set(['not-found', 'invalid-field', 'context-not-found', 'kubeconfig-unreadable', 'conflict']);

/**
 * Runs `program` on `argv` and gives the exit status: `status()` (what the command set), 2 for bad
 * input (usage, BadInput, an unknown node or context, a conflict), 1 for any other failure, which
 * is said on stderr as `NAME: message`.
 */
export async function runDoctorProgram(program: Command, argv: string[], name: string, status: () => number): Promise<number> {
  try {
    await program.parseAsync(argv, { from: 'user' });
    return status();
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const bad = error instanceof BadInput || (error instanceof ConsoleError && badInputCodes.has(error.code));
    process.stderr.write(`${name}: ${(error as Error).message}\n`);
    return bad ? 2 : 1;
  }
}
