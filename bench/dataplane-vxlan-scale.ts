// Benchmark: the reconciler at cluster scale in VXLAN mode, as a node of an N-node cluster runs
// it (`gingham-agent dataplane apply --state FILE --watch`, the loop `gingham-agent run` drives),
// in a network namespace of its own:
//   - first programming: N-1 remote nodes (a route, a neighbour and an FDB entry each) from an
//     empty kernel, against `nft -f`, `ip -batch` and `bridge -batch` given the same lines and
//     tunnel admission table in the same run;
//   - at rest: the CPU the agent and its iproute2 helpers use per second while nothing changes;
//   - a node joining: the state file rewritten with one more node, until its route, neighbour and
//     FDB entry are in the kernel (the file is polled every 100 ms: that is in the figure).
//
//   sudo npx tsx bench/dataplane-vxlan-scale.ts [--nodes 500] [--rest 10]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDataplaneState } from '../shared/model/dataplane-state.ts';
import { planDataplane, vxlanDeviceName } from '../shared/dataplane-plan/index.ts';
import { formatCidr, formatIPv4, nthBlock, parseCidr, parseIPv4 } from '../shared/net/index.ts';
import { routeSpec } from '../agent/dataplane/route-change.ts';
import { admissionScript } from '../agent/dataplane/tunnel-admission.ts';
import { benchArgs } from './support/options.ts';
import { cpuSeconds } from './support/process-stats.ts';

const netns = 'gdv-bench';
const cli = benchArgs(
  { nodes: { type: 'string', default: '500' }, rest: { type: 'string', default: '10' } },
  'sudo npx tsx bench/dataplane-vxlan-scale.ts [--nodes 500] [--rest 10]',
);
const nodes = cli.number('nodes');
const restSeconds = cli.number('rest');
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pool = parseCidr('100.64.0.0/10');

/** This node and `remotes` others on one /16, one /26 block each, VXLAN Always. */
function state(remotes: number): unknown {
  const address = (i: number) => formatIPv4(parseIPv4('10.240.0.1') + i);
  return {
    node: { name: 'node-0', interface: 'ens5', address: `${address(0)}/16`, mtu: 1500 },
    pools: [{ name: 'bench', cidr: formatCidr(pool), blockSize: 26, ipipMode: 'Never', vxlanMode: 'Always' }],
    blocks: [formatCidr(nthBlock(pool, 26, 0))],
    peers: Array.from({ length: remotes }, (_, i) => {
      const block = nthBlock(pool, 26, i + 1);
      return { name: `node-${i + 1}`, address: `${address(i + 1)}/16`, blocks: [formatCidr(block)], vxlanTunnelAddress: formatIPv4(block.address) };
    }),
  };
}

const ns = (command: string, ...args: string[]) => execFileSync('ip', ['netns', 'exec', netns, command, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });

function freshNamespace(): void {
  spawnSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
  execFileSync('ip', ['netns', 'add', netns]);
  execFileSync('ip', ['-n', netns, 'link', 'add', 'ens5', 'type', 'veth', 'peer', 'name', 'peer0']);
  execFileSync('ip', ['-n', netns, 'link', 'set', 'ens5', 'up']);
  execFileSync('ip', ['-n', netns, 'link', 'set', 'peer0', 'up']);
  execFileSync('ip', ['-n', netns, 'addr', 'add', '10.240.0.1/16', 'dev', 'ens5']);
}

/** How many of the remote nodes the kernel has all three entries for. */
function programmed(): { routes: number; neighbours: number; fdb: number } {
  const count = (text: string) => text.split('\n').filter((l) => l.trim() !== '').length;
  const has = spawnSync('ip', ['-n', netns, 'link', 'show', vxlanDeviceName], { stdio: 'ignore' }).status === 0;
  if (!has) return { routes: 0, neighbours: 0, fdb: 0 };
  return {
    routes: count(ns('ip', 'route', 'show', 'dev', vxlanDeviceName, 'proto', '71')),
    neighbours: count(ns('ip', 'neigh', 'show', 'dev', vxlanDeviceName, 'nud', 'permanent')),
    fdb: count(ns('bridge', 'fdb', 'show', 'dev', vxlanDeviceName)),
  };
}

async function until(done: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = performance.now();
  while (!done()) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what} did not happen within ${timeoutMs} ms: ${JSON.stringify(programmed())}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now() - started;
}

/** CPU seconds of a process and its children (the agent's long-lived ip, bridge and nft processes). */
async function treeCpu(pid: number): Promise<number> {
  const children = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
  let total = await cpuSeconds(pid);
  for (const child of children) total += await treeCpu(child);
  return total;
}

/** The same lines the reconciler sends, through `ip -batch` and `bridge -batch`, from an empty kernel. */
function peerProgramming(remotes: number): number {
  freshNamespace();
  const plan = planDataplane(parseDataplaneState(state(remotes)), { mtu: 1500 });
  const vxlan = plan.vxlan!;
  const ipLines = [
    `link add ${vxlanDeviceName} type vxlan id ${vxlan.vni} dstport ${vxlan.port} dev ${vxlan.parent} local ${vxlan.local} nolearning`,
    `link set ${vxlanDeviceName} address ${vxlan.mac} mtu ${vxlan.mtu} up`,
    `addr replace ${vxlan.address} dev ${vxlanDeviceName}`,
    ...plan.neighbours.map((n) => `neigh replace ${n.ip} lladdr ${n.mac} dev ${vxlanDeviceName} nud permanent`),
  ];
  const routeLines = plan.routes.filter((r) => r.dev === vxlanDeviceName).map((r) => `route replace ${routeSpec(r)}`);
  const fdbLines = plan.fdb.map((f) => `fdb replace ${f.mac} dev ${vxlanDeviceName} dst ${f.dst} self permanent`);
  const started = performance.now();
  // The tunnel admission table too (the cluster's hosts), as the agent writes it.
  if (plan.tunnelAdmission) execFileSync('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], { input: admissionScript(plan.tunnelAdmission) });
  execFileSync('ip', ['-n', netns, '-batch', '-'], { input: ipLines.join('\n') + '\n' });
  execFileSync('bridge', ['-n', netns, '-batch', '-'], { input: fdbLines.join('\n') + '\n' });
  execFileSync('ip', ['-n', netns, '-batch', '-'], { input: routeLines.join('\n') + '\n' });
  const ms = performance.now() - started;
  const got = programmed();
  if (got.routes !== remotes || got.fdb !== remotes) throw new Error(`ip -batch programmed ${JSON.stringify(got)}`);
  return ms;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('run as root: the benchmark programs a network namespace of its own');
    process.exit(1);
  }
  const remotes = nodes - 1;
  const dir = mkdtempSync(path.join(tmpdir(), 'gdv-bench-'));
  const file = path.join(dir, 'state.json');
  const write = (remoteCount: number) => {
    writeFileSync(`${file}.tmp`, JSON.stringify(state(remoteCount)));
    renameSync(`${file}.tmp`, file);
  };
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  try {
    const ipBatchMs = peerProgramming(remotes);
    freshNamespace();
    write(remotes);
    const started = performance.now();
    const agent = spawn('ip', ['netns', 'exec', netns, process.execPath, '--import', 'tsx', path.join(repo, 'agent/cli/bin.ts'), 'dataplane', 'apply', '--state', file, '--watch'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, GINGHAM_RUN_DIR: dir },
    });
    let log = '';
    /** The agent's own time for its passes that changed something (its log's `ms`), before the kernel was complete. */
    let passMs = 0;
    let complete = false;
    let partial = '';
    agent.stderr.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-20000);
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as { msg?: string; ms?: number };
          if (!complete && entry.msg === 'dataplane reconciled' && entry.ms !== undefined) passMs += entry.ms;
        } catch {
          // Not a log line of the agent's (nothing else writes there).
        }
      }
    });
    try {
      await until(() => {
        const got = programmed();
        return got.routes === remotes && got.neighbours === remotes && got.fdb === remotes;
      }, 120_000, `${remotes} remote nodes in the kernel`);
      const firstMs = performance.now() - started;
      // Settle, then measure a quiet interval.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const cpuBefore = await treeCpu(agent.pid!);
      await new Promise((resolve) => setTimeout(resolve, restSeconds * 1000));
      const restCpu = ((await treeCpu(agent.pid!)) - cpuBefore) / restSeconds;

      // Only the joining node's entries are polled (a full listing per poll would compete for the CPU).
      const joining = planDataplane(parseDataplaneState(state(remotes + 1)), { mtu: 1500 });
      const route = joining.routes.find((r) => r.owner.kind !== 'endpoint' && r.dev === vxlanDeviceName && r.dst === formatCidr(nthBlock(pool, 26, remotes + 1)))!;
      const neighbour = joining.neighbours.find((n) => n.node === `node-${remotes + 1}`)!;
      const fdb = joining.fdb.find((f) => f.node === `node-${remotes + 1}`)!;
      complete = true;
      const joinLogFrom = log.length;
      write(remotes + 1);
      const joinMs = await until(
        () =>
          ns('ip', 'route', 'show', route.dst, 'proto', '71').includes(vxlanDeviceName) &&
          ns('ip', 'neigh', 'show', neighbour.ip, 'dev', vxlanDeviceName).includes(neighbour.mac) &&
          ns('bridge', 'fdb', 'show', 'dev', vxlanDeviceName, 'dst', fdb.dst).includes(fdb.mac),
        30_000,
        'the joining node in the kernel',
      );

      if (process.env.BENCH_DEBUG) console.log(log.slice(Math.max(0, joinLogFrom - 4000 + log.length)));
      console.log(`reconciler at ${nodes} nodes, VXLAN Always (load ${load}):`);
      console.log(`  first programming, ${remotes} remote nodes (route + neighbour + FDB each):`);
      console.log(`    gingham, its passes (read, plan, diff, apply)  ${passMs.toFixed(0)} ms   ratio ${(passMs / ipBatchMs).toFixed(2)}x`);
      console.log(`    nft -f, ip -batch, bridge -batch, same lines   ${ipBatchMs.toFixed(0)} ms`);
      console.log(`    (gingham from its process's start, with Node and tsx starting: ${firstMs.toFixed(0)} ms)`);
      console.log(`  at rest: ${(restCpu * 100).toFixed(1)}% of a core (agent + its ip/bridge/nft processes, over ${restSeconds} s)`);
      console.log(`  one node joining, state file rewritten -> its route, neighbour and FDB entry in the kernel: ${joinMs.toFixed(0)} ms (includes the file's 100 ms poll)`);
    } catch (error) {
      console.error(log);
      throw error;
    } finally {
      agent.kill('SIGTERM');
      await new Promise((resolve) => agent.once('exit', resolve));
    }
  } finally {
    spawnSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
