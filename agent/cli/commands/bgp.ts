// `gingham-agent bgp | status | rib`: the BGP speaker. Not built yet (issue: the agent's BGP speaker).
import type { Command } from 'commander';

export function registerBgpCommands(program: Command): void {
  for (const name of ['bgp', 'status', 'rib']) {
    program
      .command(name)
      .description('(not built yet) the BGP speaker')
      .allowUnknownOption()
      .action(() => {
        console.error(`gingham-agent ${name}: the BGP speaker is not built yet.`);
        process.exitCode = 1;
      });
  }
}
