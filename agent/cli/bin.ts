#!/usr/bin/env -S npx tsx
// gingham-agent: the node agent's command line. Each command group lives in commands/, one file
// per part of the agent, so that the parts grow without touching each other.
import { Command } from 'commander';
import { registerBgpCommands } from './commands/bgp.ts';
import { registerCniCommands } from './commands/cni.ts';
import { registerManifestCommands } from './commands/manifests.ts';
import { registerRunCommands } from './commands/run.ts';
import { registerDataplaneCommands } from './commands/dataplane.ts';
import { agentVersion } from './version.ts';

const program = new Command('gingham-agent')
  .description('Gingham node agent: BGP speaker, dataplane, IPAM and CNI, compatible with Calico')
  .version(agentVersion)
  .showHelpAfterError();

registerBgpCommands(program);
registerCniCommands(program);
registerManifestCommands(program);
registerRunCommands(program);
registerDataplaneCommands(program);

// No top-level await: the bundled executable (scripts/build-agent.ts) is CommonJS, as Node's
// single executable applications need; a rejection still ends the process with an error.
void program.parseAsync(process.argv);
