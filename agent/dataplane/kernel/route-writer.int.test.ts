// The reconciler's routes over netlink (kernel/route-writer.ts feeding the native route writer)
// must program exactly what `ip -batch` programs from the same changes' text: the same table,
// route for route (blackhole, a pod's /32 scope link, onlink next hops on eth0 and on a tunnel
// device with an MTU, a gateway on the subnet, an adopted pod route, our own route replaced, our
// routes deleted), and refuse the same ones (another protocol's route in the way, a missing
// device), each named by its command.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ginghamRouteProtocol, type DesiredRoute } from '../../../shared/dataplane-plan/index.ts';
import { type LabNode, NetnsLab } from '../../../lab/testing/netns-lab.ts';
import { routeCommand, type RouteChange } from '../route-change.ts';
import { RouteChangeList } from '../route-change-list.ts';
import { RouteWriter } from './route-writer.ts';

let lab: NetnsLab;
let viaWriter: LabNode;
let viaIp: LabNode;
const pod = 'cali0123456789a';
const tunnel = 'gtun0';
const owner = { kind: 'own-block', block: '192.168.1.64/26', pool: 'p' } as const;

async function prepare(node: LabNode): Promise<void> {
  // veth pairs stand for the pod's veth and the tunnel device (this kernel has no dummy module).
  for (const [dev, peer] of [[pod, 'gpeer0'], [tunnel, 'gpeer1']] as const) {
    await node.exec('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', peer]);
    await node.exec('ip', ['link', 'set', dev, 'up']);
    await node.exec('ip', ['link', 'set', peer, 'up']);
  }
  // Not ours: a pod route an older CNI plugin made (to adopt), and a BIRD route in the way.
  await node.exec('ip', ['route', 'add', '192.168.1.66/32', 'dev', pod, 'scope', 'link', 'proto', 'boot']);
  await node.exec('ip', ['route', 'add', '192.168.5.0/26', 'via', lab.address(250), 'proto', '12']);
  // Ours from before: one to replace, two to delete.
  await node.exec('ip', ['route', 'add', '192.168.6.0/26', 'via', lab.address(250), 'proto', String(ginghamRouteProtocol)]);
  await node.exec('ip', ['route', 'add', 'blackhole', '192.168.7.0/26', 'proto', String(ginghamRouteProtocol)]);
  await node.exec('ip', ['route', 'add', '192.168.8.0/26', 'via', lab.address(250), 'proto', String(ginghamRouteProtocol)]);
}

const route = (r: Omit<DesiredRoute, 'owner' | 'onlink' | 'scope'> & Partial<DesiredRoute>): DesiredRoute => ({ onlink: false, scope: 'global', owner, ...r });

function changes(): RouteChange[] {
  return [
    { op: 'add', route: route({ dst: '192.168.1.64/26', type: 'blackhole' }) },
    { op: 'add', route: route({ dst: '192.168.1.65/32', type: 'unicast', dev: pod, scope: 'link' }) },
    { op: 'replace', route: route({ dst: '192.168.1.66/32', type: 'unicast', dev: pod, scope: 'link' }) },
    { op: 'add', route: route({ dst: '192.168.2.0/26', type: 'unicast', dev: 'eth0', gateway: lab.address(12), onlink: true }) },
    { op: 'add', route: route({ dst: '192.168.3.0/26', type: 'unicast', dev: tunnel, gateway: '10.99.0.1', onlink: true, mtu: 1480 }) },
    { op: 'add', route: route({ dst: '192.168.4.0/26', type: 'unicast', dev: 'eth0', gateway: lab.address(254) }) },
    { op: 'add', route: route({ dst: '192.168.5.0/26', type: 'unicast', dev: 'eth0', gateway: lab.address(12), onlink: true }) },
    { op: 'replace', route: route({ dst: '192.168.6.0/26', type: 'unicast', dev: 'eth0', gateway: lab.address(12), onlink: true }) },
    { op: 'add', route: route({ dst: '192.168.9.0/26', type: 'unicast', dev: 'nosuchdev0', gateway: lab.address(12), onlink: true }) },
    { op: 'del', dst: '192.168.7.0/26', type: 'blackhole' },
    { op: 'del', dst: '192.168.8.0/26', type: 'unicast' },
  ];
}

/** The node's routes, without what differs by the node's own address (the connected route's source). */
async function table(node: LabNode): Promise<string[]> {
  const routes = JSON.parse(await node.exec('ip', ['-N', '-j', '-d', 'route', 'show', 'table', 'main'])) as Array<Record<string, unknown>>;
  return routes.map(({ prefsrc: _s, ...r }) => JSON.stringify(r)).sort();
}

beforeAll(async () => {
  lab = await NetnsLab.create(23);
  viaWriter = await lab.node('writer', 2);
  viaIp = await lab.node('ip', 3);
  await prepare(viaWriter);
  await prepare(viaIp);
});

afterAll(async () => {
  await lab?.destroy();
});

describe('the reconciler route writer', () => {
  const writer = new RouteWriter();
  it.skipIf(!writer.available)('programs over netlink the same table ip -batch makes from the same changes, and refuses the same ones', async () => {
    const w = new RouteWriter({ namespace: viaWriter.ns });
    const failures = await w.apply(changes());
    await viaIp.exec('ip', ['-force', '-batch', '-'], { input: `${changes().map(routeCommand).join('\n')}\n`, allowFail: true });
    expect(await table(viaWriter)).toEqual(await table(viaIp));
    // And the table is what was asked for (not merely the same mistake twice).
    const mine = (await table(viaWriter)).map((r) => JSON.parse(r) as { dst: string; protocol: number | string; gateway?: string; dev?: string; type?: string });
    const at = (dst: string) => mine.filter((r) => r.dst === dst).map((r) => `${r.type ?? '1'} ${r.protocol} ${r.gateway ?? '-'} ${r.dev ?? '-'}`);
    expect(at('192.168.1.64/26')).toEqual([`6 ${ginghamRouteProtocol} - -`]);
    expect(at('192.168.1.66')).toEqual([`1 ${ginghamRouteProtocol} - ${pod}`]);
    expect(at('192.168.3.0/26')).toEqual([`1 ${ginghamRouteProtocol} 10.99.0.1 ${tunnel}`]);
    expect(at('192.168.5.0/26')).toEqual([`1 12 ${lab.address(250)} eth0`]);
    expect(at('192.168.6.0/26')).toEqual([`1 ${ginghamRouteProtocol} ${lab.address(12)} eth0`]);
    expect(at('192.168.7.0/26')).toEqual([]);
    expect(at('192.168.8.0/26')).toEqual([]);
    expect(failures.map((f) => f.command).sort()).toEqual([
      `route add 192.168.5.0/26 via ${lab.address(12)} dev eth0 proto ${ginghamRouteProtocol} onlink`,
      `route add 192.168.9.0/26 via ${lab.address(12)} dev nosuchdev0 proto ${ginghamRouteProtocol} onlink`,
    ]);
    expect(failures.find((f) => f.command.includes('192.168.5.0'))?.error).toMatch(/File exists.*another protocol/);
    expect(failures.find((f) => f.command.includes('nosuchdev0'))?.error).toBe('Cannot find device "nosuchdev0"');
    // A second pass on the same process: next hops it already knows, then nothing left to do.
    expect(await w.apply([{ op: 'del', dst: '192.168.2.0/26', type: 'unicast' }, { op: 'add', route: route({ dst: '192.168.2.0/26', type: 'unicast', dev: 'eth0', gateway: lab.address(12), onlink: true }) }])).toEqual([]);
    expect(w.starts).toBe(1);
    w.close();
  });
  // The CNI plugin adds a new pod's /32 (with Gingham's protocol) between the dataplane's read of
  // the kernel and its own add of the same route. The writer used to delete what refused its add
  // and add again: for a moment the pod's address had no route and met its block's blackhole
  // (node-faults.int saw `Deleted 192.168.0.194 dev cali... proto 71`). Now it reads what is there.
  it.skipIf(!writer.available)('an add refused by our own route leaves an identical one alone and replaces another in place, never deleting it', async () => {
    await viaWriter.exec('ip', ['route', 'add', '192.168.10.65/32', 'dev', pod, 'scope', 'link', 'proto', String(ginghamRouteProtocol)]);
    await viaWriter.exec('ip', ['route', 'add', '192.168.11.0/26', 'via', lab.address(250), 'dev', 'eth0', 'proto', String(ginghamRouteProtocol)]);
    const monitor = spawn('ip', ['-n', viaWriter.ns, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let seen = '';
    monitor.stdout.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    await new Promise((resolve) => setTimeout(resolve, 200)); // listening
    const w = new RouteWriter({ namespace: viaWriter.ns });
    const failures = await w.apply([
      { op: 'add', route: route({ dst: '192.168.10.65/32', type: 'unicast', dev: pod, scope: 'link' }) },
      { op: 'add', route: route({ dst: '192.168.11.0/26', type: 'unicast', dev: 'eth0', gateway: lab.address(12), onlink: true }) },
    ]);
    w.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    monitor.kill();
    expect(failures).toEqual([]);
    expect(seen.split('\n').filter((l) => l.startsWith('Deleted'))).toEqual([]);
    const routes = JSON.parse(await viaWriter.exec('ip', ['-j', 'route', 'show', 'table', 'main'])) as Array<{ dst: string; gateway?: string; dev?: string; protocol: string | number }>;
    const at = (dst: string) => routes.filter((r) => r.dst === dst).map((r) => `${r.gateway ?? '-'} ${r.dev ?? '-'}`);
    expect(at('192.168.10.65')).toEqual([`- ${pod}`]);
    expect(at('192.168.11.0/26')).toEqual([`${lab.address(12)} eth0`]);
    // The identical route was not even replaced: the monitor saw only the replaced one.
    expect(seen.split('\n').filter((l) => l.includes('192.168.10.65'))).toEqual([]);
  });

  // A pass goes to the writer a chunk of 32k routes at a time: 100k adds (a refusal among the last
  // ones) and then their deletes, each pass many chunks, are all applied and answered once.
  it.skipIf(!writer.available)('writes a pass of many chunks whole, and names a refusal in its last chunk', async () => {
    const w = new RouteWriter({ namespace: viaWriter.ns });
    const kind = route({ dst: '17.0.0.0/24', type: 'unicast', dev: 'eth0', gateway: lab.address(12), onlink: true });
    const n = 100_000;
    const adds = new RouteChangeList();
    for (let i = 0; i < n; i++) adds.pushRoute('add', 0x11000000 + i * 256, 24, kind);
    // Refused: another protocol's route at the 99,990th prefix.
    await viaWriter.exec('ip', ['route', 'add', '18.134.150.0/24', 'via', lab.address(250), 'proto', '12']);
    const failures = await w.apply(adds);
    expect(failures.map((f) => f.command)).toEqual([`route add 18.134.150.0/24 via ${lab.address(12)} dev eth0 proto ${ginghamRouteProtocol} onlink`]);
    const ours = async () => Number((await viaWriter.exec('sh', ['-c', `ip route show table main proto ${ginghamRouteProtocol} | grep -c '^1[78]\\.' || true`])).trim());
    expect(await ours()).toBe(n - 1);
    const deletes = new RouteChangeList();
    for (let i = 0; i < n; i++) if (i !== 99_990) deletes.pushDelete(0x11000000 + i * 256, 24, 'unicast');
    expect(await w.apply(deletes)).toEqual([]);
    expect(await ours()).toBe(0);
    expect(w.starts).toBe(1);
    w.close();
    await viaWriter.exec('ip', ['route', 'del', '18.134.150.0/24', 'proto', '12']);
  });
});
