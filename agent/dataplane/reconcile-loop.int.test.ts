// The reconcile loop in a network namespace of its own: passes come from events that concern
// Gingham, not from a timer or from the host's ARP traffic; a deleted route is repaired by the
// event it makes; a monitor that dies is replaced, with passes every second meanwhile.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseDataplaneState } from '../../shared/model/dataplane-state.ts';
import { ReconcileLoop } from './reconcile-loop.ts';
import { Reconciler, type PassReport } from './reconciler.ts';

const netns = `gdl${(process.pid % 1296).toString(36)}`;
const ns = (...args: string[]) => execFileSync('ip', ['-n', netns, ...args], { encoding: 'utf8' });
const inNs = (...args: string[]) => execFileSync('ip', ['netns', 'exec', netns, ...args], { encoding: 'utf8' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const state = parseDataplaneState({
  node: { name: 'worker-1', interface: 'ens5', address: '10.240.1.11/24', mtu: 1500 },
  pools: [{ name: 'p', cidr: '192.168.0.0/16', ipipMode: 'Never', vxlanMode: 'Always' }],
  blocks: ['192.168.1.64/26'],
  peers: [
    { name: 'worker-2', address: '10.240.1.12/24', blocks: ['192.168.2.0/26'] },
    { name: 'worker-3', address: '10.240.1.13/24', blocks: ['192.168.3.128/26'] },
  ],
});

let loop: ReconcileLoop;
const passes: Array<{ at: number; report: PassReport }> = [];
let restoreNetns: (() => void) | undefined;

beforeAll(async () => {
  spawnSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
  execFileSync('ip', ['netns', 'add', netns]);
  ns('link', 'add', 'ens5', 'type', 'veth', 'peer', 'name', 'peer0');
  ns('link', 'set', 'ens5', 'up');
  ns('link', 'set', 'peer0', 'up');
  ns('addr', 'add', '10.240.1.11/24', 'dev', 'ens5');
  // The loop and its monitors run in this process: enter the namespace for the test's duration.
  restoreNetns = enterNetns(netns);
  const reconciler = new Reconciler({ log: pino({ level: 'silent' }), recordOwners: false, netns });
  loop = new ReconcileLoop(reconciler, state, pino({ level: 'silent' }), { onPass: (report) => passes.push({ at: Date.now(), report }) });
  loop.start();
  const deadline = Date.now() + 10_000;
  while (!inNs('ip', 'route', 'show', 'proto', '71').includes('192.168.3.128/26')) {
    if (Date.now() > deadline) throw new Error('the first pass did not program the routes');
    await sleep(50);
  }
  await loop.settled();
}, 30_000);

afterAll(async () => {
  await loop?.stop();
  restoreNetns?.();
  spawnSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
});

/**
 * Node has no setns(2), and the agent runs inside its node's namespace: here the loop's children
 * (ip, bridge, nft, found on PATH) are what must run inside, so PATH points at wrappers that enter it.
 */
function enterNetns(name: string): () => void {
  const dir = mkdtempSync(path.join(tmpdir(), 'gdl-path-'));
  const real = (tool: string) => execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
  const ip = real('ip');
  for (const tool of ['ip', 'bridge', 'nft']) {
    writeFileSync(path.join(dir, tool), `#!/bin/sh\nexec ${ip} netns exec ${name} ${real(tool)} "$@"\n`, { mode: 0o755 });
  }
  const before = process.env.PATH;
  process.env.PATH = `${dir}:${before}`;
  return () => {
    process.env.PATH = before;
    rmSync(dir, { recursive: true, force: true });
  };
}

describe('the reconcile loop', () => {
  it('runs no pass at rest, and none for ARP churn on the host interface', async () => {
    await sleep(500);
    const before = passes.length;
    for (let i = 2; i < 202; i++) ns('neigh', 'replace', `10.240.1.${i}`, 'lladdr', '66:00:00:00:00:01', 'dev', 'ens5', 'nud', 'reachable');
    for (let i = 2; i < 202; i++) ns('neigh', 'del', `10.240.1.${i}`, 'dev', 'ens5');
    await sleep(2500);
    expect(passes.length - before).toBe(0);
  });

  it('repairs a deleted route from the event it makes, within a second', async () => {
    const deleted = Date.now();
    ns('route', 'del', '192.168.3.128/26');
    const deadline = deleted + 1000;
    while (!ns('route', 'show', 'proto', '71').includes('192.168.3.128/26')) {
      if (Date.now() > deadline) throw new Error('not repaired within 1 s');
      await sleep(10);
    }
    // The route is back while the pass that wrote it may still be finishing (its report comes last).
    await loop.settled();
    expect(passes.at(-1)!.at).toBeGreaterThanOrEqual(deleted);
  });

  it('repairs a deleted FDB entry of vxlan.calico, and a VTEP neighbour', async () => {
    const fdb = execFileSync('bridge', ['-n', netns, 'fdb', 'show', 'dev', 'vxlan.calico'], { encoding: 'utf8' });
    const mac = /^(\S+) dst 10\.240\.1\.12 /m.exec(fdb)?.[1];
    if (!mac) throw new Error(`no FDB entry for worker-2: ${fdb}`);
    execFileSync('bridge', ['-n', netns, 'fdb', 'del', mac, 'dev', 'vxlan.calico', 'dst', '10.240.1.12', 'self']);
    ns('neigh', 'del', '192.168.3.128', 'dev', 'vxlan.calico');
    const deadline = Date.now() + 1000;
    while (
      !execFileSync('bridge', ['-n', netns, 'fdb', 'show', 'dev', 'vxlan.calico'], { encoding: 'utf8' }).includes(mac) ||
      !ns('neigh', 'show', 'dev', 'vxlan.calico').includes('192.168.3.128')
    ) {
      if (Date.now() > deadline) throw new Error('not repaired within 1 s');
      await sleep(10);
    }
  });

  it('replaces a monitor that died, passing every second meanwhile', async () => {
    // Only this process's own monitor (others' agents may be running on this machine).
    const ours = () => spawnSync('pgrep', ['-P', String(process.pid), '-f', 'monitor label'], { encoding: 'utf8' }).stdout.trim();
    const monitor = ours();
    expect(monitor).toMatch(/^\d+$/);
    process.kill(Number(monitor), 'SIGKILL');
    await sleep(1500);
    expect(ours()).toMatch(/^\d+$/);
    expect(ours()).not.toBe(monitor);
    ns('route', 'del', '192.168.2.0/26');
    const deadline = Date.now() + 1000;
    while (!ns('route', 'show', 'proto', '71').includes('192.168.2.0/26')) {
      if (Date.now() > deadline) throw new Error('not repaired within 1 s after the monitor came back');
      await sleep(10);
    }
  });
});
