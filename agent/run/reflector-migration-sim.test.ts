// The mesh -> route reflectors -> mesh migration on a larger simulated cluster: 24 speakers over
// loopback (127.0.1.x, no root), each configured from desiredBgp on the cluster's objects and
// brought to each new snapshot as the agent does it (setClusterId, then setPeers: node-agent.ts's
// applyBgp), the nodes taking each change in a random order a few milliseconds apart as agents
// watching the API would. The steps are the console's (electron/backend/reflectors/migration.ts).
// At every change event of every speaker, and between them every 20 ms, every speaker must have a
// best path to every other node's block; no change may reset a session or restart a speaker.
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { needsRestart, type SpeakerConfigFile } from '../bgp/config.ts';
import { Speaker } from '../bgp/speaker.ts';
import type { LocalFacts } from '../../shared/dataplane-plan/desired-state.ts';
import type { ClusterNode, ClusterSnapshot } from '../../shared/model/cluster-snapshot.ts';
import { emptyIPAMBlock, parseBGPConfiguration, parseBGPPeer, parseIPAMBlock, parseIPPool } from '../../shared/model/index.ts';
import { parseInterfaceAddress } from '../../shared/net/index.ts';
import { desiredBgp } from './desired-bgp.ts';

const N = 24;
const port = 20000 + Math.floor(Math.random() * 20000);
const log = pino({ level: 'silent' });
const names = Array.from({ length: N }, (_, i) => `node-${String(i).padStart(2, '0')}`);
const address = (i: number) => `127.0.1.${i + 1}`;
const block = (i: number) => `10.200.${i}.0/26`;
const reflectors = ['node-00', 'node-06'];

function snapshot(mesh: boolean, peering: boolean, reflecting: string[]): ClusterSnapshot {
  const nodes: ClusterNode[] = names.map((name, i) => ({
    name,
    ipv4Address: parseInterfaceAddress(`${address(i)}/24`),
    labels: (reflecting.includes(name) ? { 'route-reflector': 'true' } : {}) as Record<string, string>,
    ...(reflecting.includes(name) ? { routeReflectorClusterId: '244.0.0.1' } : {}),
  }));
  return {
    pools: [parseIPPool({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'default' }, spec: { cidr: '10.200.0.0/16', ipipMode: 'Always' } })],
    bgpConfigurations: [parseBGPConfiguration({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { listenPort: port, nodeToNodeMeshEnabled: mesh } })],
    bgpPeers: peering ? [parseBGPPeer({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name: 'peer-with-route-reflectors' }, spec: { nodeSelector: 'all()', peerSelector: "route-reflector == 'true'" } })] : [],
    blocks: names.map((name, i) => parseIPAMBlock({ ...emptyIPAMBlock(block(i), name), kind: 'IPAMBlock' })),
    nodes,
  };
}

const localOf = (i: number): LocalFacts => ({ nodeName: names[i]!, interface: 'lo', address: parseInterfaceAddress(`${address(i)}/24`) });
/** Connect retries of a second: a test's sessions come up in seconds, not Calico's 5-30 s. */
const configOf = (s: ClusterSnapshot, i: number): SpeakerConfigFile => ({ ...desiredBgp(s, localOf(i))!, connectRetryTime: 1, connectRetryMax: 1 });

const speakers: Speaker[] = [];
const configs: SpeakerConfigFile[] = [];
const resets: string[] = [];
const gaps: string[] = [];

afterAll(async () => {
  await Promise.all(speakers.map((s) => s.stop({ withdraw: true })));
});

async function until(what: string, probe: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Who lacks a best path to whose block now. */
function holes(): string[] {
  return speakers.flatMap((s, i) => {
    const learned = new Set(s.learnedRoutes().map((r) => r.cidr));
    return names.flatMap((_, j) => (j !== i && !learned.has(block(j)) ? [`${names[i]} had no route to ${block(j)}`] : []));
  });
}

/** Every node takes the snapshot as its agent would, in a random order, a few ms apart. */
async function apply(s: ClusterSnapshot): Promise<void> {
  const order = names.map((_, i) => i).sort(() => Math.random() - 0.5);
  for (const i of order) {
    const next = configOf(s, i);
    expect(needsRestart(configs[i]!, next), `${names[i]} would restart its speaker`).toBe(false);
    if (next.clusterId !== configs[i]!.clusterId) speakers[i]!.setClusterId(next.clusterId);
    const changes = speakers[i]!.setPeers(next.peers);
    resets.push(...changes.reset.map((p) => `${names[i]} reset ${p}`));
    configs[i] = next;
    await new Promise((r) => setTimeout(r, Math.random() * 10));
  }
}

const up = (s: Speaker) => s.status().peers.filter((p) => p.state === 'up').map((p) => p.address);
const pathsFrom = (s: Speaker, prefix: string) => (s.routes().routes.find((r) => r.prefix === prefix)?.paths ?? []).map((p) => p.from.split(':')[0]);

describe(`the reflector migration on ${N} simulated nodes`, () => {
  it('keeps every node routed to every other node’s block at every change, and resets no session', async () => {
    const start = snapshot(true, false, []);
    for (let i = 0; i < N; i++) {
      configs[i] = configOf(start, i);
      const s = new Speaker(configs[i]!, log);
      await s.start();
      speakers.push(s);
    }
    await until('the full mesh with every block everywhere', () => speakers.every((s) => up(s).length === N - 1) && holes().length === 0);
    const watching = speakers.map((s) => s.onChange(() => gaps.push(...holes())));
    const ticker = setInterval(() => gaps.push(...holes()), 20);
    try {
      const r = reflectors.map((n) => speakers[names.indexOf(n)]!);
      const clients = speakers.filter((s) => !r.includes(s));
      // To reflectors: the BGPPeer, then label and cluster ID, the wait, then the mesh off.
      await apply(snapshot(true, true, []));
      await apply(snapshot(true, true, reflectors));
      await until('every client has every block from both reflectors', () =>
        clients.every((c) => names.every((_, j) => c === speakers[j] || reflectors.every((rn) => pathsFrom(c, block(j)).includes(address(names.indexOf(rn)))))));
      await apply(snapshot(false, true, reflectors));
      await until('the clients peer with the reflectors only', () => clients.every((c) => up(c).length === reflectors.length && c.peers.length === reflectors.length));
      expect(up(r[0]!)).toHaveLength(N - 1);
      expect(holes()).toEqual([]);
      // Back: the mesh on, the wait, then label and cluster ID off, then the BGPPeer.
      await apply(snapshot(true, true, reflectors));
      await until('the clients meshed with each other', () => clients.every((c) => up(c).length === N - 1));
      await until('each block from its own node at every client', () => clients.every((c) => names.every((_, j) => speakers[j] === c || r.includes(speakers[j]!) || pathsFrom(c, block(j)).includes(address(j)))));
      await apply(snapshot(true, true, []));
      await apply(snapshot(true, false, []));
      await until('the full mesh, nothing reflected', () => speakers.every((s) => up(s).length === N - 1 && names.every((_, j) => speakers[j] === s || pathsFrom(s, block(j)).length === 1)));
    } finally {
      clearInterval(ticker);
      for (const stop of watching) stop();
    }
    expect(resets).toEqual([]);
    expect([...new Set(gaps)].slice(0, 10)).toEqual([]);
  }, 120_000);
});
