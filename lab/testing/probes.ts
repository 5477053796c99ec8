// What the scenario tests look at, each through the lab's own namespaces: curl from a pod (as the
// seed does), a node's route table, a capture on the fabric (tcpdump, decoded with the console's
// packet dissector), a 100-per-second ping running through a change, nftables counters, the
// agents' status.
import { spawn } from 'node:child_process';
import { execArgv } from '../lab.ts';
import { nodeRunDir } from '../nodes/node.ts';
import { agentPaths } from '../nodes/agent-install.ts';
import { fabricNetns } from '../fabric/fabric.ts';
import { run, runResult, sleep } from '../sh.ts';
import { callRpc } from '../../agent/rpc/client.ts';
import { CaptureReader } from '../../shared/packets/capture-reader.ts';
import { dissect, Encap, PacketFacts } from '../../shared/packets/dissect.ts';
import { formatIPv4 } from '../../shared/net/index.ts';

/** Runs a command in a node's or pod's namespaces (`lab exec`). */
export async function labExec(target: string, command: string[], timeoutMs = 60_000) {
  const argv = await execArgv(target, command);
  return runResult(argv[0]!, argv.slice(1), { timeoutMs });
}

export interface CurlResult {
  /** curl's exit status: 0 answered, 28 timed out. */
  code: number;
  body: string;
  ms: number;
}

/** `curl --max-time N http://IP/` from inside a pod, as the seed does. */
export async function curlFrom(pod: string, ip: string, maxTimeS: number): Promise<CurlResult> {
  const started = Date.now();
  const result = await labExec(pod, ['curl', '-s', '-4', '--max-time', String(maxTimeS), `http://${ip}/`], (maxTimeS + 60) * 1000);
  return { code: result.code, body: result.stdout, ms: Date.now() - started };
}

export interface Route {
  dst: string;
  type?: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  flags?: string[];
}

export async function routesOf(node: string): Promise<Route[]> {
  const result = await labExec(node, ['ip', '-json', 'route', 'show']);
  if (result.code !== 0) throw new Error(`ip route on ${node}: ${result.stderr}`);
  return JSON.parse(result.stdout) as Route[];
}

/** A route as one short line: `192.168.0.64/26 via 10.240.1.12 dev tunl0`, `blackhole 192.168.0.0/26`. */
export function routeText(r: Route): string {
  if (r.type === 'blackhole') return `blackhole ${r.dst}`;
  return [r.dst, r.gateway ? `via ${r.gateway}` : '', r.dev ? `dev ${r.dev}` : ''].filter(Boolean).join(' ');
}

export interface SeenPacket {
  encap: 'direct' | 'ipip' | 'vxlan';
  outerSrc?: string;
  outerDst?: string;
  vni?: number;
  src: string;
  dst: string;
  proto: number;
  sport: number;
  dport: number;
}

function seen(f: PacketFacts): SeenPacket {
  const encap = f.encap === Encap.Ipip ? 'ipip' : f.encap === Encap.Vxlan ? 'vxlan' : 'direct';
  return {
    encap,
    ...(encap !== 'direct' ? { outerSrc: formatIPv4(f.outerSrc), outerDst: formatIPv4(f.outerDst) } : {}),
    ...(f.vni >= 0 ? { vni: f.vni } : {}),
    src: formatIPv4(f.src),
    dst: formatIPv4(f.dst),
    proto: f.ipProto,
    sport: f.sport,
    dport: f.dport,
  };
}

/** tcpdump on a fabric interface (a node's port: everything the node sends and receives) while `during` runs. */
export async function captureOnFabric(iface: string, filter: string, during: () => Promise<unknown>): Promise<SeenPacket[]> {
  const child = spawn('ip', ['netns', 'exec', fabricNetns, 'tcpdump', '--immediate-mode', '-i', iface, '-U', '-w', '-', '-s', '256', filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  const reader = new CaptureReader();
  const facts = new PacketFacts();
  const packets: SeenPacket[] = [];
  child.stdout.on('data', (chunk: Buffer) =>
    reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length), (p) => packets.push(seen(dissect(p.bytes, p.offset, p.caplen, p.origLen, p.linkType, facts)))),
  );
  let stderr = '';
  const listening = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('listening on')) resolve();
    });
    child.once('exit', () => reject(new Error(`tcpdump exited: ${stderr}`)));
  });
  // 'close', not 'exit': the last of the capture may still be in the pipe when tcpdump exits.
  const exited = new Promise((resolve) => child.once('close', resolve));
  await listening;
  try {
    await during();
    await sleep(300); // the last packets through the pipe
  } finally {
    child.kill('SIGINT');
    await exited;
  }
  return packets;
}

export interface PingFigures {
  transmitted: number;
  received: number;
  lost: number;
  /** The longest run of unanswered pings: from the last reply before it to the first after it (or to the stop), epoch ms. */
  outage?: { from: number; to: number; lost: number };
}

export interface PingRun {
  stop(): Promise<PingFigures>;
}

/** A 100-per-second ping from a pod, running until stopped; replies time-stamped (-D) to place the outage. */
export function pingFrom(pod: string, ip: string): PingRun {
  const started = Date.now();
  const child = spawn('ip', ['netns', 'exec', pod, 'ping', '-n', '-D', '-i', '0.01', '-W', '1', ip], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise((resolve) => child.once('close', resolve));
  return {
    async stop() {
      const stopped = Date.now();
      child.kill('SIGINT');
      await exited;
      const match = /(\d+) packets transmitted, (\d+) received/.exec(output);
      if (!match) throw new Error(`ping printed no summary: ${output.slice(-500)}`);
      const transmitted = Number(match[1]);
      const received = Number(match[2]);
      const replies = [...output.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from \S+ icmp_seq=(\d+)/gm)]
        .map((m) => ({ at: Number(m[1]) * 1000, seq: Number(m[2]) }))
        .sort((a, b) => a.seq - b.seq);
      // Sequence numbers never answered, between replies (or after the last, up to what was sent).
      let outage: PingFigures['outage'];
      const consider = (from: number, to: number, lost: number) => {
        if (lost > 0 && (!outage || lost > outage.lost)) outage = { from: Math.round(from), to: Math.round(to), lost };
      };
      // A path down from the start: from the first ping to the first reply.
      if (replies[0]) consider(started, replies[0].at, replies[0].seq - 1);
      for (let i = 1; i < replies.length; i++) consider(replies[i - 1]!.at, replies[i]!.at, replies[i]!.seq - replies[i - 1]!.seq - 1);
      const last = replies.at(-1);
      // SIGINT ends ping at once: the few pings sent just before it, while replies were still
      // coming every 10 ms, were in flight, not lost.
      const inFlight = last && stopped - last.at < 50 && transmitted - last.seq <= 5 ? transmitted - last.seq : 0;
      if (last) consider(last.at, stopped, transmitted - last.seq - inFlight);
      else consider(started, stopped, transmitted);
      return { transmitted: transmitted - inFlight, received, lost: transmitted - inFlight - received, ...(outage ? { outage } : {}) };
    },
  };
}

/** The packets each source/destination rule of the fabric has dropped, by its comment ("worker-1: source check"). */
export async function srcdstDrops(): Promise<Record<string, number>> {
  const json = JSON.parse(await run('ip', ['netns', 'exec', fabricNetns, 'nft', '-j', 'list', 'table', 'bridge', 'lab-srcdst'])) as {
    nftables: Array<{ rule?: { comment?: string; expr: Array<{ counter?: { packets: number } }> } }>;
  };
  const drops: Record<string, number> = {};
  for (const item of json.nftables) {
    const rule = item.rule;
    if (!rule?.comment) continue;
    drops[rule.comment] = rule.expr.find((e) => e.counter)?.counter?.packets ?? 0;
  }
  return drops;
}

export interface AgentSummary {
  bgp: { running: boolean; peers?: Array<{ state: string }> };
  state?: { blocks: string[]; pools: Array<{ ipipMode: string; vxlanMode: string }> };
  tunnels: { ipip?: string; vxlan?: string };
}

export function agentStatus(stateDir: string, node: string): Promise<AgentSummary> {
  return callRpc<AgentSummary>(`${nodeRunDir(stateDir, node)}${agentPaths.control.slice('/run'.length)}`, 'status', undefined, 10_000);
}

/** What the fault checks read of `bgp.status` (the speaker's status, agent/bgp). */
export interface BgpSessions {
  peers: Array<{ address: string; state: string; stale: number }>;
}

export function bgpStatus(stateDir: string, node: string): Promise<BgpSessions> {
  return callRpc<BgpSessions>(`${nodeRunDir(stateDir, node)}${agentPaths.control.slice('/run'.length)}`, 'bgp.status', undefined, 5000);
}

/** Established TCP connections to or from port 179 in a node. */
export async function bgpConnections(node: string): Promise<string[]> {
  const result = await labExec(node, ['ss', '-Htn', 'state', 'established', '( sport = :179 or dport = :179 )']);
  return result.stdout.split('\n').filter((l) => l.trim());
}
