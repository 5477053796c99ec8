// The scan's dataplane drift: the plan the agent's planner makes for a node against the node's
// kernel. Routes in the pod network (missing, extra, on the wrong device, stale blackholes), the
// tunnel devices (missing, down, misconfigured, or left over after a mode change with their
// addresses, calico#4856), and vxlan.calico's neighbour and FDB entries (missing or stale).
import { ginghamRouteProtocol, ipipDeviceName, vxlanDeviceName, vxlanPort, vxlanVni, type DesiredRoute } from '../dataplane-plan/index.ts';
import { containsCidr, parseCidr, type Cidr } from '../net/index.ts';
import { addressesOf, isUp, protocolText, routeLine, type IpLink, type IpRoute } from './ip-json.ts';
import { advice, finding, safeFix, type NodeScan } from './scan-node-facts.ts';
import type { ScanFinding } from './scan-result.ts';

const hostRoute = (dst: string) => (dst.includes('/') ? dst : `${dst}/32`);

function cidrOf(dst: string): Cidr | undefined {
  try {
    return parseCidr(hostRoute(dst));
  } catch {
    return undefined;
  }
}

const isOurs = (route: IpRoute) => String(route.protocol) === String(ginghamRouteProtocol);

function plannedLine(route: DesiredRoute): string {
  if (route.type === 'blackhole') return `blackhole ${route.dst}`;
  return [route.dst, route.gateway ? `via ${route.gateway}` : '', route.dev ? `dev ${route.dev}` : '', route.onlink ? 'onlink' : ''].filter(Boolean).join(' ');
}

function ownerText(route: DesiredRoute): string {
  const o = route.owner;
  if (o.kind === 'endpoint') return `pod ${o.endpoint}`;
  if (o.kind === 'own-block') return `own block of pool ${o.pool}`;
  return `${o.node}'s block, pool ${o.pool} (${o.mode}, ${o.path})`;
}

/** `ip route del ...` for a kernel route, exactly the one listed. */
function deleteCommand(route: IpRoute): string {
  const words = ['ip route del'];
  if (route.type && route.type !== 'unicast') words.push(route.type);
  words.push(hostRoute(route.dst));
  if (route.gateway) words.push('via', route.gateway);
  if (route.dev) words.push('dev', route.dev);
  words.push('proto', String(route.protocol));
  return words.join(' ');
}

function routeFindings(n: NodeScan): ScanFinding[] {
  const out: ScanFinding[] = [];
  const pools = n.snapshot.pools.map((p) => p.cidr);
  const kernel = new Map<string, IpRoute>();
  for (const route of n.routes) {
    if (route.dst === 'default') continue;
    const cidr = cidrOf(route.dst);
    const inPool = cidr !== undefined && pools.some((p) => containsCidr(p, cidr));
    const onTunnel = route.dev === ipipDeviceName || route.dev === vxlanDeviceName;
    if (inPool || onTunnel) kernel.set(hostRoute(route.dst), route);
  }
  const plannedDsts = new Set(n.plan.routes.map((r) => r.dst));
  for (const want of n.plan.routes) {
    const have = kernel.get(want.dst);
    const evidence = [`plan (${ownerText(want)}): ${plannedLine(want)}`];
    if (!have) {
      const why = want.owner.kind === 'remote-block'
        ? `the route to ${want.owner.node}'s block is not programmed: with BGP it comes from ${want.owner.node}'s session (see the BGP findings), with VXLAN from IPAM`
        : want.owner.kind === 'endpoint'
          ? `the pod's /32 on its veth is gone: the pod's veth was removed or the CNI plugin failed`
          : `the own block's blackhole is not programmed`;
      out.push(finding('route-missing', n.name, want.dst, 'error', `${n.name} has no route for ${want.dst} (${ownerText(want)}): ${why}.`, [...evidence, `kernel: no route for ${want.dst} in the main table`], advice(`Check that the node's agent (or calico-node) runs and is synced; its reconciler programs the route. On a Gingham node: gingham-agent routes.`)));
      continue;
    }
    evidence.push(`kernel: ${routeLine(have)}`);
    const haveType = have.type ?? 'unicast';
    if (haveType !== want.type || (want.type === 'unicast' && have.dev !== want.dev)) {
      const code = haveType === 'blackhole' && want.type !== 'blackhole' ? 'stale-blackhole' : 'route-wrong-device';
      out.push(finding(code, n.name, want.dst, 'error', code === 'stale-blackhole'
        ? `${n.name} blackholes ${want.dst}, which the plan routes (${ownerText(want)}): packets to it are dropped.`
        : `${n.name} routes ${want.dst} ${haveType === 'unicast' ? `on ${have.dev ?? '?'}` : `as ${haveType}`}, the plan on ${want.type === 'unicast' ? want.dev : 'a blackhole'} (${ownerText(want)}): a route left from an earlier mode, or one another program owns.`, evidence,
        isOurs(have) ? advice('The agent replaces its own routes: if it runs, this clears within a pass; otherwise start it.') : advice(`Made by ${protocolText(have.protocol) ?? 'another program'}, not Gingham: find which program owns it (its protocol) before changing it.`)));
    } else if (want.type === 'unicast' && (have.gateway ?? undefined) !== (want.gateway ?? undefined)) {
      out.push(finding('route-wrong-gateway', n.name, want.dst, 'error', `${n.name} sends ${want.dst} via ${have.gateway ?? 'no gateway'}, the plan via ${want.gateway ?? 'no gateway'} (${ownerText(want)}).`, evidence, advice('A next hop from another node address (a node that changed address) or another program: check the node annotations and the BGP paths.')));
    }
  }
  // Felix reaches each other node's VTEP by a /32 device route on vxlan.calico (Gingham uses
  // onlink instead): on a calico-node node those are Felix's way of doing what the plan does.
  const remoteVteps = new Set(n.snapshot.nodes.filter((node) => node.name !== n.name && node.vxlanTunnelAddress).map((node) => `${node.vxlanTunnelAddress}/32`));
  const felixVtepRoute = (dst: string, route: IpRoute) => !isOurs(route) && route.dev === vxlanDeviceName && !route.gateway && (route.type ?? 'unicast') === 'unicast' && remoteVteps.has(dst);
  for (const [dst, have] of kernel) {
    if (plannedDsts.has(dst) || felixVtepRoute(dst, have)) continue;
    // A pod just started: the CNI plugin's route comes before its IPAM record reaches the plan.
    const blackhole = have.type === 'blackhole';
    const evidence = [`kernel: ${routeLine(have)}`, `plan: no route for ${dst} on ${n.name}`];
    const ours = isOurs(have);
    const fix = ours
      ? safeFix(`Delete the route: it carries Gingham's protocol (${ginghamRouteProtocol}) and no plan wants it.`, [deleteCommand(have)])
      : advice(`Made by ${protocolText(have.protocol) ?? 'another program'}, not Gingham: fix what made it (a BGP peer's announcement, Felix's IPAM view) rather than the kernel.`);
    if (blackhole) {
      out.push(finding('stale-blackhole', n.name, dst, 'error', `${n.name} blackholes ${dst}, a block it no longer holds: packets to it are dropped (a block released or moved to another node).`, evidence, fix));
    } else {
      out.push(finding('route-extra', n.name, dst, 'warning', `${n.name} routes ${dst} on ${have.dev ?? '?'}, which no plan wants: a block released, a node gone, or a route from an earlier mode.`, evidence, fix));
    }
  }
  return out;
}

function deviceFindings(n: NodeScan): ScanFinding[] {
  const out: ScanFinding[] = [];
  const linkLine = (l: IpLink) => `${l.ifname}: ${l.linkinfo?.info_kind ?? l.link_type ?? 'device'} mtu ${l.mtu ?? '?'} ${(l.flags ?? []).join(',')} state ${l.operstate ?? '?'}`;
  const modes = n.snapshot.pools.map((p) => `pool ${p.metadata.name}: ipipMode ${p.spec.ipipMode}, vxlanMode ${p.spec.vxlanMode}${p.spec.disabled ? ' (disabled)' : ''}`);
  const check = (wanted: { name: string; address?: string; mtu: number } | undefined, overhead: number) => {
    const name = wanted?.name;
    if (!wanted || !name) return;
    const link = n.links.find((l) => l.ifname === name);
    if (!link) {
      out.push(finding('tunnel-device-missing', n.name, name, 'error', `${n.name} has no ${name}, which its pools need: encapsulated traffic has no device to leave by.`, modes, advice(`The agent (or Felix) creates ${name}: check that it runs.`)));
      return;
    }
    if (!isUp(link)) out.push(finding('tunnel-device-down', n.name, name, 'error', `${n.name}'s ${name} is down.`, [linkLine(link)], advice(`ip link set ${name} up, or restart the agent, which brings it up.`)));
    const has = addressesOf(n.addrs, name);
    if (wanted.address && !has.includes(wanted.address)) {
      out.push(finding('tunnel-address-missing', n.name, name, 'error', `${n.name}'s ${name} lacks its tunnel address ${wanted.address}: the node's own packets to pods leave without a source the others route back to.`, [linkLine(link), `addresses: ${has.join(', ') || 'none'}`], advice('The agent assigns it from the node\'s block: check that it runs.')));
    }
    if ((link.mtu ?? 0) > n.hostMtu - overhead) {
      out.push(finding('tunnel-mtu-too-large', n.name, name, 'error', `${n.name}'s ${name} has MTU ${link.mtu}, more than ${n.hostMtu - overhead} (the host interface ${n.hostInterface ?? '?'}'s ${n.hostMtu} less the ${overhead}-byte header): full-size encapsulated packets do not fit the underlay.`, [linkLine(link), `host interface ${n.hostInterface ?? '?'} mtu ${n.hostMtu}`], advice(`Set ${name}'s MTU to ${n.hostMtu - overhead} (the agent does when it programs the device).`)));
    }
  };
  check(n.plan.ipip, 20);
  check(n.plan.vxlan, 50);
  const tunl0 = n.links.find((l) => l.ifname === ipipDeviceName);
  if (!n.plan.ipip && tunl0) {
    const has = addressesOf(n.addrs, ipipDeviceName);
    if (tunl0.linkinfo?.info_kind === 'tun') {
      out.push(finding('leftover-device', n.name, ipipDeviceName, 'warning', `${n.name} still has the user-space ${ipipDeviceName} (a TUN device) though no pool uses IP-in-IP.`, [linkLine(tunl0), ...modes], safeFix(`Delete the leftover device.`, [`ip link del ${ipipDeviceName}`])));
    } else if (has.length > 0) {
      out.push(finding('leftover-tunnel-address', n.name, ipipDeviceName, 'warning', `${n.name}'s ${ipipDeviceName} still has ${has.join(', ')} though no pool uses IP-in-IP (calico#4856): the address is also the node's source for some traffic, and it is no longer routed.`, [linkLine(tunl0), `addresses: ${has.join(', ')}`, ...modes], safeFix('Remove the address (the kernel keeps tunl0 itself while the ipip module is loaded).', has.map((a) => `ip addr del ${a} dev ${ipipDeviceName}`))));
    }
  }
  const vxlan = n.links.find((l) => l.ifname === vxlanDeviceName);
  if (!n.plan.vxlan && vxlan) {
    const has = addressesOf(n.addrs, vxlanDeviceName);
    out.push(finding('leftover-device', n.name, vxlanDeviceName, 'warning', `${n.name} still has ${vxlanDeviceName}${has.length ? ` with ${has.join(', ')}` : ''} though no pool uses VXLAN: left after a mode change (calico#4856).`, [linkLine(vxlan), ...modes], safeFix('Delete the leftover device (its routes, neighbour and FDB entries go with it).', [`ip link del ${vxlanDeviceName}`])));
  }
  if (n.plan.vxlan && vxlan) {
    const data = vxlan.linkinfo?.info_data ?? {};
    const wrong: string[] = [];
    if (data.id !== undefined && data.id !== vxlanVni) wrong.push(`VNI ${data.id}, not ${vxlanVni}`);
    if (data.port !== undefined && data.port !== vxlanPort) wrong.push(`port ${data.port}, not ${vxlanPort}`);
    if (data.local !== undefined && data.local !== n.nodeIp) wrong.push(`local ${data.local}, not the node's ${n.nodeIp}`);
    if (wrong.length > 0) out.push(finding('vxlan-device-misconfigured', n.name, vxlanDeviceName, 'error', `${n.name}'s ${vxlanDeviceName} has ${wrong.join(', ')}: the other nodes' VXLAN packets do not reach it.`, [linkLine(vxlan), `info_data ${JSON.stringify(data)}`], advice(`Delete it (ip link del ${vxlanDeviceName}) and let the agent (or Felix) create it again.`)));
  }
  return out;
}

function vtepFindings(n: NodeScan): ScanFinding[] {
  if (!n.plan.vxlan || !n.links.some((l) => l.ifname === vxlanDeviceName)) return [];
  const out: ScanFinding[] = [];
  const permanent = n.neigh.filter((e) => (e.state ?? []).includes('PERMANENT'));
  for (const want of n.plan.neighbours) {
    const have = permanent.find((e) => e.dst === want.ip);
    if (!have || have.lladdr?.toLowerCase() !== want.mac) {
      out.push(finding('vxlan-neighbour-missing', n.name, want.ip, 'error', `${n.name} has no permanent neighbour ${want.ip} -> ${want.mac} on ${vxlanDeviceName} (${want.node}'s VTEP): packets to ${want.node}'s pods have no inner destination MAC.`, [`plan: ${want.ip} lladdr ${want.mac} dev ${vxlanDeviceName}`, `kernel: ${have ? `${have.dst} lladdr ${have.lladdr}` : 'none'}`], advice('The agent (or Felix) programs it: check that it runs and that the node annotations carry the VTEP.')));
    }
  }
  for (const have of permanent) {
    if (n.plan.neighbours.some((w) => w.ip === have.dst && w.mac === have.lladdr?.toLowerCase())) continue;
    out.push(finding('stale-neighbour', n.name, have.dst, 'warning', `${n.name} has a neighbour ${have.dst} -> ${have.lladdr ?? '?'} on ${vxlanDeviceName} that no node's VTEP is (a node gone or re-addressed).`, [`kernel: ${have.dst} lladdr ${have.lladdr} dev ${vxlanDeviceName} PERMANENT`], safeFix('Delete the stale entry.', [`ip neigh del ${have.dst} dev ${vxlanDeviceName}`])));
  }
  const unicast = n.fdb.filter((e) => e.dst && e.mac !== '00:00:00:00:00:00');
  for (const want of n.plan.fdb) {
    if (!unicast.some((e) => e.mac.toLowerCase() === want.mac && e.dst === want.dst)) {
      out.push(finding('vxlan-fdb-missing', n.name, want.mac, 'error', `${n.name} has no FDB entry ${want.mac} dst ${want.dst} on ${vxlanDeviceName} (${want.node}'s VTEP): its VXLAN packets have no outer destination.`, [`plan: ${want.mac} dev ${vxlanDeviceName} dst ${want.dst}`], advice('The agent (or Felix) programs it: check that it runs.')));
    }
  }
  for (const have of unicast) {
    if (n.plan.fdb.some((w) => w.mac === have.mac.toLowerCase() && w.dst === have.dst)) continue;
    out.push(finding('stale-fdb', n.name, `${have.mac}>${have.dst}`, 'warning', `${n.name} has an FDB entry ${have.mac} dst ${have.dst} on ${vxlanDeviceName} that no node's VTEP is: VXLAN packets for it go to a node that is gone or moved.`, [`kernel: ${have.mac} dev ${vxlanDeviceName} dst ${have.dst} ${have.state ?? ''}`.trim()], safeFix('Delete the stale entry.', [`bridge fdb del ${have.mac} dev ${vxlanDeviceName} dst ${have.dst}`])));
  }
  return out;
}

export function dataplaneFindings(n: NodeScan): ScanFinding[] {
  return [...routeFindings(n), ...deviceFindings(n), ...vtepFindings(n)];
}
