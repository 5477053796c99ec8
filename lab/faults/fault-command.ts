// `npm run lab -- fault KIND [--node NODE] [--peer NODE] [--seconds N]`: one fault on the running
// lab, held for N seconds (or until Ctrl-C), then healed. `lab fault --list` names the kinds.
import type { Command } from 'commander';
import { faultContext, faultKind, faultKinds } from './faults.ts';

export function registerFaultCommand(program: Command, needRoot: () => void): void {
  program
    .command('fault')
    .description(`do a fault to the running lab, hold it, heal it (${faultKinds.map((f) => f.kind).join(', ')})`)
    .argument('[kind]', 'the fault; --list names them')
    .option('--node <node>', 'the node it is done to')
    .option('--peer <node>', 'the other end (bgp-flap)')
    .option('--seconds <n>', 'how long to hold it before healing (default: until Ctrl-C)')
    .option('--list', 'the faults and what each does')
    .action(async (kind: string | undefined, options: { node?: string; peer?: string; seconds?: string; list?: boolean }) => {
      if (options.list || !kind) {
        for (const f of faultKinds) console.log(`${f.kind.padEnd(14)} ${f.summary}${f.needs.length ? ` (needs --${f.needs.join(', --')})` : ''}`);
        return;
      }
      needRoot();
      const fault = faultKind(kind);
      const seconds = options.seconds === undefined ? undefined : Number(options.seconds);
      if (seconds !== undefined && !(seconds >= 0)) throw new Error(`--seconds must be a number of seconds, not ${options.seconds}`);
      const context = faultContext((line) => console.log(line));
      const injected = await fault.inject(context, { ...(options.node ? { node: options.node } : {}), ...(options.peer ? { peer: options.peer } : {}) });
      await new Promise<void>((resolve) => {
        const timer = seconds === undefined ? undefined : setTimeout(resolve, seconds * 1000);
        console.log(seconds === undefined ? 'holding the fault: Ctrl-C heals it' : `holding the fault for ${seconds} s`);
        process.once('SIGINT', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      await injected.heal();
    });
}
