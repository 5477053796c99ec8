// Has one node converged on what a stage asks of it? What the runner waits for after each change.
// A node the stage switched applies the target mode (its agent's desired state, override
// included) and has published that it applied it; a node it left alone stays on the old mode.
// Either way its kernel routes match its own plan. After the last stage (and after a rollback)
// every node must be in the steady state of its mode: nothing of the old kind kept for peers
// (hasConverged). Before that, a node not yet switched must accept what the switched nodes send;
// what each node sends is said, not required: a canary sends the new way only to peers that
// accept it (make before break).
import { encapsulationOf, hasConverged, type AppliedMode, type NodeEncapsulations } from '../../../shared/model/node-encapsulation.ts';

/** What a node says about itself at one moment. */
export interface NodeObservation {
  node: string;
  /** Why the node could not be read (no agent answers, SSH down). */
  unreadable?: string;
  /** The pool's mode in the agent's desired state (a stage override applied). */
  mode?: AppliedMode;
  /** Its kernel routes against its own plan (convergence-check.ts). */
  routes?: { converged: boolean; detail: string };
  /** Its gingham.dev/Encapsulations, when it publishes one. */
  published?: NodeEncapsulations;
}

export interface NodeExpectation {
  pool: string;
  /** The mode this node should apply now. */
  mode: AppliedMode;
  /** The mode the switched nodes apply (what this node must accept when it is not switched yet). */
  target: AppliedMode;
  /** Every node has moved: the steady state is required. */
  final: boolean;
}

export function judgeNode(seen: NodeObservation, want: NodeExpectation): { converged: boolean; detail: string } {
  const no = (detail: string) => ({ converged: false, detail });
  if (seen.unreadable) return no(seen.unreadable);
  if (seen.mode !== want.mode) return no(seen.mode ? `the agent applies ${seen.mode}, not ${want.mode} yet` : `the agent has no pool ${want.pool}`);
  const published = seen.published;
  if (published?.modes[want.pool] !== undefined && published.modes[want.pool] !== want.mode) return no(`it publishes ${published.modes[want.pool]} for ${want.pool}, not ${want.mode} yet`);
  if (published && want.final && !hasConverged(published, { [want.pool]: want.mode })) {
    return no(`it still accepts ${published.accepts.join(', ') || 'nothing'} and sends ${published.sends.join(', ') || 'nothing'} (the steady state of ${want.mode} not reached)`);
  }
  // A node not yet switched must receive what the switched nodes send before the stage is done:
  // the canaries' traffic then really goes the new way, and what the rest stage changes is only
  // the direction towards the canaries.
  const kind = encapsulationOf(want.target);
  if (published && !want.final && want.mode !== want.target && kind && !published.accepts.includes(kind)) {
    return no(`it accepts ${published.accepts.join(', ') || 'nothing'}, not ${kind} yet (which the switched nodes send)`);
  }
  if (!seen.routes) return no('its routes were not read');
  if (!seen.routes.converged) return no(seen.routes.detail);
  return { converged: true, detail: `${want.mode}: ${seen.routes.detail}${published && !want.final ? `; ${wire(published, want)}` : ''}` };
}

/** What a node sends and accepts during a staged switch, in words. */
function wire(published: NodeEncapsulations, want: NodeExpectation): string {
  const kind = encapsulationOf(want.target);
  const list = (l: string[]) => l.join(', ') || 'nothing';
  const text = `sends ${list(published.sends)}, accepts ${list(published.accepts)}`;
  if (!kind) return text;
  if (want.mode === want.target && !published.sends.includes(kind)) return `${text} (no peer accepts ${kind} yet, so it sends the old way)`;
  return text;
}
