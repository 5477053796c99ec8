// The processes of a lab node that faults act on, found by their command lines among the node's
// network namespace's processes: the agent (`gingham-agent run`), its supervisor, the user-space
// tunl0 helper. And waiting for the agent to answer on its control socket again.
import { readFileSync } from 'node:fs';
import { agentStatus } from '../testing/probes.ts';
import { processAlive, run, sleep } from '../sh.ts';

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** Pids in the node's network namespace whose command line matches. */
export async function nodePids(node: string, match: (cmdline: string) => boolean): Promise<number[]> {
  const pids = (await run('ip', ['netns', 'pids', node], { allowFail: true })).split('\n').filter(Boolean).map(Number);
  return pids.filter((pid) => processAlive(pid) && match(cmdline(pid)));
}

export const isAgent = (c: string) => c.includes('agent/cli/bin.ts') && / run --config /.test(c);
export const isTunnelHelper = (c: string) => c.includes('gingham-tunl0');

/** The running agent's pid (`gingham-agent run`, not a CNI call or a CLI). */
export async function agentPid(node: string): Promise<number | undefined> {
  return (await nodePids(node, isAgent))[0];
}

/** Waits until the node's agent answers `status` with its datastore synced; returns when, in epoch ms. */
export async function waitForAgent(stateDir: string, node: string, timeoutMs = 120_000, notPid?: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const pid = await agentPid(node);
      if (pid !== undefined && pid !== notPid) {
        const status = (await agentStatus(stateDir, node)) as { datastore?: { synced?: boolean }; process?: { uptimeMs?: number } };
        if (status.datastore?.synced) return Date.now();
        last = 'datastore not synced';
      } else last = 'no agent process';
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`the agent on ${node} did not answer within ${timeoutMs / 1000} s (${last})`);
}
