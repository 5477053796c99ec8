// `npm run -s doctor -- [--lab | --kubeconfig FILE --context NAME] migrate NODE --to gingham|calico [--json]`:
// the node migration for scripts, the same backend code the console runs. Progress lines on
// stderr; the report on stdout (text, or with --json the report the console shows). Exit 0 when
// the node was migrated, 1 when it was rolled back (or failed), 2 on bad input (an unknown node,
// a node already migrated, no calico-node to go back to).
//
// npm's `doctor` script enters here: `migrate` is handled here, `reflectors` by
// reflectors/reflectors-cli.ts, every other command goes on to the staged switch's entry
// (switch/switch-cli.ts), which hands the doctor's own to doctor/cli.ts.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option } from 'commander';
import type { MigrationReport } from '../../../shared/api/migration-contract.ts';
import { doctorProgram, runDoctorProgram, withCliBackend, type GlobalOptions } from '../doctor/cli-cluster.ts';
import { reflectorsMain } from '../reflectors/reflectors-cli.ts';
import { commandOf, main as switchMain } from '../switch/switch-cli.ts';
import { MigrationService } from './migration-service.ts';

const seconds = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);

export function formatMigrationReport(report: MigrationReport): string {
  const plan = report.plan;
  const ended = { migrated: 'MIGRATED', 'rolled-back': 'ROLLED BACK', failed: 'FAILED', running: 'RUNNING' }[report.state];
  const lines = [`migrate ${plan.node} on ${plan.context}: ${plan.from === 'calico' ? 'calico-node' : 'Gingham agent'} -> ${plan.to === 'calico' ? 'calico-node' : 'Gingham agent'}: ${ended} in ${seconds(report.ms)}`, report.message, ''];
  const width = Math.max(...report.steps.map((s) => s.title.length));
  for (const s of report.steps) lines.push(`  ${s.state.toUpperCase().padEnd(8)} ${s.title.padEnd(width)}  ${seconds(s.ms).padStart(8)}  ${s.detail ?? ''}`);
  if (report.pods.length > 0) {
    lines.push('', 'pods of the node:');
    for (const p of report.pods) lines.push(`  ${p.name.padEnd(20)} ${p.ip.padEnd(16)} ${(p.iface ?? '-').padEnd(16)} ${p.kept ? 'kept' : 'NOT KEPT'}`);
  }
  if (report.loss.length > 0) {
    lines.push('', 'packets lost during the migration (a ping every 10 ms per pair):');
    for (const l of report.loss) lines.push(`  ${`${l.from} -> ${l.to}`.padEnd(20)}  ${String(l.lost).padStart(5)} of ${String(l.sent).padStart(6)}  longest gap ${l.longestGapMs} ms${l.error ? `  (${l.error})` : ''}`);
  }
  for (const note of plan.notes) lines.push('', `note: ${note}`);
  return lines.join('\n');
}

async function runMigrate(global: GlobalOptions, node: string, options: { to: 'gingham' | 'calico'; json?: boolean }): Promise<number> {
  return withCliBackend(global, async (backend, context) => {
    const service = new MigrationService(backend.ssh, backend.nodes, (c) => backend.clusters.kubeConfig(c));
    let printed = 0;
    const report = await service.run({ context, node, to: options.to, id: `cli-${process.pid}` }, (progress) => {
      for (const line of progress.log.slice(printed)) process.stderr.write(`migrate: ${line}\n`);
      printed = progress.log.length;
    });
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatMigrationReport(report)}\n`);
    return report.state === 'migrated' ? 0 : 1;
  });
}

async function migrateMain(argv: string[]): Promise<number> {
  let status = 0;
  const program = doctorProgram();
  program
    .command('migrate')
    .description('replace calico-node by the Gingham agent on NODE, or back, under a continuous ping between pods, rolled back on its own if a step fails (docs/mixed-clusters.md); exit 0 migrated, 1 rolled back, 2 bad input')
    .argument('<node>', 'the Kubernetes node')
    .addOption(new Option('--to <side>', 'gingham (the agent) or calico (calico-node)').choices(['gingham', 'calico']).makeOptionMandatory())
    .option('--json', 'the report as JSON')
    .action(async (node: string, options: { to: 'gingham' | 'calico'; json?: boolean }) => {
      status = await runMigrate(program.opts<GlobalOptions>(), node, options);
    });
  return runDoctorProgram(program, argv, 'doctor migrate', () => status);
}

export function main(argv: string[]): Promise<number> {
  const command = commandOf(argv);
  return command === 'migrate' ? migrateMain(argv) : command === 'reflectors' ? reflectorsMain(argv) : switchMain(argv);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
