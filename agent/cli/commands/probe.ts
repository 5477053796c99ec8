// `gingham-agent probe --from POD_IP --to IP[,IP...]`: reachability as a pod sees it, for the
// console's connectivity matrix. The pod's network namespace is found by the pod's address
// (pods/pod-netns.ts); from inside it, one ping and one HTTP GET per target (iputils ping and
// curl, through nsenter).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { netnsOf } from '../../pods/pod-netns.ts';

const run = promisify(execFile);
export interface ProbeResult {
  to: string;
  ping: { ok: boolean; ms?: number; error?: string };
  http: { ok: boolean; status?: number; ms?: number; error?: string };
}

async function probeOne(netns: string, to: string, port: number, timeoutSeconds: number): Promise<ProbeResult> {
  const ping = run('nsenter', [`--net=${netns}`, '--', 'ping', '-n', '-c', '1', '-W', String(timeoutSeconds), to]).then(
    ({ stdout }) => ({ ok: true, ms: Number(/time=([\d.]+) ms/.exec(stdout)?.[1] ?? 0) }),
    (error: { stdout?: string; stderr?: string; message: string }) => ({ ok: false, error: (error.stderr || error.stdout || error.message).trim().split('\n').at(-1) ?? 'no reply' }),
  );
  const started = Date.now();
  const http = run('nsenter', [`--net=${netns}`, '--', 'curl', '-s', '-o', '/dev/null', '-m', String(timeoutSeconds), '-w', '%{http_code}', `http://${to}:${port}/`]).then(
    ({ stdout }) => {
      const status = Number(stdout.trim());
      return { ok: status > 0 && status < 500, status, ms: Date.now() - started };
    },
    (error: { code?: number; message: string }) => ({ ok: false, error: error.code === 28 ? `timed out after ${timeoutSeconds} s` : error.code === 7 ? 'connection refused or no route' : `curl failed (${error.code ?? error.message})` }),
  );
  return { to, ping: await ping, http: await http };
}

export function registerProbeCommands(program: Command): void {
  program
    .command('probe')
    .description("ping and HTTP GET from a pod's network namespace to other addresses (the console's connectivity matrix)")
    .requiredOption('--from <ip>', "the pod's address (a pod on this node)")
    .requiredOption('--to <ips>', 'comma-separated addresses to try')
    .option('--port <port>', 'HTTP port', (v) => Number(v), 80)
    .option('--timeout <seconds>', 'per ping and per GET', (v) => Number(v), 2)
    .action(async (options: { from: string; to: string; port: number; timeout: number }) => {
      try {
        const netns = await netnsOf(options.from);
        const targets = options.to.split(',').filter(Boolean);
        const results = await Promise.all(targets.map((to) => probeOne(netns, to, options.port, options.timeout)));
        process.stdout.write(JSON.stringify({ from: options.from, netns, results }) + '\n');
      } catch (error) {
        console.error(`gingham-agent: ${(error as Error).message}`);
        process.exitCode = 2;
      }
    });
}
