// `npm run -s doctor -- [--lab | --kubeconfig FILE --context NAME] switch POOL MODE [--canary NODE,...] [--json]`:
// the staged mode switch for scripts, the same backend code the console runs. Progress lines on
// stderr; the report on stdout (text, or with --json the report the console exports). Exit 0 when
// the switch completed, 1 when it was rolled back (or failed), 2 on bad input.
//
// npm's `doctor` script enters here: `switch` is handled here, every other command goes to the
// doctor's own entry (doctor/cli.ts) unchanged.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppliedMode } from '../../../shared/model/node-encapsulation.ts';
import { parseSwitchMode } from '../../../shared/switch/modes.ts';
import type { SwitchReport } from '../../../shared/switch/switch-report.ts';
import { main as doctorMain } from '../doctor/cli.ts';
import { DoctorService } from '../doctor/doctor-service.ts';
import { BadInput, doctorProgram, runDoctorProgram, withCliBackend, type GlobalOptions } from '../doctor/cli-cluster.ts';
import { SwitchService } from './switch-service.ts';


/** The first word after the global options: the command. */
export function commandOf(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--kubeconfig' || arg === '--context') i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

const seconds = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);

export function formatSwitchReport(report: SwitchReport): string {
  const plan = report.plan;
  const ended = { switched: 'SWITCHED', 'rolled-back': 'ROLLED BACK', failed: 'FAILED', running: 'RUNNING' }[report.state];
  const lines = [`switch IP pool ${plan.pool} on ${plan.context}: ${plan.from.mode} -> ${plan.to.mode}: ${ended} in ${seconds(report.ms)}`];
  const stageLines = (stage: SwitchReport['stages'][number]) => {
    lines.push('', `stage ${stage.name} (${stage.nodes.join(', ')}): ${stage.verdict}: ${stage.reason}`, `  ${stage.how}`);
    const width = Math.max(4, ...stage.results.map((r) => r.node.length));
    for (const r of stage.results) lines.push(`  ${r.node.padEnd(width)}  ${r.converged ? `converged in ${seconds(r.ms)}` : 'NOT converged'}  ${r.detail}`);
    for (const p of stage.pairs) lines.push(`  ${`${p.from} -> ${p.to}`.padEnd(width + 10)}  ${p.before ? (p.after ? 'answers' : 'STOPPED ANSWERING') : p.after ? 'answers now (not before)' : 'did not answer before either'}${p.error ? `  ${p.error}` : ''}`);
  };
  for (const stage of report.stages) stageLines(stage);
  if (report.rollback) {
    lines.push('', `rollback: ${report.rollback.verified ? 'verified' : 'NOT verified'}: ${report.rollback.reason}`);
    if (report.rollback.verification) stageLines(report.rollback.verification);
  }
  for (const f of report.failures) lines.push('', `failed pair ${f.from} -> ${f.to}: ${f.why}`);
  if (report.loss.length > 0) {
    lines.push('', 'packets lost through the switch (a ping at 100 per second per pair):');
    for (const l of report.loss) lines.push(`  ${`${l.from} -> ${l.to}`.padEnd(20)}  ${String(l.lost).padStart(5)} of ${String(l.sent).padStart(6)}  longest gap ${l.longestGapMs} ms${l.longestGapAtMs !== undefined ? ` at ${seconds(l.longestGapAtMs)}` : ''}${l.error ? `  (${l.error})` : ''}`);
  }
  if (report.state === 'failed') lines.push('', report.phase);
  return lines.join('\n');
}

async function runSwitchCommand(global: GlobalOptions, pool: string, modeText: string, options: { canary?: string[]; json?: boolean }): Promise<number> {
  let mode: AppliedMode;
  try {
    mode = parseSwitchMode(modeText);
  } catch (error) {
    throw new BadInput((error as Error).message);
  }
  return withCliBackend(global, async (backend, context) => {
    const kubeConfigFor = (c: string) => backend.clusters.kubeConfig(c);
    const service = new SwitchService(backend.ssh, backend.nodes, kubeConfigFor, new DoctorService(backend.ssh, backend.nodes, kubeConfigFor));
    let printed = 0;
    const report = await service.run({ context, pool, mode, ...(options.canary ? { canary: options.canary } : {}), id: `cli-${process.pid}` }, (progress) => {
      for (const line of progress.log.slice(printed)) process.stderr.write(`switch: ${line}\n`);
      printed = progress.log.length;
    });
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatSwitchReport(report)}\n`);
    return report.state === 'switched' ? 0 : 1;
  });
}

async function switchMain(argv: string[]): Promise<number> {
  let status = 0;
  const program = doctorProgram();
  program
    .command('switch')
    .description("switch IP pool POOL to MODE in stages (canary nodes by an override, then the pool), each checked per node and per pod pair, rolled back on its own if a pair breaks (docs/mode-switch.md); exit 0 switched, 1 rolled back, 2 bad input")
    .argument('<pool>', 'the IPPool')
    .argument('<mode>', 'never, ipip-always, ipip-crosssubnet, vxlan-always or vxlan-crosssubnet (or as the console writes them: "VXLAN Always")')
    .option('--canary <nodes>', 'comma-separated nodes for the canary stage', (value: string) => value.split(',').map((n) => n.trim()).filter(Boolean))
    .option('--json', 'the report as JSON (what the console exports)')
    .action(async (pool: string, mode: string, options: { canary?: string[]; json?: boolean }) => {
      status = await runSwitchCommand(program.opts<GlobalOptions>(), pool, mode, options);
    });
  return runDoctorProgram(program, argv, 'doctor switch', () => status);
}

export function main(argv: string[]): Promise<number> {
  return commandOf(argv) === 'switch' ? switchMain(argv) : doctorMain(argv);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
