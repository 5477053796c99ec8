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

describe('BGP routes through the loop', () => {
  const bgpState = (routes: number, nextHop = '10.240.1.12') => ({
    ...state,
    pools: [...state.pools, { name: 'bgp', cidr: '10.200.0.0/16', blockSize: 26, ipipMode: 'Never' as const, vxlanMode: 'Never' as const, natOutgoing: false, disabled: false }],
    bgpRoutes: Array.from({ length: routes }, (_, i) => ({ cidr: `10.200.${i}.0/24`, nextHop })),
  });
  const bgpKernelRoutes = () => ns('route', 'show', 'proto', '71').split('\n').filter((l) => l.startsWith('10.200.'));

  it('writes a state that adds, changes or removes BGP routes in a pass that reads nothing, and its own writes start no pass', async () => {
    loop.setState(bgpState(100));
    await loop.settled();
    await sleep(300);
    await loop.settled();
    expect(bgpKernelRoutes()).toHaveLength(100);
    const before = passes.length;
    // Ten more, one moved to another next hop: written without reading the kernel.
    const next = bgpState(110);
    next.bgpRoutes[5] = { cidr: '10.200.5.0/24', nextHop: '10.240.1.13' };
    loop.setState(next);
    await loop.settled();
    const step = passes.at(-1)!.report;
    expect(passes.length).toBe(before + 1);
    expect(step.timings.read).toBe(0);
    expect(step.changes).toBe(11);
    expect(bgpKernelRoutes()).toHaveLength(110);
    expect(ns('route', 'show', '10.200.5.0/24')).toContain('via 10.240.1.13');
    // The kernel's reports of those writes are no news: no pass follows.
    await sleep(1500);
    expect(passes.length).toBe(before + 1);
    // Twenty gone.
    loop.setState(bgpState(90));
    await loop.settled();
    expect(passes.at(-1)!.report.timings.read).toBe(0);
    expect(bgpKernelRoutes()).toHaveLength(90);
    // A full pass finds the kernel exactly as planned.
    loop.trigger(0, true);
    await sleep(50);
    await loop.settled();
    expect(passes.at(-1)!.report.changes).toBe(0);
  });

  it('still repairs a BGP route deleted by hand within a second (a full pass: the event is news)', async () => {
    const deleted = Date.now();
    ns('route', 'del', '10.200.7.0/24');
    while (!ns('route', 'show', 'proto', '71').includes('10.200.7.0/24')) {
      if (Date.now() > deleted + 1000) throw new Error('not repaired within 1 s');
      await sleep(10);
    }
    await loop.settled();
    expect(passes.at(-1)!.report.changes).toBe(1);
    loop.setState(state);
    await loop.settled();
  });
});
