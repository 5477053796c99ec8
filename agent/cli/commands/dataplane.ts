// `gingham-agent dataplane apply --state FILE [--watch]` and `gingham-agent routes [--json]`:
// program a desired-state document into this network namespace, and show the routing table with
// the owner of each route.
import { watchFile, unwatchFile } from 'node:fs';
import type { Command } from 'commander';
import { pino } from 'pino';
import { ValidationError } from '../../../shared/model/validation.ts';
import { ipipDeviceName } from '../../../shared/dataplane-plan/index.ts';
import { readRoutes } from '../../dataplane/kernel/snapshot.ts';
import { ReconcileLoop } from '../../dataplane/reconcile-loop.ts';
import { Reconciler } from '../../dataplane/reconciler.ts';
import { formatRouteTable, routeRows } from '../../dataplane/route-table.ts';
import { readOwners } from '../../dataplane/route-owners.ts';
import { StateFileError, readStateFile } from '../../dataplane/state-file.ts';

function fail(message: string, code = 2): never {
  console.error(`gingham-agent: ${message}`);
  process.exit(code);
}

function loadState(file: string) {
  try {
    return readStateFile(file);
  } catch (error) {
    if (error instanceof ValidationError || error instanceof StateFileError) fail(error.message);
    throw error;
  }
}

async function apply(options: { state: string; watch?: boolean; userspaceIpip?: boolean }): Promise<void> {
  const log = pino({ name: 'dataplane' }, pino.destination(2));
  let state = loadState(options.state);
  const reconciler = new Reconciler({ log, forceUserspaceIpip: options.userspaceIpip ?? false });

  if (!options.watch) {
    const report = await reconciler.pass(state);
    for (const warning of report.warnings) console.error(`warning: ${warning}`);
    for (const failure of report.failures) console.error(`kernel refused \`${failure.command}\`: ${failure.error}`);
    if (report.plan.ipip && reconciler.ipip.implementation === 'userspace') {
      console.error(`note: ${ipipDeviceName} is a user-space tunnel here (the kernel has no ipip): its helper keeps running after this command; the next \`dataplane apply\` takes it over, and a state without IP-in-IP pools (or \`--watch\` ended with SIGTERM) removes it`);
    }
    console.error(`applied ${options.state}: ${report.changes} kernel changes in ${Math.round(report.ms)} ms`);
    reconciler.ipip.detachTunnel();
    reconciler.close();
    process.exitCode = report.failures.length > 0 ? 1 : 0;
    return;
  }

  const loop = new ReconcileLoop(reconciler, state, log);
  reconciler.options.onNeedsPass = () => loop.trigger(0);
  loop.start();
  // Editors replace files rather than write them in place: poll the path, not an inode.
  watchFile(options.state, { interval: 100 }, () => {
    try {
      state = readStateFile(options.state);
      log.info(`re-read ${options.state}`);
      loop.setState(state);
    } catch (error) {
      log.error(`${(error as Error).message}\nkeeping the last valid state`);
    }
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: removing every route, device and table Gingham made`);
    unwatchFile(options.state);
    await loop.stop();
    const report = await reconciler.removeAll();
    for (const failure of report.failures) log.warn({ command: failure.command }, `kernel refused: ${failure.error}`);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

async function routes(options: { json?: boolean }): Promise<void> {
  const rows = routeRows(await readRoutes(), readOwners()?.routes ?? {});
  process.stdout.write(options.json ? JSON.stringify(rows, null, 2) + '\n' : formatRouteTable(rows));
}

export function registerDataplaneCommands(program: Command): void {
  const dataplane = program.command('dataplane').description('program routes, tunnels and NAT from a desired-state document');
  dataplane
    .command('apply')
    .description('apply a desired-state document (JSON or YAML) to this network namespace')
    .requiredOption('--state <file>', 'the desired-state document')
    .option('--watch', 'keep reconciling, re-read the file when it changes, remove everything on SIGTERM')
    .option('--userspace-ipip', 'use the user-space tunl0 even where the kernel has ipip')
    .action(apply);
  program
    .command('routes')
    .description('the routing table as `route -n` prints it, with the owner of each Gingham route')
    .option('--json', 'print JSON')
    .action(routes);
}
