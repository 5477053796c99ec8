// `npm run -s doctor -- [--lab | --kubeconfig FILE --context NAME] trace SRC DST [--port N] [--probe] [--json]`
// and `... pairs [--json]` (and scan, fix, bundle: cli-scan.ts):
// the console's doctor for scripts, the same backend code the GUI calls. Exit 0 when the path
// works, 1 when it does not (or cannot be judged), 2 on bad input.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from 'commander';
import { TraceEvidence } from '../../../shared/doctor/evidence.ts';
import { judgeProbe } from '../../../shared/doctor/probe.ts';
import { traceFromEvidence } from '../../../shared/doctor/trace.ts';
import type { NodePairTable } from '../../../shared/doctor/pairs.ts';
import type { TraceResult } from '../../../shared/doctor/trace-result.ts';
import { BadInput, doctorProgram, runDoctorProgram, withCliBackend, type GlobalOptions } from './cli-cluster.ts';
import { registerScanCommands } from './cli-scan.ts';
import { DoctorService } from './doctor-service.ts';

const hopMark = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', unknown: '??  ' } as const;

export function formatTrace(result: TraceResult): string {
  const end = (e: TraceResult['source']) => `${e.pod ?? e.text} (${e.ip}${e.node ? ` on ${e.node}` : ''})`;
  const lines = [`trace ${end(result.source)} -> ${end(result.destination)}${result.port ? ` TCP ${result.port}` : ''}${result.encapsulation ? `: ${result.encapsulation}` : ''}`, ''];
  result.hops.forEach((h, i) => {
    lines.push(`${String(i + 1).padStart(2)} ${hopMark[h.verdict.status]} ${h.title}  [${h.verdict.code}]`);
    lines.push(`        ${h.verdict.message}`);
    for (const e of h.evidence) lines.push(`          | ${e}`);
  });
  for (const gap of result.gaps) lines.push(`   not read: ${gap}`);
  lines.push('', `${result.verdict.ok ? 'REACHABLE' : 'NOT REACHABLE'} (${result.verdict.code}): ${result.verdict.message}`);
  if (result.ms !== undefined) lines.push(`(${result.ms} ms)`);
  return lines.join('\n');
}

function portOption(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new InvalidArgumentError('a TCP port is a whole number from 1 to 65535');
  return port;
}

/** The doctor on the cluster the options name, for the length of `use`. */
function withDoctor<T>(global: GlobalOptions, use: (doctor: DoctorService, context: string) => Promise<T>): Promise<T> {
  return withCliBackend(global, (backend, context) => use(new DoctorService(backend.ssh, backend.nodes, (c) => backend.clusters.kubeConfig(c)), context));
}

const encapText = { ipip: 'IP-in-IP', vxlan: 'VXLAN', direct: 'direct', local: 'local' } as const;

export function formatPairs(table: NodePairTable): string {
  const width = Math.max(4, ...table.nodes.map((n) => n.length));
  const lines = [`${'from'.padEnd(width)}  ${'to'.padEnd(width)}  ${'pool'.padEnd(20)}  ${'encapsulation'.padEnd(13)}  subnets     why`];
  for (const p of table.pairs) {
    const subnets = p.crossesSubnet === undefined ? 'unknown' : p.crossesSubnet ? 'crossed' : 'same';
    lines.push(`${p.from.padEnd(width)}  ${p.to.padEnd(width)}  ${p.pool.padEnd(20)}  ${encapText[p.encapsulation].padEnd(13)}  ${(subnets + (p.asymmetric ? ' ASYM' : '')).padEnd(10)}  ${p.why}`);
  }
  const asymmetric = table.pairs.filter((p) => p.asymmetric);
  if (asymmetric.length > 0) lines.push('', `ASYM: the way back is decided differently (${asymmetric.map((p) => `${p.from}->${p.to}`).join(', ')}): a node registered with a /32 address counts every other node as another subnet (calico#2375).`);
  for (const gap of table.gaps) lines.push(`not read: ${gap}`);
  return lines.join('\n');
}

async function pairs(global: GlobalOptions, options: { json?: boolean }): Promise<number> {
  const table = await withDoctor(global, (doctor, context) => doctor.pairs(context));
  process.stdout.write(options.json ? `${JSON.stringify(table, null, 2)}\n` : `${formatPairs(table)}\n`);
  return table.pairs.some((p) => p.asymmetric) || table.gaps.length > 0 ? 1 : 0;
}

async function trace(global: GlobalOptions, source: string, destination: string, options: { port?: number; json?: boolean; probe?: boolean; evidence?: string; saveEvidence?: string }): Promise<number> {
  const request = { source, destination, ...(options.port ? { port: options.port } : {}) };
  let result: TraceResult;
  if (options.evidence) {
    // A saved evidence file replays a trace without a cluster (and is how the unit tests' fixtures were made).
    const parsed = TraceEvidence.safeParse(JSON.parse(readFileSync(options.evidence, 'utf8')));
    if (!parsed.success) throw new BadInput(`${options.evidence} is not a doctor evidence file: ${parsed.error.issues[0]?.message ?? ''}`);
    const predicted = traceFromEvidence({ ...parsed.data, request: { ...parsed.data.request, ...request } });
    result = parsed.data.probe ? judgeProbe(predicted, parsed.data.probe) : predicted;
  } else {
    result = await withDoctor(global, async (doctor, context) => {
      const started = Date.now();
      const evidence = await doctor.evidence(context, request);
      const judged = { ...(await doctor.judge(evidence, options.probe ?? false)), ms: Date.now() - started };
      if (options.saveEvidence) writeFileSync(options.saveEvidence, `${JSON.stringify(evidence, null, 1)}\n`);
      return judged;
    });
  }
  process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatTrace(result)}\n`);
  return result.verdict.ok ? 0 : 1;
}

export async function main(argv: string[]): Promise<number> {
  let status = 0;
  const program = doctorProgram().description("why can't pod A reach pod B: the path hop by hop, with evidence (docs/doctor.md)");
  program
    .command('trace')
    .description('trace SRC (a pod: name, namespace/name or address) to DST (a pod or an address)')
    .argument('<source>')
    .argument('<destination>')
    .option('--port <n>', 'a TCP port the destination should listen on', portOption)
    .option('--probe', "also ping from the source's namespace with a short capture at each hop (about 4 s)")
    .option('--json', 'the result as JSON: {verdict: {ok, code, message}, hops: [...]}')
    .option('--evidence <file>', 'trace from a saved evidence file instead of the cluster')
    .option('--save-evidence <file>', 'also write the evidence read from the cluster to FILE')
    .action(async (source: string, destination: string, options: { port?: number; json?: boolean; probe?: boolean; evidence?: string; saveEvidence?: string }) => {
      status = await trace(program.opts<GlobalOptions>(), source, destination, options);
    });
  program
    .command('pairs')
    .description('every ordered pair of nodes: encapsulated (IP-in-IP, VXLAN) or direct, and why; subnet crossings; asymmetric pairs (exit 1 when there are any)')
    .option('--json', 'the table as JSON: {nodes, pools, pairs: [{from, to, pool, encapsulation, crossesSubnet, asymmetric, why}], gaps}')
    .action(async (options: { json?: boolean }) => {
      status = await pairs(program.opts<GlobalOptions>(), options);
    });
  registerScanCommands(program, withDoctor, (code) => (status = code), (message) => new BadInput(message));
  return runDoctorProgram(program, argv, 'doctor', () => status);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
