#!/usr/bin/env -S npx tsx
// gingham-agent: the node agent's command line. Each command group lives in commands/, one file
// per part of the agent, so that the parts grow without touching each other.
// First: the heap's settings, before the rest loads.
import './young-generation.ts';
import type { Command as CommandType } from 'commander';
import { Command } from 'commander';
import { BGP_COMMANDS } from './bgp-commands.ts';
import { agentVersion } from './version.ts';

type Register = (program: CommandType) => void;

/**
 * Command groups load on demand: the standalone BGP speaker (bgp, status, rib) does not load the
 * Kubernetes client and the rest of the agent, which would cost it about 45 MB of memory (most of
 * the bundle is @kubernetes/client-node) next to a full table that must stay within 1.5x of BIRD's.
 * Every other command (and --help) loads every group.
 */
const groups: Record<string, () => Promise<Register>> = {
  bgp: () => import('./commands/bgp.ts').then((m) => m.registerBgpCommands),
  cni: () => import('./commands/cni.ts').then((m) => m.registerCniCommands),
  manifests: () => import('./commands/manifests.ts').then((m) => m.registerManifestCommands),
  run: () => import('./commands/run.ts').then((m) => m.registerRunCommands),
  dataplane: () => import('./commands/dataplane.ts').then((m) => m.registerDataplaneCommands),
  probe: () => import('./commands/probe.ts').then((m) => m.registerProbeCommands),
  measure: () => import('./commands/measure.ts').then((m) => m.registerMeasureCommands),
};

async function main(): Promise<void> {
  const program = new Command('gingham-agent')
    .description('Gingham node agent: BGP speaker, dataplane, IPAM and CNI, compatible with Calico')
    .version(agentVersion)
    .showHelpAfterError();
  const wanted = BGP_COMMANDS.has(process.argv[2] ?? '') ? ['bgp'] : Object.keys(groups);
  for (const register of await Promise.all(wanted.map((name) => groups[name]!()))) register(program);
  await program.parseAsync(process.argv);
}

// No top-level await: the bundled executable (scripts/build-agent.ts) is CommonJS, as Node's
// single executable applications need; a rejection still ends the process with an error.
void main();
