// The continuous probe through a switch: on each source pod's node, over SSH, one iputils ping at
// 100 per second (-D: each reply with its time) from the pod's network namespace to each
// destination pod, until the console says stop. Stop is the end of the command's stdin, so a
// console that goes away (its connection closes) stops the pings too; -w bounds them at an hour
// whatever happens. Then each ping is interrupted (so it prints its summary) and its replies are
// sent back as `EPOCH SEQ` lines, which ping-loss.ts counts.
import type { Client } from 'ssh2';
import type { PairLoss } from '../../../shared/switch/switch-report.ts';
import { netnsLookupFunctions } from '../doctor/netns-lookup-script.ts';
import { shellQuote } from '../installer/remote.ts';
import { pingLoss } from './ping-loss.ts';
import type { LossProbe } from './switch-runner.ts';

export interface ProbeSource {
  pod: string;
  node: string;
  ip: string;
  targets: { pod: string; ip: string }[];
}

const maxSeconds = 3600;
const stopTimeoutMs = 30_000;

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}

const script = String.raw`S=''; [ "$(id -u)" = 0 ] || S='sudo -n'
${netnsLookupFunctions}
src="$1"; shift
ns=$(netns_of "$src")
[ -n "$ns" ] || { echo "no network namespace on this node holds $src" >&2; exit 3; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
i=0
for dst in "$@"; do
  i=$((i+1))
  $S nsenter --net="$ns" ping -n -D -i 0.01 -w ${maxSeconds} "$dst" > "$dir/$i" 2>&1 &
  echo $! >> "$dir/pids"
done
echo started
cat > /dev/null
for p in $(cat "$dir/pids"); do $S kill -INT "$p" 2>/dev/null; done
wait
i=0
for dst in "$@"; do
  i=$((i+1))
  echo "== $dst"
  sed -n 's/^\[\([0-9.]*\)\] [0-9]* bytes from .* icmp_seq=\([0-9]*\) .*/\1 \2/p; /packets transmitted/p' "$dir/$i"
done
`;

interface Running {
  source: ProbeSource;
  output: Promise<string>;
  stop(): void;
}

/** Starts one source's pings; resolves once they run (the script printed `started`). */
function startSource(client: Client, source: ProbeSource, startTimeoutMs: number): Promise<Running> {
  const command = ['sh', '-c', shellQuote(script), 'sh', source.ip, ...source.targets.map((t) => t.ip)].join(' ');
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(new Error(`${source.node}: the continuous ping from ${source.pod} could not start: ${error.message}`));
      let stdout = '';
      let stderr = '';
      let started = false;
      const timer = setTimeout(() => {
        channel.close();
        reject(new Error(`${source.node}: the continuous ping from ${source.pod} did not start within ${startTimeoutMs / 1000} s`));
      }, startTimeoutMs);
      const output = new Promise<string>((done, fail) => {
        channel.on('close', () => {
          clearTimeout(timer);
          if (!started) reject(new Error(`${source.node}: the continuous ping from ${source.pod} could not start: ${stderr.trim() || 'the command ended'}`));
          if (stdout.includes('\n== ') || source.targets.length === 0) done(stdout);
          else fail(new Error(`${source.node}: the continuous ping from ${source.pod} ended without its counts: ${stderr.trim() || 'the connection closed'}`));
        });
      });
      output.catch(() => {});
      channel.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (!started && stdout.includes('started\n')) {
          started = true;
          clearTimeout(timer);
          resolve({ source, output, stop: () => channel.end() });
        }
      });
      channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    });
  });
}

/** Each destination's section of the script's output, by destination address. */
export function sections(output: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of output.split(/^== /m).slice(1)) {
    const newline = part.indexOf('\n');
    out.set((newline < 0 ? part : part.slice(0, newline)).trim(), newline < 0 ? '' : part.slice(newline + 1));
  }
  return out;
}

export async function startContinuousProbe(sources: ProbeSource[], clientFor: (node: string) => Promise<Client>, startTimeoutMs = 30_000): Promise<LossProbe> {
  const settled = await Promise.allSettled(sources.filter((s) => s.targets.length > 0).map(async (s) => startSource(await clientFor(s.node), s, startTimeoutMs)));
  const running = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = settled.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
  if (failed.length > 0) {
    for (const r of running) r.stop();
    throw new Error(failed.join('; '));
  }
  return {
    async stop(): Promise<PairLoss[]> {
      for (const r of running) r.stop();
      const losses = await Promise.all(
        running.map(async (r): Promise<PairLoss[]> => {
          try {
            const parts = sections(await withTimeout(r.output, stopTimeoutMs, `${r.source.node}: the continuous ping from ${r.source.pod} did not report within ${stopTimeoutMs / 1000} s of the stop`));
            return r.source.targets.map((t) => {
              const text = parts.get(t.ip);
              if (text === undefined) return { from: r.source.pod, to: t.pod, sent: 0, received: 0, lost: 0, longestGapMs: 0, error: 'no count came back for this pair' };
              return { from: r.source.pod, to: t.pod, ...pingLoss(text) };
            });
          } catch (error) {
            return r.source.targets.map((t) => ({ from: r.source.pod, to: t.pod, sent: 0, received: 0, lost: 0, longestGapMs: 0, error: (error as Error).message }));
          }
        }),
      );
      return losses.flat();
    },
  };
}
