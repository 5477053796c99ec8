// `gingham-agent dataplane | routes`: route programming. Not built yet (issue: the agent's dataplane).
import type { Command } from 'commander';

export function registerDataplaneCommands(program: Command): void {
  for (const name of ['dataplane', 'routes']) {
    program
      .command(name)
      .description('(not built yet) the dataplane')
      .allowUnknownOption()
      .action(() => {
        console.error(`gingham-agent ${name}: the dataplane is not built yet.`);
        process.exitCode = 1;
      });
  }
}
