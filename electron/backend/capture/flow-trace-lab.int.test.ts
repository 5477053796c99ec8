// One packet, both ends, on the lab: the console's flow capture of pod-1 (worker-1, subnet 1) ->
// pod-3 (worker-3, subnet 2) in ipipMode Always (the user-space tunl0: these kernels have no ipip)
// and in vxlanMode Always. tcpdump runs at the six points the doctor's evidence names (each pod's
// veth, tunl0 or vxlan.calico, ens5 on both nodes) while pod-1 pings pod-3, fetches its page and
// sends it 300 kB over TCP (TSO super-packets on the source's veth and tunnel, cut into segments on
// the wire, joined again on the far side); every packet of either direction is matched at every
// hop. A ping dropped by nftables on worker-3 after decapsulation is shown vanished with
// worker-3/tunl0 as the last hop that saw it; in VXLAN with the pods still at IP-in-IP's MTU, the
// first full-size packets after pod-1 forgets the path MTU vanish after pod-1's veth. The export
// is one pcapng that tshark reads with the same packet count and an interface per node and hop. The lab is taken exclusively (the test
// switches the pool's mode). GINGHAM_CAPTURE_SAVE_FIXTURES=1 writes the exports (snap length 200)
// to shared/capture/testdata/, the unit tests' captures.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventName, RequestResult } from '../../../shared/api/console-contract.ts';
import { readFlowCapture } from '../../../shared/capture/flow-export.ts';
import { correlateFlow } from '../../../shared/capture/packet-correlation.ts';
import { kubectlOk, poolName } from '../../../lab/cluster/objects.ts';
import { useLab, type LabLease } from '../../../lab/testing/lab-fixture.ts';
import { curlFrom, labExec } from '../../../lab/testing/probes.ts';
import { ConsoleBackend, type AttachedClient } from '../console-backend.ts';
import { labDefaultsFrom } from '../lab/lab-defaults.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const save = process.env.GINGHAM_CAPTURE_SAVE_FIXTURES === '1';

let lab: LabLease;
let work: string;
let backend: ConsoleBackend;
let client: AttachedClient;
let context: string;
const events: Array<{ event: EventName; payload: unknown }> = [];
const ip: Record<string, string> = {};
const figures: string[] = [];

async function patchPool(spec: Record<string, unknown>): Promise<void> {
  await kubectlOk(lab.status.kubeconfig!, ['patch', 'ippools.crd.projectcalico.org', poolName, '--type=merge', '-p', JSON.stringify({ spec })]);
}

/** Waits until pod-1 reaches pod-3 and worker-1 routes it through `dev` (the agents have reconciled). */
async function converged(dev: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const route = await labExec('worker-1', ['ip', 'route', 'get', ip['pod-3']!]).catch(() => ({ stdout: '' }));
    if (route.stdout.includes(`dev ${dev}`) && (await curlFrom('pod-1', ip['pod-3']!, 2)).code === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`pod-1 did not reach pod-3 through ${dev} within 120 s`);
}

/** 300 kB from pod-1 to a listener in pod-3 (port 5001): TCP with TSO, the bulk of the journeys. */
async function bulk(bytes: number): Promise<void> {
  const server = spawn('ip', ['netns', 'exec', 'pod-3', 'python3', '-c', [
    'import socket', 's=socket.socket()', 's.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)', "s.bind(('0.0.0.0',5001))", 's.listen(1)', 'print("ready",flush=True)',
    'c,_=s.accept()', 'n=0', 'while True:', '  d=c.recv(65536)', '  if not d: break', '  n+=len(d)', 'print(n,flush=True)',
  ].join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  server.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const done = new Promise<void>((resolve, reject) => server.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the listener in pod-3 exited ${code}`)))));
  while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 50));
  execFileSync('ip', ['netns', 'exec', 'pod-1', 'python3', '-c', `import socket\ns=socket.create_connection(('${ip['pod-3']}',5001))\ns.sendall(b'x'*${bytes})\ns.close()`], { stdio: 'inherit', timeout: 60_000 });
  await done;
  expect(out.trim().split('\n').at(-1)).toBe(String(bytes));
}

type Started = RequestResult<'capture.flowStart'>;
type Report = RequestResult<'capture.flowReport'>;

async function allJourneys(flowId: string, extra: Record<string, unknown> = {}): Promise<Report> {
  const first = await client.handlers['capture.flowReport']({ flowId, limit: 5000, ...extra });
  expect(first.total).toBe(first.journeys.length);
  return first;
}

function describeFigures(mode: string, started: Started, report: Report): void {
  const names = started.plan.points.map((p) => p.name);
  for (const d of report.directions) {
    const hops = d.hops.map((h) => names[h]!);
    figures.push(`${mode} ${d.label}: ${d.journeys} journeys, ${d.complete} complete, ${d.vanished} vanished, ${d.missed} missed, ${d.unjudged} unjudged; seen per hop ${d.seen.join('/')}`);
    for (const leg of d.legs) figures.push(`  ${hops[leg.from]} -> ${hops[leg.to]}: n ${leg.count}, p50 ${leg.p50Us} us, p99 ${leg.p99Us} us (min ${leg.minUs}, max ${leg.maxUs})`);
    if (d.endToEnd) figures.push(`  end to end: p50 ${d.endToEnd.p50Us} us, p99 ${d.endToEnd.p99Us} us`);
  }
}

/** Exports the flow, checks it with tshark and by correlating the file again; returns its path. */
async function exportAndCheck(mode: string, started: Started, report: Report): Promise<string> {
  const result = await client.handlers['capture.flowExport']({ flowId: started.flowId });
  if (result.kind !== 'download') throw new Error(`expected a download, got ${result.kind}`);
  const file = path.join(work, result.fileName);
  const bytes = Buffer.from(result.base64, 'base64');
  writeFileSync(file, bytes);
  const captured = report.points.reduce((n, p) => n + p.captured, 0);
  expect(result.packets).toBe(captured);
  const tshark = execFileSync('tshark', ['-n', '-r', file, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.interface_name', '-e', 'frame.comment'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 })
    .trim()
    .split('\n');
  expect(tshark).toHaveLength(captured);
  const perInterface = new Map<string, number>();
  for (const line of tshark) perInterface.set(line.split('|')[0]!, (perInterface.get(line.split('|')[0]!) ?? 0) + 1);
  expect(Object.fromEntries(perInterface)).toEqual(Object.fromEntries(started.plan.points.map((p, i) => [p.name, report.points[i]!.captured])));
  // Every packet carries its journey and hop, as Wireshark shows it under the frame's comments.
  expect(tshark.every((line) => /\|journeys? \d+(-\d+)? \(pod-\d -> pod-\d\) hop \d\/\d /.test(line))).toBe(true);
  // Read back, the file gives the same journeys; its link types are Ethernet and raw IP (no SLL2).
  const read = readFlowCapture(new Uint8Array(bytes));
  expect(read.interfaces.map((i) => i.linkType).every((t) => t === 1 || t === 101)).toBe(true);
  const again = correlateFlow(read.plan, read.sources);
  expect(again.directions.map((d) => d.seen)).toEqual(report.directions.map((d) => d.seen));
  figures.push(`${mode} export: ${result.packets} packets, ${result.bytes} bytes, tshark read ${tshark.length} on ${perInterface.size} interfaces (${[...perInterface.keys()].join(', ')})`);
  return file;
}

beforeAll(async () => {
  lab = await useLab({ exclusive: true, waitMs: 1_200_000, progress: (line) => console.log(`[lab] ${line}`) });
  for (const pod of lab.status.pods) ip[pod.name] = pod.ip;
  work = mkdtempSync(path.join(tmpdir(), 'gflow-'));
  const defaults = labDefaultsFrom(lab.status)!;
  context = defaults.context!;
  backend = new ConsoleBackend({
    configDir: path.join(work, 'config'),
    ssh: { home: work, sshConfigPath: path.join(work, 'no-ssh-config'), agentSocket: '' },
    clusters: { paths: () => [] },
    lab: defaults,
  });
  client = backend.attach((event, payload) => events.push({ event, payload }));
  await client.handlers['contexts.connect']({ context });
  await patchPool({ ipipMode: 'Always', vxlanMode: 'Never' });
  await converged('tunl0');
}, 1_800_000);

afterAll(async () => {
  client?.detach();
  backend?.close();
  if (lab) {
    await labExec('worker-3', ['nft', 'delete', 'table', 'inet', 'gflow-test']).catch(() => undefined);
    await patchPool({ ipipMode: 'Always', vxlanMode: 'Never' }).catch(() => undefined);
    await lab.release();
  }
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(`flow capture figures:\n  ${figures.join('\n  ')}`);
}, 300_000);

/** Starts the flow capture, runs the traffic, stops, and returns the plan and every journey. */
async function followWhile(traffic: () => Promise<void>, params: { protocol?: 'tcp' | 'udp' | 'icmp'; snapLen?: number } = {}): Promise<{ started: Started; report: Report }> {
  const started = await client.handlers['capture.flowStart']({ context, source: 'pod-1', destination: 'pod-3', ...params, ...(save && !params.snapLen ? { snapLen: 200 } : {}) });
  await traffic();
  expect(await client.handlers['capture.flowStop']({ flowId: started.flowId })).toEqual({ stopped: true });
  const report = await allJourneys(started.flowId);
  expect(report.running).toBe(false);
  expect(report.points.every((p) => p.state === 'ended' && !p.error && (p.kernelDropped ?? 0) === 0), JSON.stringify(report.points)).toBe(true);
  return { started, report };
}

async function traffic(): Promise<void> {
  await labExec('pod-1', ['ping', '-c', '5', '-i', '0.2', '-W', '1', ip['pod-3']!]);
  expect((await curlFrom('pod-1', ip['pod-3']!, 10)).code).toBe(0);
  await bulk(300_000);
}

function expectEveryHopMatched(report: Report, hops: number): void {
  for (const d of report.directions) {
    expect(d.hops).toHaveLength(hops);
    expect(d.vanished + d.missed, `${d.label}: ${JSON.stringify(report.journeys.filter((j) => j.status === 'vanished' || j.status === 'missed').slice(0, 3))}`).toBe(0);
    expect(d.complete).toBe(d.journeys - d.unjudged);
    expect(d.seen.every((n) => n >= d.complete)).toBe(true);
    expect(d.complete).toBeGreaterThan(8);
  }
  // The traffic is all there: 5 echo requests and replies, the HTTP request, the bulk's bytes.
  const forward = report.journeys.filter((j) => j.direction === 'forward');
  expect(forward.filter((j) => j.summary.includes('echo request'))).toHaveLength(5);
  expect(report.journeys.filter((j) => j.direction === 'reverse' && j.summary.includes('echo reply'))).toHaveLength(5);
  expect(forward.some((j) => j.summary.includes('GET / HTTP/1.1'))).toBe(true);
  // Each byte once: under load TCP may resend a segment that did arrive, and both copies are journeys.
  const ranges = forward.flatMap((j) => {
    const m = j.record.dport === 5001 ? / seq (\d+):(\d+)/.exec(j.summary) : null;
    return m ? [[Number(m[1]), Number(m[2])] as const] : [];
  });
  ranges.sort((a, b) => a[0] - b[0]);
  let bulkBytes = 0;
  let at = -Infinity;
  for (const [start, end] of ranges) {
    if (end > at) bulkBytes += end - Math.max(start, at);
    at = Math.max(at, end);
  }
  expect(bulkBytes).toBe(300_000);
  // The pod's super-packets are cut on the way: some journey is split into segments at a hop.
  expect(forward.some((j) => j.hops.some((h) => h?.shape === 'split' && h.count > 1))).toBe(true);
}

describe('one packet, both ends (flow capture on the lab)', () => {
  it('ipipMode Always: the user-space tunl0, every packet matched at all six hops both ways, exported as one pcapng', async () => {
    const { started, report } = await followWhile(traffic);
    const veth1 = started.plan.points[0]!.iface;
    const veth3 = started.plan.points[5]!.iface;
    expect(started.plan.points.map((p) => p.name)).toEqual([`worker-1/${veth1}`, 'worker-1/tunl0', 'worker-1/ens5', 'worker-3/ens5', 'worker-3/tunl0', `worker-3/${veth3}`]);
    expect(started.plan.points.map((p) => p.role)).toEqual(['pod', 'tunnel', 'underlay', 'underlay', 'tunnel', 'pod']);
    expect(started.plan.points[2]!.filter).toMatch(/^ip proto 4 and host 10\.240\.1\.11 and host 10\.240\.2\.13 and \(\(ip\[32:4\] = 0x/);
    expect(started.predicted).toMatchObject({ ok: true, code: 'reachable' });
    expect(started.plan.reverse.hops).toEqual([5, 4, 3, 2, 1, 0]);
    expectEveryHopMatched(report, 6);
    // The first echo request, hop by hop: out of pod-1, into tunl0, on worker-1's ens5 inside protocol 4, ...
    const echo = report.journeys.find((j) => j.direction === 'forward' && j.summary.includes('echo request'))!;
    expect(echo.hops.map((h) => h?.outer ?? '')).toEqual(['', '', 'IPIP 10.240.1.11 -> 10.240.2.13', 'IPIP 10.240.1.11 -> 10.240.2.13', '', '']);
    const times = echo.hops.map((h) => h!.t);
    expect(times.every((t, i) => i === 0 || t >= times[i - 1]!)).toBe(true);
    // Filters on the inner addresses.
    const toPod3 = await allJourneys(started.flowId, { filter: `ip.dst == ${ip['pod-3']} && icmp` });
    expect(toPod3.total).toBe(5);
    expect((await allJourneys(started.flowId, { filter: 'outer.dst == 10.240.2.13' })).total).toBe(report.directions[0]!.journeys);
    describeFigures('IPIP', started, report);
    const file = await exportAndCheck('IPIP', started, report);
    if (save) execFileSync('cp', [file, path.join(repo, 'shared/capture/testdata/ipip-pod1-pod3.pcapng')]);
    await client.handlers['capture.flowDiscard']({ flowId: started.flowId });
  });

  it('a ping dropped on worker-3 after decapsulation is shown with worker-3/tunl0 as the last hop that saw it', async () => {
    execFileSync('ip', ['netns', 'exec', 'worker-3', 'nft', '-f', '-'], {
      input: `table inet gflow-test {\n chain forward {\n  type filter hook forward priority -10; policy accept;\n  ip saddr ${ip['pod-1']} ip daddr ${ip['pod-3']} icmp type echo-request icmp sequence 3 drop\n }\n}\n`,
    });
    try {
      const { started, report } = await followWhile(async () => {
        await labExec('pod-1', ['ping', '-c', '5', '-i', '0.2', '-W', '1', ip['pod-3']!]);
      }, { protocol: 'icmp' });
      const vanished = (await allJourneys(started.flowId, { status: 'vanished' })).journeys;
      expect(vanished).toHaveLength(1);
      expect(vanished[0]!.summary).toMatch(/echo request id \d+ seq 3$/);
      expect(started.plan.points[started.plan.forward.hops[vanished[0]!.lastSeen]!]!.name).toBe('worker-3/tunl0');
      expect(vanished[0]!.hops.map((h) => h !== null)).toEqual([true, true, true, true, true, false]);
      expect(report.directions[0]).toMatchObject({ journeys: 5, complete: 4, vanished: 1 });
      expect(report.directions[1]).toMatchObject({ journeys: 4, complete: 4 });
      await client.handlers['capture.flowDiscard']({ flowId: started.flowId });
    } finally {
      execFileSync('ip', ['netns', 'exec', 'worker-3', 'nft', 'delete', 'table', 'inet', 'gflow-test']);
    }
  });

  it('vxlanMode Always: every packet matched at all six hops, VNI 4096 on the wire, filters on the VNI', async () => {
    await patchPool({ ipipMode: 'Never', vxlanMode: 'Always' });
    await converged('vxlan.calico');
    // The pods keep IP-in-IP's MTU (1480), 30 bytes too many for VXLAN on a 1500-byte underlay (the
    // doctor warns): pod-1 learns the path's MTU from its first full-size packets, which worker-1
    // drops. Learnt here first; the next test shows those packets vanish.
    await bulk(300_000);
    const { started, report } = await followWhile(traffic);
    expect(started.plan.points.map((p) => p.name.replace(/\/cali[0-9a-f]+$/, '/cali'))).toEqual(['worker-1/cali', 'worker-1/vxlan.calico', 'worker-1/ens5', 'worker-3/ens5', 'worker-3/vxlan.calico', 'worker-3/cali']);
    expect(started.plan.vni).toBe(4096);
    expect(started.plan.points[2]!.filter).toContain('(udp[12:4] & 0xffffff00) = 0x100000');
    expectEveryHopMatched(report, 6);
    const echo = report.journeys.find((j) => j.direction === 'reverse' && j.summary.includes('echo reply'))!;
    expect(echo.hops.map((h) => h?.outer ?? '')).toEqual(['', '', 'VXLAN VNI 4096 10.240.2.13 -> 10.240.1.11', 'VXLAN VNI 4096 10.240.2.13 -> 10.240.1.11', '', '']);
    const all = report.directions[0]!.journeys + report.directions[1]!.journeys;
    expect((await allJourneys(started.flowId, { filter: 'vxlan.vni == 4096' })).total).toBe(all);
    expect((await allJourneys(started.flowId, { filter: 'vxlan.vni == 4097' })).total).toBe(0);
    describeFigures('VXLAN', started, report);
    const file = await exportAndCheck('VXLAN', started, report);
    if (save) execFileSync('cp', [file, path.join(repo, 'shared/capture/testdata/vxlan-pod1-pod3.pcapng')]);
    await client.handlers['capture.flowDiscard']({ flowId: started.flowId });
    // Progress came as events while it ran, never as rows.
    expect(events.some((e) => e.event === 'capture.flowProgress')).toBe(true);
    expect(events.some((e) => e.event === 'capture.packets' && (e.payload as { rows: unknown[] }).rows.length > 0)).toBe(false);
  }, 240_000);

  it("VXLAN with the pods at IP-in-IP's MTU: the first full-size packets vanish on worker-1, never reaching vxlan.calico", async () => {
    // Forget the path MTU pod-1 learnt: its next full-size packets (1480 bytes + VXLAN's 50 > 1500) are dropped by worker-1.
    await labExec('pod-1', ['ip', 'route', 'flush', 'cache']);
    const { started, report } = await followWhile(() => bulk(300_000), { protocol: 'tcp' });
    const vanished = (await allJourneys(started.flowId, { status: 'vanished' })).journeys;
    expect(vanished.length).toBeGreaterThan(0);
    for (const j of vanished) {
      expect(j.direction).toBe('forward');
      expect(started.plan.points[started.plan.forward.hops[j.lastSeen]!]!.name).toMatch(/^worker-1\/cali/);
      expect(j.hops.slice(1).every((h) => h === null)).toBe(true);
      expect(Number(/ len (\d+)$/.exec(j.summary)![1])).toBeGreaterThan(1450 - 52);
    }
    // Resent in smaller segments, everything else arrived at every hop (the listener counted 300,000 bytes).
    expect(report.directions[0]!.complete).toBe(report.directions[0]!.journeys - vanished.length);
    expect(report.directions[1]!.complete).toBe(report.directions[1]!.journeys);
    figures.push(`VXLAN after a route cache flush in pod-1: ${vanished.length} of ${report.directions[0]!.journeys} journeys pod-1 -> pod-3 vanished after worker-1's veth (${vanished.map((j) => j.summary.replace(/^.* \[/, '[')).join('; ')})`);
    await client.handlers['capture.flowDiscard']({ flowId: started.flowId });
  }, 120_000);
});
