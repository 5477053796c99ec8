// The doctor's live probe: three pings from the source pod's namespace while tcpdump listens, for
// a few seconds, at each point of the path the evidence names (the source's veth, each node's
// interface towards the other, the destination's veth). Only reads and one ping: nothing is changed.
import type { Client } from 'ssh2';
import type { TraceEvidence } from '../../../shared/doctor/evidence.ts';
import { parseJsonArray, type IpRoute } from '../../../shared/doctor/ip-json.ts';
import type { ProbeEvidence, ProbePointEvidence } from '../../../shared/doctor/probe.ts';
import { runScript } from '../installer/remote.ts';

const captureSeconds = 4;
/** tcpdump's start (it prints `listening on` once its filter is in place) before the first ping. */
const settleMs = 800;

const sudo = `S=''; [ "$(id -u)" = 0 ] || S='sudo -n'`;
const captureScript = `${sudo}\n$S timeout ${captureSeconds} tcpdump -nn -l -c 60 -i "$1" "$2" 2>&1\nexit 0\n`;
const pingScript = `${sudo}\n$S nsenter --net="$1" ping -c 3 -i 0.2 -W 1 "$2" 2>&1\n`;

const devOf = (text: string | undefined) => {
  const parsed = parseJsonArray<IpRoute>(text);
  return parsed.ok ? parsed.value[0]?.dev : undefined;
};

export async function liveProbe(evidence: TraceEvidence, clientFor: (node: string) => Promise<Client>): Promise<ProbeEvidence> {
  const src = evidence.source;
  const dst = evidence.destination;
  if (!src) throw new Error("the source's node was not read, so there is nothing to probe from");
  const ns = src.sections['podns']?.trim();
  if (!ns) throw new Error(`no network namespace on ${src.node} holds ${src.local}: the probe cannot start`);
  const inner = `icmp and host ${src.local} and host ${src.remote}`;
  const outer = src.peerNode && dst?.peerNode ? ` or (host ${dst.peerNode} and host ${src.peerNode} and (ip proto 4 or udp port 4789))` : '';
  const points: { node: string; where: string; dev: string; filter: string }[] = [];
  const srcVeth = src.sections['local-dev']?.trim();
  if (srcVeth) points.push({ node: src.node, where: 'source veth', dev: srcVeth, filter: inner });
  const sameNode = dst?.node === src.node;
  if (dst && !sameNode) {
    const srcUnder = devOf(src.sections['peer-get']);
    const dstUnder = devOf(dst.sections['peer-get']);
    if (srcUnder) points.push({ node: src.node, where: 'source underlay', dev: srcUnder, filter: `(${inner})${outer}` });
    if (dstUnder) points.push({ node: dst.node, where: 'destination underlay', dev: dstUnder, filter: `(${inner})${outer}` });
  }
  const dstVeth = dst?.sections['local-dev']?.trim();
  if (dst && dstVeth) points.push({ node: dst.node, where: 'destination veth', dev: dstVeth, filter: inner });

  const captures = points.map(async (p): Promise<ProbePointEvidence> => {
    const result = await runScript(await clientFor(p.node), `capturing on ${p.node} ${p.dev}`, captureScript, [p.dev, p.filter], (captureSeconds + 10) * 1000);
    return { ...p, output: result.stdout };
  });
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const ping = await runScript(await clientFor(src.node), `pinging from ${src.node}`, pingScript, [ns, src.remote], 15_000);
  return {
    command: `nsenter --net=${ns} ping -c 3 -i 0.2 -W 1 ${src.remote} (on ${src.node})`,
    output: ping.stdout,
    exitCode: ping.code,
    points: await Promise.all(captures),
  };
}
