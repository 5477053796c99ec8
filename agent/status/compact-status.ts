// From the agent's whole status (what `gingham-agent node-status` prints, the RPC's `status`) to the
// small GinghamNodeStatus it publishes: health and the problems that make it so, the sessions as
// counts (listed while few or failing), the modes the plan programs, the dataplane's last pass.
import type { AgentStatus } from '../../shared/api/agent-contract.ts';
import { bgpSession } from '../../shared/model/calico-node-status.ts';
import { problemsMax, sessionsToList } from '../../shared/model/node-agent-status.ts';
import { normalizeMode } from '../../shared/model/modes.ts';
import { appliedMode } from '../../shared/model/node-encapsulation.ts';
import type { StatusContent } from './node-status-publisher.ts';

export interface PassFacts {
  /** The last pass applied the desired state the agent holds now. */
  current: boolean;
  at?: string;
}

const clip = (text: string) => (text.length > 200 ? `${text.slice(0, 197)}...` : text);

export function compactStatus(status: AgentStatus, agentVersion: string, pass: PassFacts): StatusContent {
  const sessions = (status.bgp.running ? status.bgp.peers : []).map((p) => {
    const session = bgpSession(p);
    return {
      address: p.address,
      type: p.type ?? 'node-to-node mesh',
      state: session.state,
      ...(p.since ? { since: p.since } : {}),
      ...(session.lastError ? { lastError: clip(session.lastError) } : {}),
    };
  });
  const established = sessions.filter((p) => p.state === 'Established').length;
  const listed = sessionsToList(sessions);
  const problems: string[] = [];
  if (!status.datastore.connected) problems.push('the API server is unreachable: the node keeps its last state');
  for (const [peer, why] of Object.entries(status.bgp.leftOut ?? {})) problems.push(clip(`BGPPeer ${peer} is left out: ${why}`));
  if (sessions.length > established) problems.push(`${sessions.length - established} of ${sessions.length} BGP sessions are not established`);
  const failures = (status.dataplane?.failures ?? []) as Array<{ command?: string; error?: string }>;
  const dataplaneProblems = failures.slice(0, problemsMax).map((f) => clip(`${f.command ?? ''}: ${f.error ?? 'refused'}`));
  const inSync = status.dataplane !== undefined && failures.length === 0 && pass.current;
  const health = status.dataplane === undefined ? 'Starting' : problems.length > 0 || failures.length > 0 ? 'Degraded' : 'Ready';
  return {
    agentVersion,
    health,
    problems: problems.slice(0, problemsMax),
    ...(status.address ? { address: status.address } : {}),
    pools: (status.state?.pools ?? []).map((p) => ({ name: p.name, cidr: p.cidr, mode: appliedMode(normalizeMode(p.ipipMode), normalizeMode(p.vxlanMode)) })),
    datastore: { connected: status.datastore.connected },
    bgp: { running: status.bgp.running, ...(status.bgp.running ? { asn: status.bgp.asn } : {}), established, total: sessions.length, ...listed },
    dataplane: {
      inSync,
      ...(pass.at ? { lastPassAt: pass.at } : {}),
      ...(status.dataplane ? { lastPassMs: status.dataplane.ms } : {}),
      problems: dataplaneProblems,
    },
  };
}
