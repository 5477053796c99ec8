// agent-freeze: a node's agent stopped with SIGSTOP, as a hung agent is (a deadlock, a process
// stuck in the kernel): it holds its socket and its BGP sessions but answers nothing and repairs
// nothing, so a route deleted or a device added by hand meanwhile stays (Felix has a watchdog for
// this). The user-space tunl0 helper is a process of its own and goes on carrying traffic.
// Healing sends SIGCONT and waits for the agent to answer with its datastore synced.
import { readFileSync } from 'node:fs';
import { processAlive } from '../sh.ts';
import { nodeOf, type FaultKind } from './fault.ts';
import { agentPid, waitForAgent } from './node-processes.ts';

/** The process's state letter from /proc/PID/stat (`T`: stopped); undefined once it is gone. */
function processState(pid: number): string | undefined {
  try {
    return /\)\s+(\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

export const agentFreeze: FaultKind = {
  kind: 'agent-freeze',
  summary: "SIGSTOP a node's agent (hung: it answers and repairs nothing); heal sends SIGCONT",
  needs: ['node'],
  async inject(context, options) {
    const node = nodeOf(context, options.node, 'agent-freeze');
    const pid = await agentPid(node.name);
    if (pid === undefined) throw new Error(`no agent runs on ${node.name}: start the lab with its agents (npm run lab -- up)`);
    process.kill(pid, 'SIGSTOP');
    context.say(`stopped the agent on ${node.name} (pid ${pid}) with SIGSTOP`);
    return {
      what: `SIGSTOP agent on ${node.name}`,
      async heal() {
        if (processAlive(pid)) process.kill(pid, 'SIGCONT');
        await waitForAgent(context.stateDir, node.name, 60_000);
        context.say(`the agent on ${node.name} answers again`);
      },
      async leftBehind() {
        return processState(pid) === 'T' ? [`the agent on ${node.name} (pid ${pid}) is still stopped`] : [];
      },
    };
  },
};
