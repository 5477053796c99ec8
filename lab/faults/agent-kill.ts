// agent-kill: `kill -9` of a node's agent, as the OOM killer or a crash ends it: no SIGTERM, no
// graceful stop, its BGP sessions closed by the kernel (a FIN, no NOTIFICATION). The lab's
// supervisor starts it again 2 s later, as systemd's Restart=always does; healing waits for the
// new agent to answer with its datastore synced.
import { processAlive, sleep } from '../sh.ts';
import { nodeOf, type FaultKind } from './fault.ts';
import { agentPid, isTunnelHelper, nodePids, waitForAgent } from './node-processes.ts';

export interface AgentKillDetails {
  pid: number;
  /** The user-space tunl0 helpers that ran before the kill, and those of them still running once the new agent answers. */
  tunnelHelpers: number[];
  tunnelHelpersAfter: number[];
  killedAt: number;
  /** When the new agent answered with its datastore synced, epoch ms (after heal). */
  backAt?: number;
}

export const agentKill: FaultKind & { last?: AgentKillDetails } = {
  kind: 'agent-kill',
  summary: "kill -9 a node's agent (the lab's supervisor restarts it after 2 s); heal waits for the new one",
  needs: ['node'],
  async inject(context, options) {
    const node = nodeOf(context, options.node, 'agent-kill');
    const pid = await agentPid(node.name);
    if (pid === undefined) throw new Error(`no agent runs on ${node.name}: start the lab with its agents (npm run lab -- up)`);
    const tunnelHelpers = await nodePids(node.name, isTunnelHelper);
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();
    while (processAlive(pid)) await sleep(10);
    context.say(`killed the agent on ${node.name} (pid ${pid}) with SIGKILL`);
    const details: AgentKillDetails = { pid, tunnelHelpers, tunnelHelpersAfter: [], killedAt };
    agentKill.last = details;
    const notes: string[] = [];
    return {
      what: `kill -9 agent on ${node.name}`,
      endedAt: killedAt,
      notes,
      async heal() {
        details.backAt = await waitForAgent(context.stateDir, node.name, 180_000, pid);
        details.tunnelHelpersAfter = tunnelHelpers.filter(processAlive);
        const now = await nodePids(node.name, isTunnelHelper);
        notes.push(`agent back (synced) ${details.backAt - killedAt} ms after the kill`);
        if (tunnelHelpers.length > 0) notes.push(`user-space tunl0 helper ${tunnelHelpers.join(', ')} ${details.tunnelHelpersAfter.length === tunnelHelpers.length ? 'kept and adopted' : 'gone'}; running now: ${now.join(', ') || 'none'}`);
        context.say(`the agent on ${node.name} answers again, ${details.backAt - killedAt} ms after the kill`);
      },
    };
  },
};
