// The live probe, judged: a ping from the source pod's namespace while tcpdump listens at each
// point of the path (the source's veth, the source node's underlay interface, the destination
// node's, the destination's veth); where the echo requests stop being seen is where they were
// dropped. Set beside the prediction: a probe that contradicts it is said so, and a prediction
// that could not be judged (the fabric's checks) is settled by the wire.
import { z } from 'zod';
import type { TraceHop, TraceResult } from './trace-result.ts';

export const ProbePointEvidence = z.object({
  node: z.string(),
  /** Where on the path: `source veth`, `source underlay`, `destination underlay`, `destination veth`. */
  where: z.string(),
  dev: z.string(),
  filter: z.string(),
  /** What `tcpdump -nn -l` printed. */
  output: z.string(),
});
export type ProbePointEvidence = z.infer<typeof ProbePointEvidence>;

export const ProbeEvidence = z.object({
  command: z.string(),
  output: z.string(),
  exitCode: z.number().nullable(),
  points: z.array(ProbePointEvidence),
});
export type ProbeEvidence = z.infer<typeof ProbeEvidence>;

/** Echo requests and replies between the two pods in a capture (inner packets of IP-in-IP and VXLAN included). */
export function countEchoes(output: string, source: string, destination: string): { requests: number; replies: number } {
  const requests = output.split(`${source} > ${destination}: ICMP echo request`).length - 1;
  const replies = output.split(`${destination} > ${source}: ICMP echo reply`).length - 1;
  return { requests, replies };
}

/** The probe as a hop, and the final verdict amended where the wire settles or contradicts the prediction. */
export function judgeProbe(trace: TraceResult, probe: ProbeEvidence): TraceResult {
  const { ip: source } = trace.source;
  const { ip: destination } = trace.destination;
  const answered = /\b(\d+) received/.exec(probe.output);
  const replies = answered ? Number(answered[1]) : 0;
  const evidence = [`${probe.command} -> ${probe.output.split('\n').filter((l) => /transmitted|rtt|100% packet loss/.test(l)).join('; ') || probe.output.trim().split('\n').slice(-2).join('; ')}`];
  const seen = probe.points.map((p) => ({ ...p, ...countEchoes(p.output, source, destination) }));
  for (const p of seen) evidence.push(`tcpdump on ${p.node} ${p.dev} (${p.where}): ${p.requests} echo request(s), ${p.replies} reply(ies)`);
  const lostAt = seen.findIndex((p) => p.requests === 0);
  const lastSeen = lostAt > 0 ? seen[lostAt - 1] : undefined;
  const where =
    lostAt === 0
      ? `the requests never reached ${seen[0]!.dev} on ${seen[0]!.node}`
      : lostAt > 0
        ? `the requests were seen on ${lastSeen!.node} ${lastSeen!.dev} (${lastSeen!.where}) but not on ${seen[lostAt]!.node} ${seen[lostAt]!.dev} (${seen[lostAt]!.where})`
        : replies === 0
          ? `the requests reached ${seen.at(-1)?.dev ?? 'the destination'}, but no reply came back`
          : 'requests and replies were seen at every point';
  const ok = replies > 0;
  const predicted = trace.verdict;
  let verdict = predicted;
  let hopVerdict: TraceHop['verdict'];
  const fabricHop = lostAt > 0 && /underlay/.test(lastSeen!.where) && /underlay/.test(seen[lostAt]!.where);
  if (!ok && predicted.code === 'fabric-may-drop-pod-addresses' && fabricHop) {
    hopVerdict = { status: 'fail', code: 'fabric-drops-pod-addresses', message: `The probe confirms it: the fabric dropped the pod-addressed packets (${where}). Turn the source/destination checks off for the nodes, or set ipipMode CrossSubnet or Always.` };
    verdict = { ok: false, code: 'fabric-drops-pod-addresses', message: hopVerdict.message };
  } else if (ok && predicted.code === 'fabric-may-drop-pod-addresses') {
    hopVerdict = { status: 'ok', code: 'probe-agrees', message: `The probe got ${replies} replies: the fabric lets the pod addresses through (no source/destination checks on this path).` };
    verdict = { ok: true, code: 'reachable', message: `${trace.source.pod ?? source} reaches ${trace.destination.pod ?? destination}: ${trace.encapsulation ?? 'direct'}, pod addresses on the fabric, which accepts them (probed).` };
  } else if (ok === predicted.ok) {
    hopVerdict = { status: 'ok', code: 'probe-agrees', message: `The probe agrees with the prediction: ${ok ? `${replies} replies` : `no reply; ${where}`}.` };
  } else {
    hopVerdict = {
      status: 'warn',
      code: 'probe-disagrees',
      message: `Prediction and probe disagree: the doctor predicted ${predicted.ok ? 'reachable' : `unreachable (${predicted.code})`}, the probe ${ok ? `got ${replies} replies` : `got no reply (${where})`}. Something the doctor does not read decides (a firewall rule, a policy, a route outside the main table); look at the captures.`,
    };
    verdict = { ok, code: 'probe-disagrees', message: hopVerdict.message };
  }
  const hop: TraceHop = { node: trace.source.node ?? '', kind: 'probe', title: `live probe: ping ${destination} from ${trace.source.pod ?? source}`, evidence, verdict: hopVerdict };
  return { ...trace, verdict, hops: [...trace.hops, hop], probe: { ok, replies, where } };
}
