// gingham-agent's BGP commands alone (bgp, status, rib): what the built executable runs for them,
// bundled apart from the rest of the agent. V8 parses and keeps all of a script it runs, so a
// standalone speaker started from the whole agent's bundle held about 27 MB more than one started
// from this (the Kubernetes client's code is most of the bundle), next to a full table that must
// stay within 1.5x of BIRD's memory. bin.ts runs the same commands from a checkout.
import { Command } from 'commander';
import { registerBgpCommands } from './commands/bgp.ts';
import { agentVersion } from './version.ts';

const program = new Command('gingham-agent')
  .description('Gingham node agent: BGP speaker (the other commands are in the full agent)')
  .version(agentVersion)
  .showHelpAfterError();
registerBgpCommands(program);
// No top-level await: the executable's bundles are CommonJS.
void program.parseAsync(process.argv);
