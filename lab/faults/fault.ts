// What a fault is, for the lab's fault tests, the fault report (bench/faults.ts), `npm run lab --
// fault KIND ...` and, later, the doctor: something done to the running lab (`inject`) that is
// undone by the handle it returns (`heal`). Each kind lives in a file of its own and is listed in
// faults.ts; adding one is a file and a line there.
import type { LabState } from '../lab.ts';

export interface FaultContext {
  stateDir: string;
  state: LabState;
  /** Progress lines (the CLI prints them; tests collect them). */
  say: (line: string) => void;
}

export interface FaultOptions {
  /** The node the fault is done to (kinds that act on one node). */
  node?: string;
  /** The other end (bgp-flap: the peer node whose sessions are reset). */
  peer?: string;
}

export interface InjectedFault {
  /** What was done, in a few words, for the report. */
  readonly what: string;
  /** Undoes the fault; resolves once the lab is back as the fault found it (the agent answering, the server ready). */
  heal(): Promise<void>;
  /** When the fault itself ended, if not at the heal (a kill is over at once; the restart is the recovery). */
  readonly endedAt?: number;
  /** After recovery: what the fault finds it left (a mount, a process, a rule), in words; empty when nothing. */
  leftBehind?(): Promise<string[]>;
  /** What the fault saw that the report should say (the agent's log lines, the helpers it found). */
  readonly notes?: string[];
}

export interface FaultKind {
  kind: string;
  /** One line for `lab fault --help`. */
  summary: string;
  /** Which options it needs. */
  needs: Array<keyof FaultOptions>;
  inject(context: FaultContext, options: FaultOptions): Promise<InjectedFault>;
}

export function nodeOf(context: FaultContext, name: string | undefined, kind: string): { name: string; address: string; sshdPid: number } {
  const names = context.state.topology.nodes.map((n) => n.name);
  if (!name) throw new Error(`the ${kind} fault needs a node (--node ${names.join('|')})`);
  const node = context.state.topology.nodes.find((n) => n.name === name);
  const running = context.state.nodes[name];
  if (!node || !running) throw new Error(`there is no node ${name} in the lab (nodes: ${names.join(', ')})`);
  return { name, address: node.address, sshdPid: running.sshdPid };
}
