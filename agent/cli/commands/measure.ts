// `gingham-agent measure serve|run`: throughput, request/response latency and path MTU as a pod
// sees them, with the agent's own client and server (agent/measure), so that nothing is installed
// in pods. `--pod IP` runs the command inside that pod's network namespace (the agent starts
// itself there through nsenter); without it, in the node's own (the host-to-host reference).
import { spawn } from 'node:child_process';
import { InvalidArgumentError, type Command } from 'commander';
import { isIPv4 } from '../../../shared/net/index.ts';
import { measurePort, measurementSchema, type Measurement } from '../../../shared/api/measurement.ts';
import { requestResponseTest, streamTest } from '../../measure/measure-client.ts';
import { startMeasureServer } from '../../measure/measure-server.ts';
import { pathMtu } from '../../measure/path-mtu.ts';
import { netnsOf } from '../../pods/pod-netns.ts';
import { selfCommand } from '../self-command.ts';

interface Where {
  pod?: string;
  /** Already inside the namespace (set by the agent when it starts itself there). */
  here?: boolean;
}

/** Runs this same command inside the pod's namespace; resolves with its exit code. */
async function inPodNamespace(pod: string, args: string[]): Promise<number> {
  const netns = await netnsOf(pod);
  const [command, ...rest] = selfCommand();
  const child = spawn('nsenter', [`--net=${netns}`, '--', command!, ...rest, ...args, '--here'], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

function fail(error: unknown): void {
  console.error(`gingham-agent: ${(error as Error).message}`);
  process.exitCode = 2;
}

async function serve(options: Where & { port: number; lifetime: number; idle: number }): Promise<void> {
  if (options.pod && !options.here) {
    process.exitCode = await inPodNamespace(options.pod, ['measure', 'serve', '--pod', options.pod, '--port', String(options.port), '--lifetime', String(options.lifetime), '--idle', String(options.idle)]);
    return;
  }
  const server = await startMeasureServer('0.0.0.0', options.port, options.lifetime * 1000, options.idle * 1000);
  // The line a caller waits for before it starts the client.
  console.log(`measuring server on port ${options.port} for ${options.lifetime} s`);
  await new Promise((resolve) => server.on('close', resolve));
}

async function measure(options: Where & { to: string; port: number; seconds: number; streams: string; json?: boolean }): Promise<void> {
  const streamCounts = options.streams.split(',').map(Number);
  if (streamCounts.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) throw new Error(`--streams ${options.streams}: give stream counts from 1 to 64, such as 1,4`);
  if (options.pod && !options.here) {
    const args = ['measure', 'run', '--pod', options.pod, '--to', options.to, '--port', String(options.port), '--seconds', String(options.seconds), '--streams', options.streams, ...(options.json ? ['--json'] : [])];
    process.exitCode = await inPodNamespace(options.pod, args);
    return;
  }
  const at = new Date().toISOString();
  // One after another: streams measured side by side with the latency test would slow each other.
  const streams = [];
  for (const count of streamCounts) streams.push(await streamTest(options.to, options.port, options.seconds, count));
  const requestResponse = await requestResponseTest(options.to, options.port, options.seconds);
  const mtu = await pathMtu(options.to);
  const result: Measurement = measurementSchema.parse({ from: options.pod ?? 'this node', to: options.to, at, streams, requestResponse, pathMtu: mtu });
  if (options.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  const lines = [`${result.from} -> ${result.to}, ${options.seconds} s per test:`];
  for (const s of result.streams) lines.push(`  TCP, ${s.streams} stream${s.streams > 1 ? 's' : ''}: ${s.gbitPerSecond.toFixed(2)} Gbit/s`);
  const rr = result.requestResponse;
  lines.push(`  request/response: ${Math.round(rr.perSecond)} transactions/s, p50 ${rr.p50Us.toFixed(0)} us, p99 ${rr.p99Us.toFixed(0)} us`);
  lines.push(`  path MTU: ${result.pathMtu.mtu} bytes (outgoing interface ${result.pathMtu.interfaceMtu})`);
  console.log(lines.join('\n'));
}

export function registerMeasureCommands(program: Command): void {
  const group = program.command('measure').description("throughput, latency and path MTU as a pod sees them, with the agent's own client and server");
  // Refused before anything starts, naming the option: a typo must not run a test of NaN seconds.
  const port = (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1 || n > 65535) throw new InvalidArgumentError('give a TCP port from 1 to 65535');
    return n;
  };
  const seconds = (max: number) => (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max) throw new InvalidArgumentError(`give a number of seconds above 0 and at most ${max}`);
    return n;
  };
  const address = (v: string) => {
    if (!isIPv4(v)) throw new InvalidArgumentError('give an IPv4 address, such as 192.168.0.65');
    return v;
  };
  group
    .command('serve')
    .description('the measuring server, for `--lifetime` seconds (then it stops on its own)')
    .option('--pod <ip>', "in this pod's network namespace (a pod on this node)", address)
    .option('--port <port>', 'TCP port', port, measurePort)
    .option('--lifetime <seconds>', 'stop after this long', seconds(3600), 60)
    .option('--idle <seconds>', 'stop this long after the last client left', seconds(3600), 60)
    .option('--here', 'already inside the namespace (set when the agent starts itself there)')
    .action((options: Where & { port: number; lifetime: number; idle: number }) => serve(options).catch(fail));
  group
    .command('run')
    .description('measure the path to a measuring server: TCP throughput, request/response latency, path MTU')
    .requiredOption('--to <ip>', 'the address the server listens on', address)
    .option('--pod <ip>', "from this pod's network namespace (a pod on this node)", address)
    .option('--port <port>', 'TCP port', port, measurePort)
    .option('--seconds <n>', 'per test', seconds(60), 3)
    .option('--streams <list>', 'stream counts to measure, comma-separated', '1,4')
    .option('--json', 'one JSON line (shared/api/measurement.ts)')
    .option('--here', 'already inside the namespace (set when the agent starts itself there)')
    .action((options: Where & { to: string; port: number; seconds: number; streams: string; json?: boolean }) => measure(options).catch(fail));
}
