// The scan's node health: the Gingham agent (installed but not answering, restarted moments ago,
// cut off from the API server) and full filesystems where the agent and calico-node keep their
// state (/var/lib/gingham, /run/gingham, /var/lib/calico, /var/run/calico, /).
import { advice, finding, type NodeScan } from './scan-node-facts.ts';
import type { ScanNodeEvidence } from './scan-evidence.ts';
import type { ScanFinding } from './scan-result.ts';

/** An agent whose control socket is younger than this restarted (or was started) moments ago. */
export const recentAgentSeconds = 120;

export function agentInstalled(evidence: ScanNodeEvidence): boolean {
  return /^installed$/m.test(evidence.sections['agent'] ?? '');
}

export function agentFindings(n: NodeScan): ScanFinding[] {
  const agent = n.evidence.agent;
  if (!agentInstalled(n.evidence) || !agent) return [];
  if (!agent.answered) {
    return [finding('agent-not-running', n.name, 'agent', 'error', `The Gingham agent is installed on ${n.name} but does not answer on its control socket: the node's routes are not kept (nothing repairs drift, no BGP from it).`, [agent.note ?? 'no answer', (n.evidence.sections['agent'] ?? '').trim()], advice(`Start it (systemctl start gingham-agent) and read why it stopped: /var/lib/gingham/agent.log.`))];
  }
  const out: ScanFinding[] = [];
  const socket = /^socket (\d+)$/m.exec(n.evidence.sections['agent'] ?? '');
  const age = socket && n.clock !== undefined ? n.clock - Number(socket[1]) : undefined;
  if (age !== undefined && age < recentAgentSeconds) {
    // The socket's age says when the agent started, not why: an install, an upgrade and a crash
    // look the same from here. A young agent that has synced is information; one that has not is
    // the state an admin should know about while its sessions come up.
    const synced = agent.synced !== false;
    out.push(finding('agent-restarted', n.name, 'agent', synced ? 'info' : 'warning', `${n.name}'s agent started ${age} s ago${synced ? '' : ' and has not synced with the API server yet'}: it was installed, upgraded or restarted (by an admin, or after a crash or kill), and its BGP sessions may still be coming up.`, [`control socket made ${age} s ago`, `datastore synced: ${agent.synced ?? '?'}`], advice('If nobody started it just now, read the end of its log (/var/lib/gingham/agent.log) for why it stopped.')));
  }
  if (agent.connected === false) {
    out.push(finding('agent-datastore-disconnected', n.name, 'agent', 'error', `${n.name}'s agent is not connected to the API server: it keeps the dataplane as it was, but sees no new pod, node or pool until it reconnects.`, [`datastore connected: false, synced: ${agent.synced ?? '?'}`], advice('Check the API server (it is down or unreachable from the node) and the agent\'s credentials (/etc/gingham/kubeconfig).')));
  }
  return out;
}

export function diskFindings(n: NodeScan): ScanFinding[] {
  const out: ScanFinding[] = [];
  const seen = new Set<string>();
  for (const line of (n.evidence.sections['df'] ?? '').split('\n')) {
    // df -Pk: Filesystem 1024-blocks Used Available Capacity Mounted-on
    const words = line.trim().split(/\s+/);
    if (words.length < 6 || !/^\d+$/.test(words[3]!)) continue;
    const mount = words.slice(5).join(' ');
    if (seen.has(mount)) continue;
    seen.add(mount);
    const available = Number(words[3]);
    const capacity = Number(words[4]!.replace('%', ''));
    if (available < 64 || capacity >= 100) {
      out.push(finding('node-disk-full', n.name, mount, 'error', `${n.name}'s ${mount} is full (${available} KiB free): the agent (or calico-node) cannot write its state, IPAM locks or logs there.`, [`df: ${line.trim()}`], advice(`Free space on ${mount}.`)));
    }
  }
  return out;
}
