// Every fault the lab can do, by kind, and running one for a while: inject, wait, heal. The fault
// tests (faults.int.test.ts), the fault report (bench/faults.ts) and `npm run lab -- fault` use
// these; a new kind is a file beside this one and a line in `faultKinds`.
import { defaultLabDir, readLabState } from '../lab.ts';
import { sleep } from '../sh.ts';
import { agentKill } from './agent-kill.ts';
import { apiPartition, apiRefused, apiRestore } from './api-server.ts';
import { bgpFlap } from './bgp-flap.ts';
import { diskFull } from './disk-full.ts';
import type { FaultContext, FaultKind, FaultOptions, InjectedFault } from './fault.ts';
import { nodeCut } from './node-cut.ts';

export const faultKinds: readonly FaultKind[] = [agentKill, apiPartition, apiRefused, apiRestore, nodeCut, bgpFlap, diskFull];

export function faultKind(kind: string): FaultKind {
  const found = faultKinds.find((f) => f.kind === kind);
  if (!found) throw new Error(`there is no fault ${kind} (faults: ${faultKinds.map((f) => f.kind).join(', ')})`);
  return found;
}

export function faultContext(say: (line: string) => void = () => {}, stateDir = defaultLabDir()): FaultContext {
  const state = readLabState(stateDir);
  if (!state) throw new Error('the lab is not up: start it with `npm run lab -- up`');
  return { stateDir, state, say };
}

export interface FaultRun {
  what: string;
  injectedAt: number;
  healedAt: number;
}

/** Injects `kind`, keeps it for `holdMs`, heals it (also when something in between throws). */
export async function withFault(context: FaultContext, kind: string, options: FaultOptions, holdMs: number, during?: () => Promise<void>): Promise<FaultRun> {
  const injectedAt = Date.now();
  const fault: InjectedFault = await faultKind(kind).inject(context, options);
  try {
    const until = injectedAt + holdMs;
    await during?.();
    if (Date.now() < until) await sleep(until - Date.now());
  } finally {
    await fault.heal();
  }
  return { what: fault.what, injectedAt, healedAt: Date.now() };
}
