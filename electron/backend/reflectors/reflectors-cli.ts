// `npm run -s doctor -- [--lab | --kubeconfig FILE --context NAME] reflectors [--json]`: the
// route reflector advice; `... reflectors migrate --to reflectors|mesh [--nodes A,B] [--cluster-id ID] [--json]`:
// the migration between the mesh and reflectors (docs/bgp.md, "Route reflectors"), the same
// backend code the console runs. Progress lines on stderr; the advice or report on stdout (text,
// or JSON as the console gets it). Exit 0 done, 1 stopped at a step, 2 bad input.
// migration-cli.ts (npm's `doctor` entry) hands `reflectors` here.
import { Option } from 'commander';
import type { ReflectorAdvice, ReflectorMigrationReport, ReflectorTarget } from '../../../shared/api/reflectors-contract.ts';
import { doctorProgram, runDoctorProgram, withCliBackend, type GlobalOptions } from '../doctor/cli-cluster.ts';
import { ReflectorsService } from './reflectors-service.ts';

const seconds = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);

export function formatAdvice(advice: ReflectorAdvice): string {
  const level = { 'mesh-fine': 'the mesh is fine', consider: 'consider route reflectors', advised: 'route reflectors advised' }[advice.level];
  const lines = [`route reflectors on ${advice.context}: ${level} (now: ${advice.topology})`, ''];
  for (const reason of advice.reasons) lines.push(`  ${reason}`);
  if (advice.sessions) lines.push(`  The agents publish ${advice.sessions.established} of ${advice.sessions.total} sessions Established.`);
  if (advice.problems.length > 0) lines.push('', 'problems:', ...advice.problems.map((p) => `  ${p}`));
  lines.push('', 'nodes:');
  const width = Math.max(4, ...advice.nodes.map((n) => n.name.length));
  for (const n of advice.nodes) lines.push(`  ${n.name.padEnd(width)}  ${n.role.padEnd(9)}  ${(n.address ?? '-').padEnd(15)}  ${(n.subnet ?? '-').padEnd(18)}  ${n.zone ?? '-'}${n.clusterId ? `  cluster ID ${n.clusterId}` : ''}`);
  lines.push('', 'proposed reflectors:');
  for (const c of advice.candidates) lines.push(`  ${c.node.padEnd(width)}  ${c.why}`);
  return lines.join('\n');
}

export function formatReflectorReport(report: ReflectorMigrationReport): string {
  const ended = { done: 'DONE', failed: 'STOPPED', running: 'RUNNING' }[report.state];
  const lines = [`reflectors on ${report.context}: to ${report.to === 'mesh' ? 'the node-to-node mesh' : `reflectors ${report.reflectors.join(', ')}`}: ${ended} in ${seconds(report.ms)}`, report.message, ''];
  const width = Math.max(...report.steps.map((s) => s.title.length));
  for (const s of report.steps) lines.push(`  ${s.state.toUpperCase().padEnd(8)} ${s.title.padEnd(width)}  ${seconds(s.ms).padStart(8)}  ${s.detail ?? ''}`);
  return lines.join('\n');
}

export async function reflectorsMain(argv: string[]): Promise<number> {
  let status = 0;
  const program = doctorProgram();
  const service = (backend: Parameters<Parameters<typeof withCliBackend>[1]>[0]) => new ReflectorsService(backend.ssh, backend.nodes, (c) => backend.clusters.kubeConfig(c));
  const reflectors = program
    .command('reflectors')
    .description("the route reflector advice: the mesh's sessions against Calico's thresholds, which nodes would make good reflectors")
    .option('--json', 'the advice as JSON')
    .action(async (options: { json?: boolean }) => {
      status = await withCliBackend(program.opts<GlobalOptions>(), async (backend, context) => {
        const advice = await service(backend).advice(context);
        process.stdout.write(options.json ? `${JSON.stringify(advice, null, 2)}\n` : `${formatAdvice(advice)}\n`);
        return 0;
      });
    });
  reflectors
    .command('migrate')
    .description('from the node-to-node mesh to route reflectors, or back, withdrawing no route on any node: reflectors established with every client and their routes received before the mesh goes (exit 0 done, 1 stopped at a step, 2 bad input)')
    .addOption(new Option('--to <topology>', 'reflectors or mesh').choices(['reflectors', 'mesh']).makeOptionMandatory())
    .option('--nodes <names>', "the reflector nodes, comma-separated (default: the advice's candidates)")
    .option('--cluster-id <id>', "the routeReflectorClusterID (default Calico's example 244.0.0.1)")
    .option('--json', 'the report as JSON')
    .action(async (options: { to: ReflectorTarget; nodes?: string; clusterId?: string; json?: boolean }) => {
      status = await withCliBackend(program.opts<GlobalOptions>(), async (backend, context) => {
        let printed = 0;
        const nodes = options.nodes?.split(',').map((n) => n.trim()).filter(Boolean);
        const report = await service(backend).migrate(
          { context, to: options.to, id: `cli-${process.pid}`, ...(nodes ? { nodes } : {}), ...(options.clusterId ? { clusterId: options.clusterId } : {}) },
          (progress) => {
            for (const line of progress.log.slice(printed)) process.stderr.write(`reflectors: ${line}\n`);
            printed = progress.log.length;
          },
        );
        process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReflectorReport(report)}\n`);
        return report.state === 'done' ? 0 : 1;
      });
    });
  return runDoctorProgram(program, argv, 'doctor reflectors', () => status);
}
