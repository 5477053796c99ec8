// The path trace: from the evidence read on the source's and the destination's node, the hops a
// packet takes as the kernels will forward it (the source pod's route and veth, the source node's
// route lookup and encapsulation decision, the underlay, the destination node's delivery, the
// destination pod), then the way back, each hop judged on its evidence; and one final verdict,
// the first hop that fails (or cannot be judged), in a sentence an admin can act on. Pure: the
// same evidence always gives the same answer, so a saved evidence file replays a trace.
import { ipipOverhead, vxlanOverhead } from '../net/mtu.ts';
import { podLabel, resolveEndpoint, type Endpoint } from './endpoints.ts';
import { encapName, expectedEncap, nodeAddress, poolOf, type Encap } from './encapsulation.ts';
import type { ClusterFacts, ClusterNodeFacts, NodeEvidence, TraceEvidence } from './evidence.ts';
import { addressesOf, isUp, listOf, longestMatch, parseJsonArray, routeLine, type FdbEntry, type IpAddr, type IpLink, type IpNeigh, type IpRoute } from './ip-json.ts';
import type { HopKind, HopVerdict, ReasonCode, TraceHop, TraceResult, TraceVerdict } from './trace-result.ts';


/** One end with what its node said (local = this end's address). */
interface Side {
  end: Endpoint;
  label: string;
  node?: ClusterNodeFacts;
  evidence?: NodeEvidence;
}

/** How one direction leaves its node: what the route lookup decided. */
interface Leg {
  encap: Encap;
  dev?: string;
  gateway?: string;
  outerSrc?: string;
  outerDst?: string;
}

const hop = (node: string, kind: HopKind, title: string, evidence: string[], status: HopVerdict['status'], code: ReasonCode, message: string): TraceHop => ({
  node,
  kind,
  title,
  evidence,
  verdict: { status, code, message },
});

/** `ip route get` as one evidence line, or the kernel's refusal. */
function lookupLine(where: string, command: string, text: string | undefined): string {
  const parsed = parseJsonArray<IpRoute>(text);
  if (!parsed.ok) return `${where}: ${command} -> ${parsed.error}`;
  // The answer without the `from`/`iif` the command already shows.
  return `${where}: ${command} -> ${parsed.value.map(({ from: _from, iif: _iif, ...route }) => routeLine(route)).join('; ') || '(nothing)'}`;
}


function sourcePodHop(side: Side, remote: string): TraceHop {
  const node = side.end.pod!.node;
  const s = side.evidence!.sections;
  const title = `${side.label}: route and veth`;
  const ns = s['podns']?.trim();
  if (!ns) {
    return hop(node, 'source-pod', title, [`${node}: no network namespace (under /var/run/netns, /var/run/docker/netns or held by a process) holds ${side.end.ip}`], 'fail', 'source-netns-not-found', `No network namespace on ${node} holds ${side.label}'s address ${side.end.ip}: the pod is gone or its sandbox was recreated; check the Pod (kubectl describe pod) and its node's container runtime.`);
  }
  const evidence = [`${node}: ${side.label} is network namespace ${ns}`];
  const podRoutes = listOf<IpRoute>(s['pod-routes']);
  if (podRoutes.length > 0) evidence.push(`${side.label}'s routes: ${podRoutes.map(routeLine).join('; ')}`);
  evidence.push(lookupLine(side.label, `ip route get ${remote}`, s['pod-get']));
  const get = parseJsonArray<IpRoute>(s['pod-get']);
  if (!get.ok || get.value.length === 0 || get.value[0]!.type === 'unreachable' || get.value[0]!.type === 'blackhole') {
    return hop(node, 'source-pod', title, evidence, 'fail', 'source-pod-no-route', `${side.label} has no route to ${remote}: a Calico pod has a default route via 169.254.1.1 on eth0; recreate the pod or check its CNI plugin's configuration.`);
  }
  const podDev = get.value[0]!.dev ?? 'eth0';
  const podLink = listOf<IpLink>(s['pod-links']).find((l) => l.ifname === podDev);
  if (podLink) evidence.push(`${side.label}: ${podDev} ${podLink.operstate ?? ''} mtu ${podLink.mtu ?? '?'}`.trim());
  const hostDev = s['local-dev']?.trim();
  const hostLink = listOf<IpLink>(s['links']).find((l) => l.ifname === hostDev);
  evidence.push(lookupLine(node, `ip route get ${side.end.ip}`, s['local-get']));
  if (!hostDev || !hostLink || !hostDev.startsWith('cali')) {
    return hop(node, 'source-pod', title, evidence, 'fail', 'source-veth-missing', `${node} has no route to ${side.label} (${side.end.ip}) on a cali interface: its veth's host end is missing, so nothing the pod sends is routed; restart the pod so the CNI plugin plumbs it again.`);
  }
  evidence.push(`${node}: ${hostDev} (the veth's host end) ${hostLink.operstate ?? ''} flags ${(hostLink.flags ?? []).join(',')}`);
  if (!isUp(hostLink) || (podLink && !isUp(podLink))) {
    return hop(node, 'source-pod', title, evidence, 'fail', 'source-veth-down', `${side.label}'s veth is down (${!isUp(hostLink) ? `${hostDev} on ${node}` : `${podDev} in the pod`}): bring it up (ip link set ${hostDev} up) or restart the pod.`);
  }
  return hop(node, 'source-pod', title, evidence, 'ok', 'route-ok', `${side.label} sends to ${remote} via ${get.value[0]!.gateway ?? 'its link'} on ${podDev}; ${node} receives it on ${hostDev}.`);
}

/** The node's forwarding decision for packets from its local end to `to` (the `forward` section). */
function routeHop(cluster: ClusterFacts, from: Side, to: Side, kind: 'source-node' | 'return-node'): { hop: TraceHop; leg?: Leg } {
  const node = from.end.pod!.node;
  const s = from.evidence!.sections;
  const title = `${node}: route lookup for ${to.label}${kind === 'return-node' ? ' (the way back)' : ''}`;
  const inDev = s['local-dev']?.trim() ?? '?';
  const command = `ip route get ${to.end.ip} from ${from.end.ip} iif ${inDev}`;
  const evidence = [lookupLine(node, command, s['forward'])];
  const table = longestMatch(listOf<IpRoute>(s['routes']), to.end.ip);
  if (table) evidence.push(`${node}: the table's route: ${routeLine(table)}`);
  const pool = poolOf(cluster, to.end.ip);
  const expected = to.end.pod ? expectedEncap(pool, from.node, to.node) : undefined;
  if (expected) evidence.push(...expected.why);
  const bgp = from.evidence!.bgp;
  const paths = bgp.paths.map((p) => `BGP (${bgp.source}): ${p.prefix} from ${p.from} next hop ${p.nextHop}${p.best ? ', best' : ''}${p.asPath ? `, AS path ${p.asPath || '(empty)'}` : ''}`);
  if (paths.length > 0) evidence.push(...paths);
  else evidence.push(`BGP (${bgp.source}): no path for ${to.end.ip}${bgp.note ? ` (${bgp.note})` : ''}`);
  const get = parseJsonArray<IpRoute>(s['forward']);
  if (!get.ok || get.value.length === 0) {
    const error = get.ok ? 'no answer' : get.error;
    if (/cross-device/i.test(error)) {
      return { hop: hop(node, kind, title, evidence, 'fail', 'rp-filter-drop', `${node} drops ${from.label}'s packets to ${to.label}: reverse-path filtering refuses them on ${inDev} (${error}); set net.ipv4.conf.${inDev}.rp_filter to 0 or 2, as Calico does.`) };
    }
    return { hop: hop(node, kind, title, evidence, 'fail', 'no-route', `${node} has no route to ${to.label} (${to.end.ip}): ${error}. ${pool ? `The route to ${to.label}'s block should come from ${pool.vxlanMode !== 'Never' ? 'IPAM (VXLAN)' : 'BGP'}: check the BGP sessions (Peers) and the agent on ${node}.` : 'Add a route for it.'}`) };
  }
  const route = get.value[0]!;
  if (route.type === 'blackhole' || route.type === 'unreachable' || route.type === 'prohibit') {
    return { hop: hop(node, kind, title, evidence, 'fail', 'blackhole-route', `${node} discards packets to ${to.end.ip}: ${table ? routeLine(table) : route.type}. ${to.end.pod ? `${to.label} is in a block this node owns but has no /32 route for it: the pod's endpoint is missing on ${node}; restart the pod.` : 'Remove the route if it is stale.'}`) };
  }
  const dev = route.dev ?? '';
  const encap: Encap = dev.startsWith('cali') ? 'local' : dev === 'tunl0' ? 'ipip' : dev === 'vxlan.calico' ? 'vxlan' : 'direct';
  const leg: Leg = { encap, dev, ...(route.gateway ? { gateway: route.gateway } : {}) };
  const links = listOf<IpLink>(s['links']);
  if (encap === 'ipip') {
    leg.outerDst = route.gateway ?? '';
    // Calico's tunl0 often has no local address (`any`): the kernel then sends from the node's own.
    const local = links.find((l) => l.ifname === 'tunl0')?.linkinfo?.info_data?.local;
    leg.outerSrc = (local && local !== 'any' && local !== '0.0.0.0' ? local : undefined) ?? nodeAddress(from.node) ?? '';
  } else if (encap === 'vxlan') {
    const neigh = listOf<IpNeigh>(s['neigh']).find((n) => n.dev === 'vxlan.calico' && n.dst === route.gateway && n.lladdr);
    if (!neigh) {
      return { hop: hop(node, kind, title, evidence, 'fail', 'vxlan-neighbour-missing', `${node} has no neighbour entry for the VTEP ${route.gateway} on vxlan.calico, so it cannot address the VXLAN frame: the agent writes one per remote node from its VTEP (${to.node?.name ?? 'the node'}'s VXLANTunnelMACAddr); check the agent on ${node}.`), leg };
    }
    evidence.push(`${node}: neighbour ${neigh.dst} dev vxlan.calico lladdr ${neigh.lladdr} ${(neigh.state ?? []).join(',')}`);
    const fdb = listOf<FdbEntry>(s['fdb']).find((f) => f.mac === neigh.lladdr && f.dst);
    if (!fdb) {
      return { hop: hop(node, kind, title, evidence, 'fail', 'vxlan-fdb-missing', `${node} has no FDB entry for ${neigh.lladdr} on vxlan.calico, so it does not know which node to send the VXLAN packet to: check the agent on ${node} (bridge fdb show dev vxlan.calico).`), leg };
    }
    evidence.push(`${node}: fdb ${fdb.mac} dev vxlan.calico dst ${fdb.dst} ${fdb.state ?? ''}`.trim());
    leg.outerDst = fdb.dst!;
    const vx = links.find((l) => l.ifname === 'vxlan.calico')?.linkinfo?.info_data;
    leg.outerSrc = vx?.local ?? nodeAddress(from.node) ?? '';
    if (vx?.id !== undefined) evidence.push(`${node}: vxlan.calico VNI ${vx.id} port ${vx.port ?? 4789} local ${vx.local ?? '?'}`);
  }
  const best = bgp.paths.find((p) => p.best);
  if (encap === 'direct' && best && route.gateway && best.nextHop !== route.gateway) {
    evidence.push(`BGP's next hop ${best.nextHop} is not on ${node}'s link: the kernel resolves it through ${route.gateway}`);
  }
  if (encap === 'vxlan' && bgp.paths.length === 0) evidence.push('no BGP needed: with VXLAN the routes come from the IPAM blocks and the VTEPs the agent reads from the datastore');
  const said = `${node} sends ${from.label}'s packets for ${to.label} ${encap === 'local' ? `straight to ${dev}` : `${encap === 'direct' ? 'unencapsulated' : `by ${encapName[encap]}`} ${route.gateway ? `via ${route.gateway} ` : ''}on ${dev}`}`;
  if (expected && encap !== 'local' && expected.encap !== encap) {
    return {
      hop: hop(node, kind, title, evidence, 'warn', 'route-disagrees-with-pool', `${said}, but the pool asks for ${encapName[expected.encap]}: the route was not updated after a mode change, or something other than the node's agent${table?.protocol !== undefined ? ` (proto ${String(table.protocol)})` : ''} owns it; check the agent on ${node}.`),
      leg,
    };
  }
  return { hop: hop(node, kind, title, evidence, 'ok', encap === 'local' ? 'local-delivery' : 'route-ok', `${said}${expected && encap !== 'local' ? `, as the pool asks` : ''}.`), leg };
}

/** What the fabric carries for a leg, and whether it can deliver it. */
function underlayHop(cluster: ClusterFacts, from: Side, to: Side, leg: Leg, kind: 'underlay' | 'return-underlay'): TraceHop {
  const node = from.end.pod!.node;
  const title = `${node} -> fabric${to.node ? ` -> ${to.node.name}` : ''}${kind === 'return-underlay' ? ' (the way back)' : ''}`;
  const s = from.evidence!.sections;
  const toAddress = nodeAddress(to.node);
  const pool = poolOf(cluster, to.end.ip) ?? poolOf(cluster, from.end.ip);
  if (leg.encap === 'ipip' || leg.encap === 'vxlan') {
    const wire = leg.encap === 'ipip' ? 'protocol 4 (IP-in-IP)' : `UDP ${listOf<IpLink>(s['links']).find((l) => l.ifname === 'vxlan.calico')?.linkinfo?.info_data?.port ?? 4789} (VXLAN)`;
    const evidence = [`on the wire: outer ${leg.outerSrc} -> ${leg.outerDst} ${wire}, inner ${from.end.ip} -> ${to.end.ip}`];
    if (s['peer-get'] !== undefined) evidence.push(lookupLine(node, `ip route get ${toAddress}`, s['peer-get']));
    if (toAddress && leg.outerDst !== toAddress) {
      return hop(node, kind, title, evidence, 'fail', 'tunnel-to-wrong-node', `${node} tunnels ${to.label}'s packets to ${leg.outerDst}, but ${to.label} runs on ${to.node?.name} (${toAddress}): the route is stale (the block moved); check the BGP paths above and the agent on ${node}.`);
    }
    const peer = parseJsonArray<IpRoute>(s['peer-get']);
    const via = peer.ok ? peer.value[0]?.gateway : undefined;
    // The pod's MTU plus the tunnel's header must fit the underlay's, or full-size packets are
    // fragmented or, with DF set (TCP), dropped: the classic stale pod MTU after a mode change.
    const underDev = peer.ok ? peer.value[0]?.dev : undefined;
    const underMtu = listOf<IpLink>(s['links']).find((l) => l.ifname === underDev)?.mtu;
    const podDev = parseJsonArray<IpRoute>(s['pod-get']);
    const podLink = listOf<IpLink>(s['pod-links']).find((l) => l.ifname === (podDev.ok ? podDev.value[0]?.dev : undefined) || l.ifname === 'eth0');
    const overhead = leg.encap === 'ipip' ? ipipOverhead : vxlanOverhead;
    if (underMtu && podLink?.mtu) {
      evidence.push(`MTU: ${from.label}'s ${podLink.ifname} ${podLink.mtu} + ${encapName[leg.encap]} ${overhead} = ${podLink.mtu + overhead}; ${node}'s ${underDev} ${underMtu}`);
      if (podLink.mtu + overhead > underMtu) {
        return hop(node, kind, title, evidence, 'warn', 'pod-mtu-exceeds-path', `${from.label}'s MTU ${podLink.mtu} leaves no room for ${encapName[leg.encap]}'s ${overhead} bytes on ${underDev} (MTU ${underMtu}): small packets (ping) pass; full-size ones (TCP sets DF) get through only if ${node}'s ICMP "fragmentation needed" reaches the sender, and are lost where it is filtered. Set the pods' MTU to ${underMtu - overhead} and restart them (a pod keeps the MTU it was created with, calico#1709).`);
      }
    }
    return hop(node, kind, title, evidence, 'ok', 'underlay-ok', `The fabric sees only node addresses (${leg.outerSrc} -> ${leg.outerDst})${via ? `, routed by the gateway ${via}, which knows the host subnets` : ', on one subnet'}: source/destination checks pass.`);
  }
  const evidence = [`on the wire: ${from.end.ip} -> ${to.end.ip} (pod addresses, unencapsulated) to next hop ${leg.gateway ?? to.end.ip} on ${leg.dev}`];
  if (s['peer-get'] !== undefined && toAddress) evidence.push(lookupLine(node, `ip route get ${toAddress}`, s['peer-get']));
  if (!to.end.pod) {
    const nat = pool?.natOutgoing && !poolOf(cluster, to.end.ip);
    if (nat) evidence.push(`pool ${pool.name}: natOutgoing true: ${node} masquerades the source to its own address`);
    return hop(node, kind, title, evidence, 'unknown', 'destination-outside-cluster', `${to.end.ip} is not a pod of the cluster${to.end.node ? ` (it is ${to.end.node}'s address)` : ''}: the trace ends where the packet leaves ${node}${nat ? ', masqueraded' : ''}; what the fabric does next is not known.`);
  }
  const nextHop = leg.gateway ?? to.end.ip;
  const nodeThere = cluster.nodes.find((n) => nodeAddress(n) === nextHop || n.internalIp === nextHop);
  const mode = pool ? `the pool's ipipMode is ${pool.ipipMode}${pool.vxlanMode !== 'Never' ? ` and vxlanMode ${pool.vxlanMode}` : ''}` : 'no pool encapsulates it';
  if (!nodeThere) {
    const peering = cluster.bgpPeers.find((p) => p.peerIP === nextHop);
    if (peering) {
      return hop(node, kind, title, evidence, 'ok', 'gateway-peers-by-bgp', `${nextHop} is not a node but peers with the cluster by BGP (BGPPeer ${peering.name}), so it can learn the pods' routes.`);
    }
    return hop(node, kind, title, evidence, 'fail', 'gateway-cannot-route-pods', `${node} sends ${to.label}'s packets unencapsulated to the gateway ${nextHop} because ${mode}; the gateway cannot route ${pool?.cidr ?? 'pod addresses'} (it is no cluster node and no BGPPeer): set ipipMode CrossSubnet or Always, or peer the gateway by BGP.`);
  }
  return hop(node, kind, title, evidence, 'unknown', 'fabric-may-drop-pod-addresses', `${node} puts pod addresses on the fabric unencapsulated (${from.end.ip} -> ${to.end.ip}, to ${nodeThere.name}) because ${mode}: a fabric with source/destination checks (AWS's default) drops them. Turn the checks off for the nodes, or set ipipMode CrossSubnet or Always; a probe (--probe) shows which.`);
}

/** The far node's delivery of a leg's packets to its local end (the `arrive DEV` section). */
function arrivalHop(from: Side, to: Side, leg: Leg, kind: 'destination-node' | 'return-arrival'): TraceHop {
  const node = to.end.pod!.node;
  const s = to.evidence!.sections;
  const title = `${node}: delivery to ${to.label}${kind === 'return-arrival' ? ' (the way back)' : ''}`;
  const tunnel = leg.encap === 'ipip' ? 'tunl0' : leg.encap === 'vxlan' ? 'vxlan.calico' : undefined;
  const arrivals = Object.keys(s).filter((k) => k.startsWith('arrive ')).map((k) => k.slice('arrive '.length));
  const dev = tunnel ?? arrivals.find((d) => d !== 'tunl0' && d !== 'vxlan.calico');
  if (tunnel && !arrivals.includes(tunnel)) {
    return hop(node, kind, title, [`${node}: ip link show ${tunnel} -> no such device`], 'fail', 'tunnel-device-missing', `${node} has no ${tunnel}, so it cannot take the ${encapName[leg.encap]} packets from ${from.end.pod?.node}: check the agent on ${node} (it makes ${tunnel} while a pool uses ${encapName[leg.encap]}).`);
  }
  if (!dev) return hop(node, kind, title, [], 'unknown', 'evidence-missing', `${node}'s arrival interface for packets from ${from.end.pod?.node} is not known.`);
  const command = `ip route get ${to.end.ip} from ${from.end.ip} iif ${dev}`;
  const evidence = [lookupLine(node, command, s[`arrive ${dev}`])];
  const get = parseJsonArray<IpRoute>(s[`arrive ${dev}`]);
  if (!get.ok || get.value.length === 0) {
    const error = get.ok ? 'no answer' : get.error;
    if (/cross-device/i.test(error)) {
      return hop(node, kind, title, evidence, 'fail', 'rp-filter-drop', `${node} drops packets from ${from.end.ip} arriving on ${dev}: reverse-path filtering (${error}); the way back to ${from.end.ip} does not leave by ${dev}. Set net.ipv4.conf.${dev}.rp_filter to 0 or 2, as Calico does.`);
    }
    return hop(node, kind, title, evidence, 'fail', 'destination-node-no-route', `${node} cannot deliver ${to.label} (${to.end.ip}): ${error}; its /32 route on the pod's cali interface is missing: restart the pod.`);
  }
  const route = get.value[0]!;
  const outDev = route.dev ?? '';
  if (route.type === 'blackhole' || route.type === 'unreachable') {
    return hop(node, kind, title, evidence, 'fail', 'destination-node-no-route', `${node} discards packets for ${to.label} (${to.end.ip}): it has its block's blackhole but no /32 for the pod, whose endpoint is missing; restart the pod.`);
  }
  const expectedDev = to.evidence!.sections['local-dev']?.trim();
  if (!outDev.startsWith('cali') || (expectedDev && outDev !== expectedDev)) {
    return hop(node, kind, title, evidence, 'fail', 'destination-node-misroutes', `${node} forwards packets for ${to.label} to ${route.gateway ?? ''} on ${outDev} instead of the pod's interface${expectedDev ? ` ${expectedDev}` : ''}: the route is stale or another block's; check the routes on ${node}.`);
  }
  const link = listOf<IpLink>(s['links']).find((l) => l.ifname === outDev);
  if (link) evidence.push(`${node}: ${outDev} ${link.operstate ?? ''} flags ${(link.flags ?? []).join(',')}`);
  if (!isUp(link)) {
    return hop(node, kind, title, evidence, 'fail', 'destination-veth-down', `${to.label}'s veth ${outDev} on ${node} is down: bring it up or restart the pod.`);
  }
  return hop(node, kind, title, evidence, 'ok', 'route-ok', `${node} takes the packets on ${dev}${tunnel ? ' (decapsulated)' : ''} and delivers them on ${outDev}.`);
}

function destinationPodHop(side: Side, remote: string, port: number | undefined): TraceHop {
  const node = side.end.pod!.node;
  const s = side.evidence!.sections;
  const title = `${side.label}: endpoint${port ? ` (TCP ${port})` : ''}`;
  const ns = s['podns']?.trim();
  if (!ns) {
    return hop(node, 'destination-pod', title, [`${node}: no network namespace (under /var/run/netns, /var/run/docker/netns or held by a process) holds ${side.end.ip}`], 'fail', 'destination-netns-not-found', `No network namespace on ${node} holds ${side.label}'s address ${side.end.ip}: the pod is gone or was recreated with another address; check the Pod's status.`);
  }
  const addrs = listOf<IpAddr>(s['pod-addrs']);
  const evidence = [`${side.label} (namespace ${ns}): ${addrs.filter((a) => a.ifname !== 'lo').map((a) => `${a.ifname} ${addressesOf(addrs, a.ifname).join(' ')}`).join('; ')}`];
  const has = addrs.some((a) => addressesOf(addrs, a.ifname).some((x) => x.split('/')[0] === side.end.ip));
  if (!has) return hop(node, 'destination-pod', title, evidence, 'fail', 'destination-address-missing', `${side.label} does not hold ${side.end.ip}: restart the pod.`);
  evidence.push(lookupLine(side.label, `ip route get ${remote}`, s['pod-get']));
  if (port) {
    const listening = (s['pod-listen'] ?? '').split('\n').filter((l) => /LISTEN/.test(l) || l.trim() !== '');
    const match = listening.find((l) => new RegExp(`[:*.]${port}\\s`).test(l));
    evidence.push(match ? `${side.label}: ss -ltn -> ${match.trim().replace(/\s+/g, ' ')}` : `${side.label}: ss -ltn -> nothing listens on TCP ${port}`);
    if (!match) return hop(node, 'destination-pod', title, evidence, 'fail', 'port-not-listening', `Nothing in ${side.label} listens on TCP ${port}: the path works but a connection is refused; check the container's port (and the Service's targetPort).`);
  }
  return hop(node, 'destination-pod', title, evidence, 'ok', 'endpoint-ok', `${side.label} holds ${side.end.ip}${port ? ` and listens on TCP ${port}` : ''}.`);
}

function sideOf(evidence: TraceEvidence, end: Endpoint, nodeEvidence: NodeEvidence | undefined): Side {
  const nodeName = end.pod?.node ?? end.node;
  const node = evidence.cluster.nodes.find((n) => n.name === nodeName);
  return { end, label: end.pod ? podLabel(end.pod) : end.ip, ...(node ? { node } : {}), ...(nodeEvidence ? { evidence: nodeEvidence } : {}) };
}

function finalVerdict(hops: TraceHop[], source: Side, destination: Side, forward?: Leg, back?: Leg): TraceVerdict {
  const failed = hops.find((h) => h.verdict.status === 'fail') ?? hops.find((h) => h.verdict.status === 'unknown');
  if (failed) {
    const back = failed.kind.startsWith('return-') ? `On the way back: ` : '';
    return { ok: false, code: failed.verdict.code, message: `${back}${failed.verdict.message}` };
  }
  const how = forward ? encapName[forward.encap] : 'unknown';
  const asymmetric = hops.some((h) => h.verdict.code === 'asymmetric-path');
  const warned = hops.filter((h) => h.verdict.status === 'warn' && h.verdict.code !== 'asymmetric-path');
  const tail = warned.length > 0 ? ` Warning: ${warned.map((h) => h.verdict.message).join(' ')}` : '';
  if (asymmetric) {
    return { ok: true, code: 'reachable-asymmetric', message: `${source.label} reaches ${destination.label} (there: ${how}; back: ${back ? encapName[back.encap] : 'unknown'}): the path is asymmetric.${tail}` };
  }
  return { ok: true, code: 'reachable', message: `${source.label} reaches ${destination.label}: ${how} both ways.${tail}` };
}

/** The trace, from evidence collected for `evidence.request`. */
export function traceFromEvidence(evidence: TraceEvidence): TraceResult {
  const { cluster, request } = evidence;
  const sourceEnd = resolveEndpoint(cluster, request.source, 'source');
  const destinationEnd = resolveEndpoint(cluster, request.destination, 'destination');
  const source = sideOf(evidence, sourceEnd, evidence.source);
  const destination = sideOf(evidence, destinationEnd, evidence.destination);
  const endOf = (side: Side) => ({ text: side.end.text, ip: side.end.ip, ...(side.end.pod ? { pod: podLabel(side.end.pod) } : {}), ...(side.node ? { node: side.node.name } : {}) });
  const result = (hops: TraceHop[], forward?: Leg, back?: Leg): TraceResult => ({
    source: endOf(source),
    destination: endOf(destination),
    ...(request.port ? { port: request.port } : {}),
    ...(forward ? { encapsulation: encapName[forward.encap] } : {}),
    verdict: finalVerdict(hops, source, destination, forward, back),
    hops,
    gaps: evidence.gaps,
    collectedAt: evidence.collectedAt,
  });
  const missing = (node: string, what: string, kind: HopKind): TraceHop =>
    hop(node, kind, `${node}: not read`, evidence.gaps.filter((g) => g.startsWith(`${node}:`)), 'unknown', 'evidence-missing', `${what} could not be read from ${node}${evidence.gaps.length > 0 ? ` (${evidence.gaps.join('; ')})` : ''}: connect to the node over SSH (Nodes) and trace again.`);

  if (!sourceEnd.pod) throw new Error(`the source ${request.source} is not a pod`);
  if (!source.evidence) return result([missing(sourceEnd.pod.node, "The source's node", 'source-node')]);
  const hops: TraceHop[] = [sourcePodHop(source, destination.end.ip)];
  const there = routeHop(cluster, source, destination, 'source-node');
  hops.push(there.hop);
  const forward = there.leg;
  if (!forward) return result(hops);
  if (!destinationEnd.pod) {
    hops.push(underlayHop(cluster, source, destination, forward, 'underlay'));
    return result(hops, forward);
  }
  if (!destination.evidence) return result([...hops, missing(destinationEnd.pod.node, "The destination's node", 'destination-node')], forward);
  if (forward.encap !== 'local') {
    hops.push(underlayHop(cluster, source, destination, forward, 'underlay'));
    hops.push(arrivalHop(source, destination, forward, 'destination-node'));
  }
  hops.push(destinationPodHop(destination, source.end.ip, request.port));
  // The way back: the destination's node routing the reply, the fabric, the source's node delivering it.
  const backRoute = routeHop(cluster, destination, source, 'return-node');
  const back = backRoute.leg;
  if (back && forward.encap !== back.encap && backRoute.hop.verdict.status === 'ok') {
    backRoute.hop.evidence.push(`there: ${encapName[forward.encap]} on ${forward.dev}; back: ${encapName[back.encap]} on ${back.dev}`);
    backRoute.hop.verdict = { status: 'warn', code: 'asymmetric-path', message: `The way back differs: ${source.end.pod?.node} sends by ${encapName[forward.encap]}, ${destination.end.pod?.node} answers by ${encapName[back.encap]}. Stateful firewalls on the path see only one direction; both nodes should read the pool the same way (check their agents and projectcalico.org/IPv4Address).` };
  }
  hops.push(backRoute.hop);
  if (back && back.encap !== 'local') {
    hops.push(underlayHop(cluster, destination, source, back, 'return-underlay'));
    hops.push(arrivalHop(destination, source, back, 'return-arrival'));
  }
  return result(hops, forward, back);
}
