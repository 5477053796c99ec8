// Every fault the lab can do, by kind. The fault tests (*.int.test.ts here), the fault report
// (bench/faults.ts, through observe.ts) and `npm run lab -- fault` use these; a new kind is a
// file beside this one and a line in `faultKinds`.
import { defaultLabDir, readLabState } from '../lab.ts';
import { agentFreeze } from './agent-freeze.ts';
import { agentKill } from './agent-kill.ts';
import { apiPartition, apiRefused, apiRestore } from './api-server.ts';
import { bgpBlock } from './bgp-block.ts';
import { bgpFlap } from './bgp-flap.ts';
import { diskFull } from './disk-full.ts';
import { fabricMtu } from './fabric-mtu.ts';
import type { FaultContext, FaultKind } from './fault.ts';
import { nodeCut } from './node-cut.ts';
import { podMtu } from './pod-mtu.ts';

export const faultKinds: readonly FaultKind[] = [agentKill, agentFreeze, apiPartition, apiRefused, apiRestore, nodeCut, bgpFlap, diskFull, fabricMtu, bgpBlock, podMtu];

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
