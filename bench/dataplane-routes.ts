// Benchmark: program, then remove, 10,000 remote-block routes with Gingham's reconciler (plan,
// read the kernel, diff, batch) and with `ip -batch` given the same routes, in the same run, in a
// network namespace of its own. Prints both times, the ratio (the goal: at most 1.0x) and
// the machine's load average.
//
//   sudo npx tsx bench/dataplane-routes.ts [--routes 10000] [--rounds 3]
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseDataplaneState } from '../shared/model/dataplane-state.ts';
import { formatCidr, formatIPv4, nthBlock, parseCidr, parseIPv4 } from '../shared/net/index.ts';
import { planDataplane } from '../shared/dataplane-plan/index.ts';
import { runBatch } from '../agent/dataplane/kernel/iproute.ts';
import { Reconciler } from '../agent/dataplane/reconciler.ts';
import { routeSpec } from '../agent/dataplane/route-change.ts';
import { benchArgs } from './support/options.ts';
import { loadText } from './support/summary.ts';

const netns = 'gdp-bench';
const args = process.argv.slice(2);
const cli = benchArgs(
  {
    routes: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    // The run inside the benchmark's namespace (the script starts itself there).
    inside: { type: 'boolean', default: false },
  },
  'sudo npx tsx bench/dataplane-routes.ts [--routes 10000] [--rounds 3]',
  { argv: args },
);
const routeCount = cli.number('routes');
const rounds = cli.number('rounds');

/** 100 peers on this node's subnet, each with routeCount/100 blocks of a 100.64.0.0/10 pool, mode Never. */
function benchState(withRoutes: boolean) {
  const pool = parseCidr('100.64.0.0/10');
  const peerCount = 100;
  const perPeer = Math.ceil(routeCount / peerCount);
  const peers = Array.from({ length: peerCount }, (_, p) => ({
    name: `peer-${p}`,
    address: `${formatIPv4(parseIPv4('10.240.1.0') + p + 1)}/16`,
    blocks: withRoutes ? Array.from({ length: perPeer }, (_, b) => formatCidr(nthBlock(pool, 26, p * perPeer + b))).slice(0, Math.max(0, routeCount - p * perPeer)) : [],
  }));
  return parseDataplaneState({
    node: { name: 'bench', interface: 'ens5', address: '10.240.0.1/16', mtu: 1500 },
    pools: [{ name: 'bench', cidr: formatCidr(pool), blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never' }],
    peers,
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function inside(): Promise<void> {
  const loadBefore = loadText();
  const reconciler = new Reconciler({ log: pino({ level: 'warn' }), recordOwners: false });
  const full = benchState(true);
  const empty = benchState(false);
  const routes = planDataplane(full, { mtu: 1500 }).routes;
  if (routes.length !== routeCount) throw new Error(`planned ${routes.length} routes, wanted ${routeCount}`);
  const adds = routes.map((r) => `route add ${routeSpec(r)}`);
  const dels = routes.map((r) => `route del ${r.dst} proto 71 table main`);
  const ginghamTimes: number[] = [];
  const ipTimes: number[] = [];
  for (let round = 0; round < rounds; round++) {
    let started = performance.now();
    const program = await reconciler.pass(full, { nat: false });
    const remove = await reconciler.pass(empty, { nat: false });
    ginghamTimes.push(performance.now() - started);
    if (program.changes !== routeCount || remove.changes !== routeCount || program.failures.length + remove.failures.length > 0) {
      throw new Error(`Gingham made ${program.changes}/${remove.changes} changes with ${program.failures.length + remove.failures.length} failures`);
    }
    started = performance.now();
    const added = await runBatch('ip', adds);
    const removed = await runBatch('ip', dels);
    ipTimes.push(performance.now() - started);
    if (added.length + removed.length > 0) throw new Error(`ip -batch failed: ${JSON.stringify(added.concat(removed).slice(0, 3))}`);
  }
  const gingham = median(ginghamTimes);
  const ip = median(ipTimes);
  console.log(`program + remove ${routeCount} remote-block routes, median of ${rounds} rounds:`);
  console.log(`  gingham reconciler  ${gingham.toFixed(0)} ms   (rounds: ${ginghamTimes.map((t) => t.toFixed(0)).join(', ')})`);
  console.log(`  ip -batch           ${ip.toFixed(0)} ms   (rounds: ${ipTimes.map((t) => t.toFixed(0)).join(', ')})`);
  console.log(`  ratio               ${(gingham / ip).toFixed(2)}x (goal: at most 1.0x)`);
  console.log(`  load average        ${loadBefore} at the start, ${loadText()} at the end`);
}

function outside(): void {
  if (process.getuid?.() !== 0) {
    console.error('run as root: the benchmark programs routes in a network namespace of its own');
    process.exit(1);
  }
  spawnSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
  try {
    execFileSync('ip', ['netns', 'add', netns]);
    const ns = (...a: string[]) => execFileSync('ip', ['-n', netns, ...a]);
    ns('link', 'add', 'ens5', 'type', 'veth', 'peer', 'name', 'peer0');
    ns('link', 'set', 'ens5', 'up');
    ns('link', 'set', 'peer0', 'up');
    ns('addr', 'add', '10.240.0.1/16', 'dev', 'ens5');
    const result = spawnSync('ip', ['netns', 'exec', netns, process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--inside', ...args], { stdio: 'inherit' });
    process.exitCode = result.status ?? 1;
  } finally {
    spawnSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
  }
}

if (cli.values.inside) await inside();
else outside();
