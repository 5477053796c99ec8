// The scan's BGP: the sessions a node should have (the node-to-node mesh unless a BGPConfiguration
// turns it off, BGPPeers by address or selector, route reflectors: Calico's rules) against those
// its speaker (the agent or BIRD) reports, read twice about a second apart so that a flapping
// session shows; and for each established session with a node, the blocks it holds in IPAM that
// its session should have brought.
import { bgpWanted } from '../dataplane-plan/bgp-wanted.ts';
import { blocksOf } from '../dataplane-plan/desired-state.ts';
import { calicoPeerings } from '../model/bgp-peerings.ts';
import { containsCidr, parseCidr } from '../net/index.ts';
import type { BgpSessionFacts } from './scan-evidence.ts';
import { advice, finding, type NodeScan } from './scan-node-facts.ts';
import type { ScanFinding } from './scan-result.ts';

interface ExpectedPeer {
  address: string;
  /** The cluster node, when the peer is one (its blocks must come over the session). */
  node?: string;
  what: string;
}

/**
 * The sessions the cluster's objects give the node, by Calico's own rules
 * (shared/model/bgp-peerings.ts, what the agent configures): the mesh (without route reflectors,
 * and none on a reflector), BGPPeers by address or by selector, and their reverse peerings.
 */
export function expectedPeers(n: NodeScan): ExpectedPeer[] {
  return calicoPeerings(n.snapshot, n.name, { address: n.nodeIp }).map((p) => ({
    address: p.address,
    ...(p.node ? { node: p.node } : {}),
    what: !p.bgpPeer ? `mesh peer ${p.node}` : `BGPPeer ${p.bgpPeer.metadata.name}${p.node ? `, node ${p.node}` : ''}${p.routeReflectorClient ? ', a route reflector client' : ''}`,
  }));
}

/**
 * Established as the speakers word it: BIRD's `show protocols` (and the agent's status, worded as
 * BIRD's) says state `up`, info `Established`; a session that is not has state `start` and info
 * `Active ...`, `Connect`, `Idle`, `Passive`. A speaker that gives the FSM's state itself says `Established`.
 */
const established = (s: BgpSessionFacts | undefined) => s !== undefined && (/^established$/i.test(s.state) || (s.state === 'up' && (!s.info || /^established\b/i.test(s.info))));
/** What the session is doing, in the speaker's words: `Active Socket: Connection refused` rather than `start`. */
const doing = (s: BgpSessionFacts) => s.info?.trim() || s.state;
const sessionLine = (s: BgpSessionFacts) => `${s.address}: ${s.state}${s.since ? ` since ${s.since}` : ''}${s.info ? ` (${s.info})` : ''}${s.lastError ? `, last error: ${s.lastError}` : ''}`;

/** Seconds since `since` (an ISO time from the agent, or BIRD's time of day against the node's clock). */
export function sessionAge(since: string | undefined, clock: number | undefined): number | undefined {
  if (!since || clock === undefined) return undefined;
  if (/^\d{4}-\d\d-\d\dT/.test(since)) {
    const at = Date.parse(since);
    return Number.isNaN(at) ? undefined : clock - at / 1000;
  }
  const tod = /^(\d\d):(\d\d):(\d\d)/.exec(since);
  if (!tod) return undefined;
  const seconds = Number(tod[1]) * 3600 + Number(tod[2]) * 60 + Number(tod[3]);
  const now = clock % 86_400;
  return (now - seconds + 86_400) % 86_400;
}

/** Sessions that came up this recently count as a flap (or a restart of either speaker). */
export const recentSessionSeconds = 60;

export function bgpFindings(n: NodeScan, agentDown: boolean): ScanFinding[] {
  const pools = n.snapshot.pools.map((p) => ({ disabled: p.spec.disabled, vxlanMode: p.spec.vxlanMode }));
  if (!bgpWanted(pools)) return [];
  const bgp = n.evidence.bgp;
  if (bgp.source === 'none') {
    if (agentDown) return [];
    return [finding('bgp-speaker-unreachable', n.name, 'speaker', 'error', `${n.name} should run BGP (a pool is not VXLAN-only), but neither the Gingham agent nor BIRD answers on it.`, [bgp.note ?? 'no speaker answered'], advice('Start the node\'s agent (gingham-agent) or calico-node.'))];
  }
  if (bgp.notRunning) {
    return [finding('bgp-speaker-unreachable', n.name, 'speaker', 'error', `${n.name}'s agent runs no BGP, but a pool needs it: ${bgp.notRunning}.`, [bgp.notRunning], advice("Read the agent's log for why BGP did not start."))];
  }
  const out: ScanFinding[] = [];
  const firewall = (n.evidence.sections['nft-bgp'] ?? '').split('\n').filter((l) => l.trim()).map((l) => `nftables on ${n.name}: ${l.trim()}`);
  const again = n.evidence.sessionsAgain;
  for (const peer of expectedPeers(n)) {
    const first = bgp.sessions.find((s) => s.address === peer.address);
    const second = again?.find((s) => s.address === peer.address);
    if (!first) {
      out.push(finding('bgp-session-missing', n.name, peer.address, 'error', `${n.name}'s speaker has no session with ${peer.address} (${peer.what}), which the cluster's BGP configuration asks for.`, [`sessions: ${bgp.sessions.map((s) => s.address).join(', ') || 'none'}`], advice('The speaker is not configured from the cluster (an agent that is not synced, or BIRD\'s config not rendered): check the agent\'s status or calico-node\'s confd.')));
      continue;
    }
    const readings = [`first reading: ${sessionLine(first)}`, ...(second ? [`a second later: ${sessionLine(second)}`] : [])];
    const changed = second !== undefined && (second.state !== first.state || second.since !== first.since);
    const age = sessionAge(second?.since ?? first.since, n.clock);
    if (changed) {
      out.push(finding('bgp-session-flapping', n.name, peer.address, 'error', `${n.name}'s session with ${peer.address} (${peer.what}) changed while it was read (${doing(first)} -> ${doing(second!)}): it flaps, and routes from it come and go.`, [...readings, ...firewall], advice('Look at the link between the two nodes (drops, a cut), and at both speakers\' logs for the resets.')));
    } else if (!established(second ?? first)) {
      const fw = firewall.length > 0 ? ' A firewall rule on the node matches BGP\'s port 179.' : '';
      out.push(finding('bgp-session-down', n.name, peer.address, 'error', `${n.name}'s session with ${peer.address} (${peer.what}) is ${doing(second ?? first)}, not Established: no routes are learnt from it.${fw}`, [...readings, ...firewall], advice(firewall.length > 0 ? 'Remove the rule that drops TCP 179 between the nodes.' : 'Check that TCP 179 passes between the two nodes (a firewall, a security group) and that the peer\'s speaker runs.')));
    } else if (age !== undefined && age < recentSessionSeconds) {
      out.push(finding('bgp-session-flapping', n.name, peer.address, 'warning', `${n.name}'s session with ${peer.address} (${peer.what}) came up only ${Math.round(age)} s ago: a flap, or a restart of either speaker.`, readings, advice('Scan again in a minute: a session that keeps coming up again flaps.')));
    }
    if (established(second ?? first) && !changed && peer.node) out.push(...missingRoutes(n, peer.node, peer.address));
  }
  return out;
}

/** The peer's IPAM blocks (in BGP-exported, non-VXLAN pools) that the node's RIB does not have from it. */
function missingRoutes(n: NodeScan, peerNode: string, peerAddress: string): ScanFinding[] {
  const routes = n.evidence.bgp.routes;
  const out: ScanFinding[] = [];
  for (const block of blocksOf(n.snapshot, peerNode)) {
    const cidr = parseCidr(block.spec.cidr);
    const pool = n.snapshot.pools.find((p) => containsCidr(p.cidr, cidr));
    if (!pool || pool.spec.disabled || pool.spec.disableBGPExport || pool.spec.vxlanMode !== 'Never') continue;
    if (routes.some((r) => r.prefix === block.spec.cidr && (r.from === peerAddress || r.nextHop === peerAddress))) continue;
    out.push(finding('bgp-route-not-received', n.name, `${block.spec.cidr}<${peerNode}`, 'error', `${n.name} has no BGP path for ${block.spec.cidr} from ${peerNode} (${peerAddress}), though the session is up and IPAM gives ${peerNode} that block: ${peerNode} does not announce it (an export filter, a speaker not synced).`, [`RIB paths for ${block.spec.cidr}: ${routes.filter((r) => r.prefix === block.spec.cidr).map((r) => `from ${r.from} via ${r.nextHop}`).join('; ') || 'none'}`], advice(`On ${peerNode}: check what its speaker announces (gingham-agent bgp routes, or birdc show route export).`)));
  }
  return out;
}
