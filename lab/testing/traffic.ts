// Traffic that runs through a fault: between every pair of pods that can reach each other in the
// current mode, a 100-per-second ping (what is lost, and the longest outage) and a paced TCP
// stream (iperf3: whether the connection survived, and the longest time it moved no data). The
// figures are what the fault tests assert on and what the fault report prints.
import { spawn } from 'node:child_process';
import { runResult, sleep } from '../sh.ts';
import { pingFrom, type PingFigures } from './probes.ts';

export interface Pod {
  name: string;
  ip: string;
}

export interface StreamFigures {
  /** iperf3 ended with an error (a reset connection, a refused one): the stream broke. */
  broken: boolean;
  error?: string;
  bytes: number;
  /** Reporting intervals seen (what the client received), and the longest run of them that carried nothing, in ms. */
  intervals: number;
  longestStallMs: number;
  /** The sender's retransmits, when iperf3 printed its summary (not when the client is interrupted in -R mode: 0). */
  retransmits: number;
}

export interface PairFigures {
  from: string;
  to: string;
  ping: PingFigures;
  stream: StreamFigures;
}

export interface TrafficFigures {
  pairs: PairFigures[];
  sent: number;
  lost: number;
  /** The longest ping outage of any pair, in ms (0 when nothing was lost). */
  longestOutageMs: number;
  brokenStreams: number;
  longestStallMs: number;
}

export interface TrafficRun {
  readonly pairs: Array<[Pod, Pod]>;
  stop(): Promise<TrafficFigures>;
}

/** The unordered pairs of `pods` whose ping answers now (3 pings in 0.6 s, each waiting 1 s). */
export async function reachablePairs(pods: Pod[]): Promise<Array<[Pod, Pod]>> {
  const pairs: Array<[Pod, Pod]> = [];
  for (let i = 0; i < pods.length; i++) for (let j = i + 1; j < pods.length; j++) pairs.push([pods[i]!, pods[j]!]);
  const answers = await Promise.all(
    pairs.map(async ([a, b]) => (await runResult('ip', ['netns', 'exec', a.name, 'ping', '-n', '-q', '-c', '3', '-i', '0.2', '-W', '1', b.ip], { timeoutMs: 10_000 })).code === 0),
  );
  return pairs.filter((_, i) => answers[i]);
}

const streamPort = (index: number) => 5201 + index;
/** Slow enough that six streams and the user-space tunnel leave the machine's two cores to the agents. */
const streamRate = '2M';
const intervalS = 0.2;

/** An iperf3 client from `from` to a one-shot server in `to`, until stopped. */
function streamBetween(from: Pod, to: Pod, port: number) {
  const server = spawn('ip', ['netns', 'exec', to.name, 'iperf3', '-s', '-1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  let client: ReturnType<typeof spawn> | undefined;
  const started = (async () => {
    await sleep(300); // the server listening
    // -R: `to` sends and the client reports what it received (a sender's figures are what it
    // wrote into its socket buffer, which a short outage never fills); -l 1400: paced in
    // packet-sized writes, not 128 KiB bursts, so an empty interval means the data stopped.
    client = spawn('ip', ['netns', 'exec', from.name, 'iperf3', '-c', to.ip, '-p', String(port), '-R', '-l', '1400', '-t', '86400', '-b', streamRate, '-i', String(intervalS), '--forceflush', '--connect-timeout', '3000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    client.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    client.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    return new Promise<number>((resolve) => client!.once('close', (code) => resolve(code ?? 1)));
  })();
  return {
    async stop(): Promise<StreamFigures> {
      const exitedEarly = client?.exitCode !== null && client?.exitCode !== undefined;
      client?.kill('SIGINT');
      const code = await started;
      server.kill('SIGKILL');
      return streamFigures(output, exitedEarly ? code : 0);
    },
  };
}

/** Reads iperf3's interval lines (`[  5]   0.20-0.40   sec  48.1 KBytes  1.97 Mbits/sec    0   22.6 KBytes`). */
export function streamFigures(output: string, exitCode: number): StreamFigures {
  const unit: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
  let bytes = 0;
  let intervals = 0;
  let stall = 0;
  let longest = 0;
  let retransmits = 0;
  // The receiving client's interval lines have no Retr column; the sender's total is in the summary.
  for (const m of output.matchAll(/^\[\s*\d+\]\s+(\d+\.\d+)-(\d+\.\d+)\s+sec\s+([\d.]+) ([KMG]?)Bytes\s+[\d.]+ [KMG]?bits\/sec(?:\s+(\d+))?\s*(sender|receiver)?/gm)) {
    const ms = (Number(m[2]) - Number(m[1])) * 1000;
    if (m[6] === 'sender') retransmits += Number(m[5] ?? 0);
    if (ms <= 0 || ms > intervalS * 1000 * 5 || m[6]) continue; // the summary lines cover the whole run
    const b = Number(m[3]) * unit[m[4]!]!;
    intervals++;
    bytes += b;
    stall = b === 0 ? stall + ms : 0;
    longest = Math.max(longest, stall);
  }
  const error = /iperf3: error - (.*)/.exec(output)?.[1];
  const broken = exitCode !== 0 || error !== undefined;
  return { broken, ...(broken ? { error: error ?? `iperf3 exited with status ${exitCode}: ${output.trim().split('\n').slice(-2).join(' ')}` } : {}), bytes, intervals, longestStallMs: Math.round(longest), retransmits };
}

/**
 * Starts a ping and a TCP stream between every pair in `pairs` (by default every pair that
 * answers now); `stop` ends them and returns what each lost.
 */
export async function startTraffic(pods: Pod[], pairs?: Array<[Pod, Pod]>): Promise<TrafficRun> {
  const chosen = pairs ?? (await reachablePairs(pods));
  const runs = chosen.map(([a, b], i) => ({ a, b, ping: pingFrom(a.name, b.ip), stream: streamBetween(a, b, streamPort(i)) }));
  await sleep(1500); // every stream connected and sending before the fault
  return {
    pairs: chosen,
    async stop() {
      const done = await Promise.all(runs.map(async (r) => ({ from: r.a.name, to: r.b.name, ping: await r.ping.stop(), stream: await r.stream.stop() })));
      return summarize(done);
    },
  };
}

export function summarize(pairs: PairFigures[]): TrafficFigures {
  return {
    pairs,
    sent: pairs.reduce((n, p) => n + p.ping.transmitted, 0),
    lost: pairs.reduce((n, p) => n + p.ping.lost, 0),
    longestOutageMs: Math.max(0, ...pairs.map((p) => (p.ping.outage ? p.ping.outage.to - p.ping.outage.from : 0))),
    brokenStreams: pairs.filter((p) => p.stream.broken).length,
    longestStallMs: Math.max(0, ...pairs.map((p) => p.stream.longestStallMs)),
  };
}

/** One line per pair, for a test's output and the report. */
export function trafficText(figures: TrafficFigures): string {
  return figures.pairs
    .map((p) => {
      const o = p.ping.outage;
      return `${p.from}->${p.to}: ping ${p.ping.lost}/${p.ping.transmitted} lost${o ? ` (longest outage ${o.lost} pings, ${o.to - o.from} ms)` : ''}; tcp ${p.stream.broken ? `BROKEN (${p.stream.error})` : 'kept'}, ${(p.stream.bytes / 1024).toFixed(0)} KiB, longest stall ${p.stream.longestStallMs} ms`;
    })
    .join('\n');
}
