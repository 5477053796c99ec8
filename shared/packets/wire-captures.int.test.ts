// The decoders against real captures made here with tcpdump, one per routing mode's wire format,
// each compared field by field with `tshark -T json` on the same file, and the summaries checked
// for what the seed says is on the wire.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeNamespace, run } from '../../lab/sh.ts';
import { CaptureReader } from './capture-reader.ts';
import { dissect, PacketFacts } from './dissect.ts';
import { packetRecord, type PacketRecord } from './packet-record.ts';
import { packetTree, type TreeNode } from './packet-tree.ts';
import { summaryLine } from './summary.ts';

// ---- two namespaces joined by a veth pair, named gcap-*, and tcpdump in them ------------------

const repoRoot = resolve(import.meta.dirname, '..', '..');
const tunl0Helper = join(repoRoot, 'agent/dataplane/native/build/Release/gingham-tunl0');

class WireLab {
  readonly a: string;
  readonly b: string;
  readonly addressA = '10.99.77.1';
  readonly addressB = '10.99.77.2';
  readonly dir = mkdtempSync(join(tmpdir(), 'gcap-'));
  private readonly children = new Set<ChildProcess>();

  private constructor(readonly tag: string) {
    this.a = `gcap-${tag}-a`;
    this.b = `gcap-${tag}-b`;
  }

  static async create(tag: string): Promise<WireLab> {
    if (process.getuid?.() !== 0) throw new Error('WireLab needs root (network namespaces, tcpdump).');
    const lab = new WireLab(tag);
    await lab.clear();
    await run('ip', ['netns', 'add', lab.a]);
    await run('ip', ['netns', 'add', lab.b]);
    await run('ip', ['-n', lab.a, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lab.b]);
    for (const [ns, address] of [
      [lab.a, lab.addressA],
      [lab.b, lab.addressB],
    ] as const) {
      await run('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    return lab;
  }

  exec(ns: string, cmd: string, args: string[], allowFail = false): Promise<string> {
    return run('ip', ['netns', 'exec', ns, cmd, ...args], { allowFail });
  }

  spawn(ns: string, cmd: string, args: string[]): ChildProcess & { log: () => string } {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'], cwd: repoRoot });
    let log = '';
    child.stdout?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20000)));
    child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20000)));
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return Object.assign(child, { log: () => log });
  }

  /** An HTTP server on port 80 in `ns` (plain Node, as the lab's pods serve). */
  async httpServer(ns: string): Promise<void> {
    const server = this.spawn(ns, process.execPath, ['-e', "require('http').createServer((q,r)=>r.end('hello from '+q.url+'\\n')).listen(80,'0.0.0.0',()=>console.log('listening'))"]);
    await waitFor('the HTTP server', () => server.log().includes('listening'), 10_000);
  }

  /**
   * Runs `tcpdump -U -w FILE` on `iface` in `ns` while `traffic` runs, and returns the file. The
   * capture starts before the traffic (tcpdump says "listening on") and stops after it with SIGINT,
   * as a user would stop it.
   */
  async capture(name: string, ns: string, iface: string, filter: string[], traffic: () => Promise<void>): Promise<string> {
    const file = join(this.dir, `${name}.pcap`);
    const tcpdump = this.spawn(ns, 'tcpdump', ['-i', iface, '--immediate-mode', '-U', '-n', '-s', '0', '-w', file, ...filter]);
    await waitFor(`tcpdump on ${iface} in ${ns}`, () => tcpdump.log().includes('listening on'), 10_000);
    try {
      await traffic();
    } finally {
      await new Promise((r) => setTimeout(r, 300));
      const exited = new Promise((r) => tcpdump.once('exit', r));
      tcpdump.kill('SIGINT');
      await exited;
    }
    if (!existsSync(file)) throw new Error(`tcpdump wrote no ${file}: ${tcpdump.log()}`);
    return file;
  }

  async stop(): Promise<void> {
    for (const child of this.children) child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    await this.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async clear(): Promise<void> {
    for (const ns of [this.a, this.b]) await removeNamespace(ns, 0);
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve(probe()).catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- field-by-field comparison with tshark -T json --------------------------------------------

type Fields = Map<string, string[]>;

function collectTshark(value: unknown, out: Fields): void {
  if (Array.isArray(value)) {
    for (const v of value) collectTshark(v, out);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === 'string') out.set(key, [...(out.get(key) ?? []), v]);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out.set(key, [...(out.get(key) ?? []), ...(v as string[])]);
    else collectTshark(v, out);
  }
}

function collectTree(nodes: TreeNode[], out: Fields): void {
  for (const node of nodes) {
    if (node.field !== undefined && node.value !== undefined) out.set(node.field, [...(out.get(node.field) ?? []), node.value]);
    if (node.children) collectTree(node.children, out);
  }
}

function tsharkPackets(file: string): Fields[] {
  const json = execFileSync('tshark', ['-r', file, '-T', 'json', '--no-duplicate-keys'], { maxBuffer: 1 << 30, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return (JSON.parse(json) as Array<{ _source: { layers: unknown } }>).map((p) => {
    const fields: Fields = new Map();
    collectTshark(p._source.layers, fields);
    return fields;
  });
}

function ourPackets(file: string): { fields: Fields[]; trees: TreeNode[][] } {
  const reader = new CaptureReader();
  const fields: Fields[] = [];
  const trees: TreeNode[][] = [];
  reader.push(readFileSync(file), (p) => {
    const tree = packetTree(p.bytes, p.offset, p.caplen, p.origLen, p.linkType);
    const f: Fields = new Map();
    collectTree(tree, f);
    fields.push(f);
    trees.push(tree);
  });
  if (reader.error) throw new Error(reader.error);
  return { fields, trees };
}

interface Mismatch {
  packet: number;
  field: string;
  ours: string[];
  tshark: string[] | undefined;
}

/** Every field of every packet that differs; also returns how many field values were compared. */
function compareWithTshark(file: string, skip: (field: string) => boolean = () => false): { mismatches: Mismatch[]; compared: number; packets: number; tsharkPackets: number } {
  const theirs = tsharkPackets(file);
  const ours = ourPackets(file).fields;
  const mismatches: Mismatch[] = [];
  let compared = 0;
  ours.forEach((fields, i) => {
    for (const [field, values] of fields) {
      if (skip(field)) continue;
      // tshark does not hand a retransmitted segment's payload to BGP or HTTP (its TCP analysis
      // keeps stream state); Gingham decodes each packet on its own, so it shows the message again.
      if (theirs[i]?.has('tcp.analysis.retransmission') && /^(bgp|http)\./.test(field)) continue;
      const their = theirs[i]?.get(field);
      compared += values.length;
      if (!their || their.length !== values.length || their.some((v, j) => v !== values[j])) mismatches.push({ packet: i + 1, field, ours: values, tshark: their });
    }
  });
  return { mismatches, compared, packets: ours.length, tsharkPackets: theirs.length };
}

// ---- the tests -------------------------------------------------------------------------------

let lab: WireLab;
const files: Record<string, string> = {};

function decode(file: string): { records: PacketRecord[]; lines: string[] } {
  const reader = new CaptureReader();
  const facts = new PacketFacts();
  const records: PacketRecord[] = [];
  const lines: string[] = [];
  reader.push(readFileSync(file), (p) => {
    dissect(p.bytes, p.offset, p.caplen, p.origLen, p.linkType, facts);
    records.push(packetRecord(records.length + 1, p, facts));
    lines.push(summaryLine(facts));
  });
  expect(reader.error).toBeUndefined();
  return { records, lines };
}

function expectSameAsTshark(file: string): void {
  const result = compareWithTshark(file);
  console.log(`${file}: ${result.packets} packets, ${result.compared} field values compared with tshark, ${result.mismatches.length} differ`);
  if (result.mismatches.length > 0) {
    // Keep the file for a look with Wireshark: the namespace folder goes away in afterAll.
    const kept = join(tmpdir(), `gcap-mismatch-${Date.now()}.pcap`);
    writeFileSync(kept, readFileSync(file));
    console.log(`kept ${kept}: ${JSON.stringify(result.mismatches.slice(0, 5))}`);
  }
  expect(result.packets).toBe(result.tsharkPackets);
  expect(result.packets).toBeGreaterThan(0);
  expect(result.mismatches.slice(0, 10)).toEqual([]);
}

beforeAll(async () => {
  lab = await WireLab.create(process.pid.toString(36).slice(-4));
}, 60_000);

afterAll(async () => {
  await lab?.stop();
});

describe('direct (plain IPv4 between two namespaces)', () => {
  beforeAll(async () => {
    await lab.httpServer(lab.b);
    files.direct = await lab.capture('direct', lab.a, 'eth0', [], async () => {
      await lab.exec(lab.a, 'curl', ['-s', '--max-time', '5', `http://${lab.addressB}/direct`]);
      await lab.exec(lab.a, 'ping', ['-c', '2', '-i', '0.2', lab.addressB]);
    });
  }, 60_000);

  it('decodes ARP, ICMP, TCP and the HTTP request line, every field as tshark does', () => {
    const { records, lines } = decode(files.direct!);
    expect(records.every((r) => r.encap === 'direct')).toBe(true);
    expect(records.some((r) => r.proto === 'ARP')).toBe(true);
    expect(records.some((r) => r.proto === 'ICMP' && r.info.startsWith('echo request'))).toBe(true);
    expect(lines.some((l) => l.startsWith(`direct | ${lab.addressA} -> ${lab.addressB} HTTP `) && l.endsWith('GET /direct HTTP/1.1'))).toBe(true);
    expectSameAsTshark(files.direct!);
  });
});

describe('VXLAN (a kernel vxlan device, VNI 4096, UDP 4789)', () => {
  beforeAll(async () => {
    for (const [ns, local, remote, inner] of [
      [lab.a, lab.addressA, lab.addressB, '192.168.1.65'],
      [lab.b, lab.addressB, lab.addressA, '192.168.3.1'],
    ] as const) {
      await lab.exec(ns, 'ip', ['link', 'add', 'vxlan.calico', 'type', 'vxlan', 'id', '4096', 'local', local, 'remote', remote, 'dstport', '4789', 'dev', 'eth0']);
      await lab.exec(ns, 'ip', ['addr', 'add', `${inner}/16`, 'dev', 'vxlan.calico']);
      await lab.exec(ns, 'ip', ['link', 'set', 'vxlan.calico', 'up']);
    }
    files.vxlan = await lab.capture('vxlan', lab.a, 'eth0', ['udp', 'port', '4789'], async () => {
      await lab.exec(lab.a, 'curl', ['-s', '--max-time', '5', 'http://192.168.3.1/vxlan']);
    });
  }, 60_000);

  it('shows the outer node addresses, VNI 4096 and the inner pod addresses, every field as tshark does', () => {
    const { records, lines } = decode(files.vxlan!);
    expect(records.length).toBeGreaterThan(5);
    expect(records.every((r) => r.encap === 'VXLAN' && r.vni === 4096)).toBe(true);
    expect(lines.some((l) => l.startsWith(`VXLAN VNI 4096 ${lab.addressA} -> ${lab.addressB} | 192.168.1.65 -> 192.168.3.1 HTTP `) && l.endsWith('GET /vxlan HTTP/1.1'))).toBe(true);
    expect(records.some((r) => r.proto === 'ARP')).toBe(true); // the inner ARP for the pod address
    expectSameAsTshark(files.vxlan!);
  });
});

describe('IP-in-IP (the agent user-space tunl0, protocol 4)', () => {
  beforeAll(async () => {
    const helpers = [];
    for (const [ns, local, remote, inner, remoteBlock] of [
      [lab.a, lab.addressA, lab.addressB, '192.168.1.65', '192.168.3.0/26'],
      [lab.b, lab.addressB, lab.addressA, '192.168.3.1', '192.168.1.64/26'],
    ] as const) {
      const helper = lab.spawn(ns, tunl0Helper, ['tunl0', local]);
      await waitFor(`tunl0 helper in ${ns}`, () => helper.log().includes('ready'), 10_000);
      helper.stdin!.write(`set 1\n${remoteBlock} ${remote}\nhosts 1\n${remote}\n`); // IP-in-IP only from the other host
      helpers.push(helper);
      await lab.exec(ns, 'ip', ['link', 'set', 'tunl0', 'mtu', '1480', 'up']);
      await lab.exec(ns, 'ip', ['addr', 'add', `${inner}/32`, 'dev', 'tunl0']);
      await lab.exec(ns, 'ip', ['route', 'add', remoteBlock, 'dev', 'tunl0', 'src', inner]);
    }
    files.ipip = await lab.capture('ipip', lab.a, 'eth0', ['ip', 'proto', '4'], async () => {
      await lab.exec(lab.a, 'curl', ['-s', '--max-time', '5', 'http://192.168.3.1/ipip']);
    });
  }, 60_000);

  it('shows protocol 4 with node addresses outside and pod addresses inside, every field as tshark does', () => {
    const { records, lines } = decode(files.ipip!);
    expect(records.length).toBeGreaterThan(5);
    expect(records.every((r) => r.encap === 'IPIP')).toBe(true);
    const request = lines.find((l) => l.endsWith('GET /ipip HTTP/1.1'));
    expect(request).toMatch(new RegExp(`^IPIP ${lab.addressA} -> ${lab.addressB} \\| 192\\.168\\.1\\.65 -> 192\\.168\\.3\\.1 HTTP \\d+ -> 80 \\[P\\.\\] len \\d+ GET /ipip HTTP/1\\.1$`));
    expect(lines.some((l) => l.startsWith(`IPIP ${lab.addressB} -> ${lab.addressA} | 192.168.3.1 -> 192.168.1.65 TCP 80 -> `))).toBe(true);
    expectSameAsTshark(files.ipip!);
  });
});

describe('BGP (BIRD and the agent speaker)', () => {
  beforeAll(async () => {
    const birdConf = join(lab.dir, 'bird.conf');
    writeFileSync(
      birdConf,
      `router id ${lab.addressB};
protocol device { scan time 2; }
protocol static { ipv4; route 192.168.3.0/26 blackhole; route 192.168.4.0/26 blackhole; }
protocol bgp agent {
  local ${lab.addressB} as 64512;
  neighbor ${lab.addressA} as 64512;
  ipv4 { import all; export where source = RTS_STATIC; next hop self; };
  hold time 9;
  connect delay time 1;
  connect retry time 2;
}
`,
    );
    const agentConf = join(lab.dir, 'agent.yaml');
    writeFileSync(
      agentConf,
      `routerId: ${lab.addressA}\nlisten: ${lab.addressA}:179\nconnectRetryTime: 1\npeers:\n  - address: ${lab.addressB}\n    passive: false\nannounce:\n  - 192.168.1.64/26\n\n`,
    );
    const birdSocket = join(lab.dir, 'bird.ctl');
    files.bgp = await lab.capture('bgp', lab.a, 'eth0', ['tcp', 'port', '179'], async () => {
      const agent = lab.spawn(lab.a, process.execPath, ['--import', 'tsx', join(repoRoot, 'agent/cli/bin.ts'), 'bgp', '--config', agentConf, '--control', join(lab.dir, 'agent.sock'), '--log-level', 'info']);
      const bird = lab.spawn(lab.b, 'bird', ['-f', '-c', birdConf, '-s', birdSocket]);
      await waitFor('the BGP session', async () => (await run('birdc', ['-s', birdSocket, 'show protocols agent'], { allowFail: true })).includes('Established'), 30_000).catch((error: Error) => {
        throw new Error(`${error.message}\nagent: ${agent.log()}\nbird: ${bird.log()}`);
      });
      await new Promise((r) => setTimeout(r, 1500)); // UPDATEs both ways, a KEEPALIVE or two
      // Stopping BIRD's protocol sends a NOTIFICATION (Cease).
      await run('birdc', ['-s', birdSocket, 'disable agent']);
      await new Promise((r) => setTimeout(r, 500));
    });
  }, 90_000);

  it('decodes OPEN, UPDATE with its prefixes, KEEPALIVE and NOTIFICATION, every field as tshark does', () => {
    const { lines } = decode(files.bgp!);
    const text = lines.join('\n');
    expect(text).toMatch(/BGP 179 -> \d+ .*OPEN AS 64512 hold 9 ID 10\.99\.77\.2|BGP \d+ -> 179 .*OPEN AS 64512 hold 9 ID 10\.99\.77\.2/);
    expect(text).toContain('OPEN AS 64512');
    expect(text).toMatch(/UPDATE \+192\.168\.3\.0\/26 \+192\.168\.4\.0\/26 via 10\.99\.77\.2|UPDATE \+192\.168\.4\.0\/26 \+192\.168\.3\.0\/26 via 10\.99\.77\.2/);
    expect(text).toMatch(/UPDATE \+192\.168\.1\.64\/26 via 10\.99\.77\.1/);
    expect(text).toContain('KEEPALIVE');
    expect(text).toContain('NOTIFICATION 6/2 Cease');
    expectSameAsTshark(files.bgp!);
  });
});
