// The scan's MTU and offload checks on one node: each pod's interface MTU against what the
// enabled encapsulations leave (a pod made before a mode change keeps its old MTU, calico#1709,
// #2831), the path-MTU probes the scan script sent with DF set to every other node (over the
// underlay, and through the tunnel the pair uses), and vxlan.calico's transmit checksum offload
// where Felix's feature detection says it is broken (kernel 5.7.0 or older, or FelixConfiguration's
// featureDetectOverride: calico#3145, 63-second stalls through kube-proxy's NAT).
import { vxlanDeviceName } from '../dataplane-plan/index.ts';
import { checksumOffloadBroken } from '../model/felix-features.ts';
import { ipipOverhead, podMtu, vxlanOverhead } from '../net/index.ts';
import { parseJsonArray, type IpAddr } from './ip-json.ts';
import { advice, finding, safeFix, type NodeScan } from './scan-node-facts.ts';
import type { ScanFinding } from './scan-result.ts';

type NetnsLink = IpAddr & { mtu?: number; link_type?: string };

/** The network namespaces the script read (`netns PATH` sections), each with its links and addresses. */
export function netnsSections(sections: Record<string, string>): { path: string; links: NetnsLink[] }[] {
  return Object.entries(sections)
    .filter(([name]) => name.startsWith('netns '))
    .map(([name, text]) => {
      const parsed = parseJsonArray<NetnsLink>(text);
      return { path: name.slice('netns '.length), links: parsed.ok ? parsed.value : [] };
    });
}

function podFindings(n: NodeScan): ScanFinding[] {
  const out: ScanFinding[] = [];
  const enabled = n.snapshot.pools.filter((p) => !p.spec.disabled);
  const encaps = { ipip: enabled.some((p) => p.spec.ipipMode !== 'Never'), vxlan: enabled.some((p) => p.spec.vxlanMode !== 'Never') };
  const expected = podMtu(n.hostMtu, encaps);
  const why = encaps.vxlan ? `VXLAN's ${vxlanOverhead}-byte header` : encaps.ipip ? `IP-in-IP's ${ipipOverhead}-byte header` : 'no encapsulation';
  const spaces = netnsSections(n.evidence.sections);
  for (const endpoint of n.state.endpoints) {
    const space = spaces.find((ns) => ns.links.some((l) => (l.addr_info ?? []).some((a) => a.family === 'inet' && a.local === endpoint.ip)));
    if (!space) {
      out.push(finding('pod-netns-not-found', n.name, endpoint.ip, 'warning', `IPAM records pod ${endpoint.name} (${endpoint.ip}) on ${n.name}, but no network namespace on the node holds the address: the pod is gone and its address leaked, or it is being recreated.`, [`namespaces read: ${spaces.map((s) => s.path).join(', ') || 'none'}`], advice('If the pod is gone, release its address (calicoctl ipam check / release).')));
      continue;
    }
    const link = space.links.find((l) => (l.addr_info ?? []).some((a) => a.local === endpoint.ip))!;
    if ((link.mtu ?? 0) > expected) {
      out.push(finding('pod-mtu-too-large', n.name, endpoint.name, 'error', `Pod ${endpoint.name} (${endpoint.ip}) has MTU ${link.mtu} on ${link.ifname}, more than the ${expected} that ${why} leaves of the host's ${n.hostMtu}: full-size packets with DF set (TCP) are dropped or need fragmenting (calico#1709, #2831). The pod was made before a mode change.`, [`${space.path}: ${link.ifname} mtu ${link.mtu}`, `host interface ${n.hostInterface ?? '?'} mtu ${n.hostMtu}; pools: ${enabled.map((p) => `${p.metadata.name} ipip ${p.spec.ipipMode} vxlan ${p.spec.vxlanMode}`).join('; ')}`], advice('Recreate the pod (kubectl delete pod; its controller makes a new one with the right MTU).')));
    }
  }
  return out;
}

interface Probe {
  kind: string;
  address: string;
  dev: string;
  mtu: number;
  peer: string;
  results: Map<number, boolean>;
}

/** The probe section: `target KIND ADDR DEV MTU PEER` lines, then `probe KIND ADDR SIZE ok|fail`. */
export function parseProbes(text: string | undefined): Probe[] {
  const probes: Probe[] = [];
  for (const line of (text ?? '').split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] === 'target' && words.length >= 6) probes.push({ kind: words[1]!, address: words[2]!, dev: words[3]!, mtu: Number(words[4]), peer: words[5]!, results: new Map() });
    if (words[0] === 'probe' && words.length >= 5) probes.find((p) => p.kind === words[1] && p.address === words[2])?.results.set(Number(words[3]), words[4] === 'ok');
  }
  return probes;
}

export const headerBytes = 28; // IPv4 20 + ICMP 8: `ping -s SIZE` sends SIZE + 28 bytes

function probeFindings(n: NodeScan): ScanFinding[] {
  const out: ScanFinding[] = [];
  const probes = parseProbes(n.evidence.sections['probes']);
  const broken = new Set<string>();
  for (const p of probes.sort((a, b) => (a.kind === 'underlay' ? -1 : b.kind === 'underlay' ? 1 : 0))) {
    const through = p.kind === 'underlay' ? `over the underlay (${p.dev})` : `through ${p.dev}`;
    const lines = [...p.results].sort((a, b) => b[0] - a[0]).map(([size, ok]) => `ping -M do -s ${size} ${p.address} (${size + headerBytes} bytes, DF) ${through}: ${ok ? 'reply' : 'no reply'}`);
    const full = p.mtu - headerBytes;
    if (p.results.get(56) === false) {
      if (p.kind !== 'underlay' && broken.has(p.peer)) continue;
      broken.add(p.peer);
      out.push(finding('peer-unreachable', n.name, `${p.kind}>${p.peer}`, 'error', `${n.name} gets no echo reply from ${p.peer} (${p.address}) ${through}, even at 84 bytes: ${p.kind === 'underlay' ? 'the node is cut off (a link down, the node down) or a firewall drops ICMP' : `the tunnel to ${p.peer} carries nothing (its route, the tunnel admission, the far node's device)`}.`, lines, advice(p.kind === 'underlay' ? `Check ${p.peer}'s link and that it is up.` : `Trace a pod of ${n.name} to a pod of ${p.peer} (doctor trace) for the hop that fails.`)));
      continue;
    }
    if (p.results.get(full) !== false) continue;
    if (p.kind !== 'underlay' && broken.has(p.peer)) continue;
    broken.add(p.peer);
    const passed = [...p.results].filter(([, ok]) => ok).map(([size]) => size);
    const largest = passed.length > 0 ? Math.max(...passed) + headerBytes : undefined;
    const code = p.kind === 'underlay' ? 'path-mtu-too-small' : 'tunnel-path-mtu-too-small';
    out.push(finding(code, n.name, `${p.kind}>${p.peer}`, 'error', `The path from ${n.name} to ${p.peer} ${through} carries ${largest ? `at most about ${largest}` : 'only small'} bytes, less than ${p.dev}'s MTU ${p.mtu}: a link on the way has a lower MTU, so full-size packets with DF set (TCP) are dropped${p.kind === 'underlay' ? '' : ' once encapsulated'}.`, lines, advice(largest ? `Raise the MTU of the link on the way to ${p.mtu}, or lower the nodes' interface MTU (and the pods', which follow it) to ${largest}.` : 'Find the link on the way with the small MTU (tracepath).')));
  }
  return out;
}

function offloadFindings(n: NodeScan, felixConfigurations: readonly unknown[]): ScanFinding[] {
  const text = n.evidence.sections[`offloads ${vxlanDeviceName}`];
  if (!text) return [];
  const line = text.split('\n').find((l) => /^tx-checksum-ip-generic:/.test(l.trim()));
  if (!line || !/:\s*on\b/.test(line)) return [];
  // Only where Felix's own rule says the offload is broken: on newer kernels it is Calico's
  // default and carries VXLAN at line rate (calico#11435 is a slowdown seen on some 6.12+ hosts,
  // not a fault; FelixConfiguration's featureDetectOverride is how an admin who meets it says so).
  const kernel = n.evidence.sections['kernel']?.trim();
  const verdict = checksumOffloadBroken(kernel || undefined, felixConfigurations, n.name);
  if (!verdict.broken) return [];
  const fixed = /\[fixed\]/.test(line);
  const who = n.evidence.bgp.source === 'agent' ? 'the Gingham agent does not turn it off itself yet' : 'Felix turns it off when it makes the device, so something made the device again or turned the offload back on';
  return [
    finding('vxlan-checksum-offload-on', n.name, vxlanDeviceName, 'warning', `${n.name}'s ${vxlanDeviceName} has transmit checksum offload on where Felix's rule says it is broken (${verdict.why}): connections through kube-proxy's NAT can stall for 63 s (calico#3145), and on some kernels 6.12+ VXLAN throughput falls to a few hundred Mbit/s (calico#11435). ${who[0]!.toUpperCase()}${who.slice(1)}.`, [`ethtool -k ${vxlanDeviceName}: ${line.trim()}`, `uname -r: ${kernel || '(not read)'}`, verdict.why], fixed ? advice('The driver does not let it change ([fixed]).') : safeFix('Turn the offload off on vxlan.calico (it comes back if the device is made again).', [`ethtool -K ${vxlanDeviceName} tx-checksum-ip-generic off`])),
  ];
}

export function mtuFindings(n: NodeScan, felixConfigurations: readonly unknown[] = []): ScanFinding[] {
  return [...podFindings(n), ...probeFindings(n), ...offloadFindings(n, felixConfigurations)];
}
