// `gingham-agent cni`: the CNI 1.0 plugin. A container runtime runs it with CNI_COMMAND and the
// other CNI_* variables set and the network configuration on stdin (install it in the runtime's
// CNI bin folder as a small script that runs this command, named after the config's "type").
import type { Command } from 'commander';
import { runCni } from '../../cni/main.ts';

export function registerCniCommands(program: Command): void {
  program
    .command('cni')
    .description('the CNI plugin: run by a container runtime with CNI_* variables and the network config on stdin')
    .action(async () => {
      const code = await runCni();
      // The API client keeps connections alive; a CNI call is one request and must end now.
      process.stdout.write('', () => process.exit(code));
    });
}
