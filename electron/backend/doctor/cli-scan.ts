// The doctor's scan, fix and bundle commands for scripts (the same backend code as the console):
//   scan [--nodes A,B] [--json] [--save-evidence FILE | --evidence FILE]   exit 0 nothing found, 1 findings
//   fix ID [--yes]      shows the finding's fix; with --yes runs it and scans again (exit 0 verified)
//   bundle --nodes A,B [--out FILE] [--trace SRC DST]                       one .tar.gz for a ticket
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ScanEvidence } from '../../../shared/doctor/scan-evidence.ts';
import type { ScanResult } from '../../../shared/doctor/scan-result.ts';
import { scanFromEvidence } from '../../../shared/doctor/scan.ts';
import type { DoctorService } from './doctor-service.ts';

export interface GlobalOptions {
  lab?: boolean;
  kubeconfig?: string;
  context?: string;
}

type WithDoctor = <T>(global: GlobalOptions, use: (doctor: DoctorService, context: string) => Promise<T>) => Promise<T>;

const mark = { error: 'ERROR', warning: 'WARN ', info: 'info ' } as const;

export function formatScan(result: ScanResult): string {
  const lines: string[] = [];
  for (const f of result.findings) {
    lines.push(`${mark[f.severity]} ${f.node}  [${f.code}]  ${f.message}`);
    for (const e of f.evidence) lines.push(`        | ${e}`);
    if (f.fix) {
      lines.push(`        fix: ${f.fix.description}`);
      for (const c of f.fix.commands) lines.push(`          $ ${c}`);
      if (f.fix.safe) lines.push(`          (safe: \`doctor fix ${f.id} --yes\` runs it)`);
    }
  }
  for (const g of result.gaps) lines.push(`not read: ${g}`);
  const read = result.nodes.filter((n) => n.read).map((n) => `${n.name}${n.speaker ? ` (${n.speaker})` : ''}`);
  const errors = result.findings.filter((f) => f.severity === 'error').length;
  const warnings = result.findings.filter((f) => f.severity === 'warning').length;
  lines.push('', `${result.findings.length === 0 ? 'NOTHING FOUND' : `${errors} error(s), ${warnings} warning(s), ${result.findings.length - errors - warnings} note(s)`} on ${read.length} node(s): ${read.join(', ') || 'none read'}${result.ms !== undefined ? ` (${result.ms} ms)` : ''}`);
  return lines.join('\n');
}

const nodeList = (value: string) => value.split(',').map((n) => n.trim()).filter(Boolean);

export function registerScanCommands(program: Command, withDoctor: WithDoctor, setStatus: (code: number) => void, badInput: (message: string) => Error): void {
  const global = () => program.opts<GlobalOptions>();
  program
    .command('scan')
    .description("every node: the plan against the kernel (routes, devices, leftovers, VXLAN entries), BGP sessions and routes, MTU (devices, pods, DF probes), offloads, the agent, full disks (exit 1 when anything is found)")
    .option('--nodes <a,b>', 'only these nodes', nodeList)
    .option('--json', 'the result as JSON: {findings: [{id, code, node, severity, message, evidence, fix}], nodes, gaps}')
    .option('--evidence <file>', 'scan a saved evidence file instead of the cluster')
    .option('--save-evidence <file>', 'also write what was read to FILE')
    .action(async (options: { nodes?: string[]; json?: boolean; evidence?: string; saveEvidence?: string }) => {
      let result: ScanResult;
      if (options.evidence) {
        const parsed = ScanEvidence.safeParse(JSON.parse(readFileSync(options.evidence, 'utf8')));
        if (!parsed.success) throw badInput(`${options.evidence} is not a doctor scan evidence file: ${parsed.error.issues[0]?.message ?? ''}`);
        result = scanFromEvidence(parsed.data);
      } else {
        result = await withDoctor(global(), async (doctor, context) => {
          const started = Date.now();
          const evidence = await doctor.scanEvidence(context, options.nodes);
          if (options.saveEvidence) writeFileSync(options.saveEvidence, `${JSON.stringify(evidence, null, 1)}\n`);
          return { ...scanFromEvidence(evidence), ms: Date.now() - started };
        });
      }
      process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatScan(result)}\n`);
      setStatus(result.findings.length === 0 ? 0 : 1);
    });
  program
    .command('fix')
    .description("a finding's fix (its id from scan): shown, and with --yes run on its node, then the node is scanned again (exit 0 when the finding is gone)")
    .argument('<id>', 'the finding, as scan prints it: code@node:subject')
    .option('--yes', 'run it (without: only show what would run)')
    .option('--json', 'the result as JSON')
    .action(async (id: string, options: { yes?: boolean; json?: boolean }) => {
      const node = /^[a-z0-9-]+@([^:]+):/.exec(id)?.[1];
      if (!node) throw badInput(`${id} is not a finding's id (code@node:subject): take it from \`doctor scan\`.`);
      await withDoctor(global(), async (doctor, context) => {
        if (!options.yes) {
          const scan = await doctor.scan(context, [node]);
          const found = scan.findings.find((f) => f.id === id);
          if (!found) throw badInput(`${node} does not show ${id} now: scan again.`);
          process.stdout.write(`${formatScan({ ...scan, findings: [found] })}\n${found.fix?.safe ? 'Run it with --yes.' : 'This fix is not one the doctor runs.'}\n`);
          setStatus(1);
          return;
        }
        const result = await doctor.fix(context, id);
        if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        else {
          for (const r of result.ran) process.stdout.write(`$ ${r.command}  (exit ${r.code})${r.output ? `\n${r.output}` : ''}\n`);
          process.stdout.write(`${result.verified ? `VERIFIED: ${node} no longer shows ${id}` : `NOT VERIFIED: ${node} still shows ${id}`}\n`);
        }
        setStatus(result.verified ? 0 : 1);
      });
    });
  program
    .command('bundle')
    .description('one .tar.gz for a ticket: the scan (and a trace), the nodes\' tables, firewall, BGP, agent log and configuration, Calico\'s resources, plus one healthy node for comparison; secrets redacted')
    .requiredOption('--nodes <a,b>', 'the nodes the problem is on', nodeList)
    .option('--out <file>', 'where to write it (default: its own name in the current folder)')
    .option('--trace <src> [dst]', 'also trace SRC to DST (give both, e.g. --trace pod-1 pod-3)')
    .action(async (options: { nodes: string[]; out?: string; trace?: string | string[] }, command: Command) => {
      const traceWords = [options.trace, ...command.args].flat().filter((w): w is string => typeof w === 'string');
      if (options.trace !== undefined && traceWords.length !== 2) throw badInput('--trace takes a source and a destination: --trace pod-1 pod-3');
      const result = await withDoctor(global(), (doctor, context) => doctor.bundle(context, options.nodes, traceWords.length === 2 ? { source: traceWords[0]!, destination: traceWords[1]! } : undefined));
      const out = options.out ?? result.fileName;
      writeFileSync(out, Buffer.from(result.base64, 'base64'));
      process.stdout.write(`${out}: ${result.files.length} files from ${result.nodes.join(', ')}${result.healthyNode ? ` (${result.healthyNode}: healthy, for comparison)` : ''}\n`);
      process.stdout.write(result.redactions.length === 0 ? 'redacted: nothing\n' : `redacted:\n${result.redactions.map((r) => `  ${r.file}: ${r.count} x ${r.what}`).join('\n')}\n`);
      for (const gap of result.gaps) process.stdout.write(`not collected: ${gap}\n`);
      setStatus(0);
    });
}
