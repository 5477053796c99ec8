// The reflector migration's order against a simulated cluster: the BGP it reads follows the
// configuration a few reads late (agents take a moment), as Calico's rules have it (a reflector
// ignores the mesh, the mesh leaves reflectors out, the BGPPeer peers everyone with the labelled
// nodes). The mesh must not go before the reflected routes are everywhere, the reflectors not
// before the mesh is back, and no read may ever find a node without a route to another's block.
import { describe, expect, it } from 'vitest';
import { routedEverywhere, type ClusterBgp, type NodeBgp } from './bgp-readiness.ts';
import { runReflectorMigration, type ReflectorSides } from './migration.ts';

const addresses = new Map([['master', '10.240.1.10'], ['worker-1', '10.240.1.11'], ['worker-2', '10.240.1.12'], ['worker-3', '10.240.2.13']]);
const blocks = new Map([['192.168.0.0/26', 'master'], ['192.168.1.0/26', 'worker-1'], ['192.168.2.0/26', 'worker-2'], ['192.168.3.0/26', 'worker-3']]);

interface Config { mesh: boolean; peering: boolean; reflectors: string[] }

/** Sessions and paths as the agents would have them for `config`. */
function bgpFor(config: Config, unreachable: Set<string>): ClusterBgp {
  const names = [...addresses.keys()];
  const reflector = (n: string) => config.reflectors.includes(n);
  // A blocked pair cannot hold the BGPPeer's session (a reflector's); their mesh session works.
  const blocked = (n: string, o: string) => (reflector(n) || reflector(o)) && (unreachable.has(`${n}-${o}`) || unreachable.has(`${o}-${n}`));
  const peersOf = (n: string) => names.filter((o) => o !== n && !blocked(n, o) && (reflector(n)
    ? config.peering
    : (config.mesh && !reflector(o)) || (config.peering && reflector(o))));
  const bgp = new Map<string, NodeBgp>();
  for (const n of names) {
    const peers = peersOf(n);
    const paths = new Map<string, Set<string>>();
    for (const [block, owner] of blocks) {
      const from = new Set<string>();
      if (owner === n) from.add('local');
      for (const p of peers) {
        // A peer passes on its own block, and a reflector every block it has from a session of its own.
        if (p === owner || (reflector(p) && peersOf(p).includes(owner))) from.add(addresses.get(p)!);
      }
      if (from.size > 0) paths.set(block, from);
    }
    bgp.set(n, { sessions: new Map(peers.map((p) => [addresses.get(p)!, true])), paths });
  }
  return { addresses, blocks, bgp };
}

function simulated(start: Config, options: { lag?: number; unreachable?: string[] } = {}) {
  let config = structuredClone(start);
  const history: Config[] = [];
  const events: string[] = [];
  const holes: string[] = [];
  let clock = 0;
  const sides: ReflectorSides = {
    nodes: async () => ({ addresses, reflectors: [...config.reflectors], meshEnabled: config.mesh }),
    readBgp: async () => {
      history.push(structuredClone(config));
      const seen = history[Math.max(0, history.length - 1 - (options.lag ?? 2))]!;
      const cluster = bgpFor(seen, new Set(options.unreachable));
      holes.push(...routedEverywhere(cluster));
      return cluster;
    },
    createPeering: async () => { config.peering = true; events.push('peering'); return 'created'; },
    deletePeering: async () => { config.peering = false; events.push('no peering'); return 'deleted'; },
    setReflector: async (node, clusterId) => {
      config = { ...config, reflectors: clusterId ? [...config.reflectors, node] : config.reflectors.filter((r) => r !== node) };
      events.push(`${clusterId ? '' : 'un'}reflect ${node}`);
    },
    setMesh: async (enabled) => { config.mesh = enabled; events.push(`mesh ${enabled ? 'on' : 'off'}`); return 'set'; },
    now: () => clock,
    sleep: async (ms) => { clock += ms; },
  };
  return { sides, events, holes, config: () => config };
}

describe('the reflector migration', () => {
  it('goes to reflectors and back in an order that leaves no node without a route at any read', async () => {
    const sim = simulated({ mesh: true, peering: false, reflectors: [] });
    const there = await runReflectorMigration(sim.sides, { id: 't', context: 'lab', to: 'reflectors', nodes: ['master', 'worker-3'], clusterId: '244.0.0.1' });
    expect(there.state).toBe('done');
    expect(sim.events).toEqual(['peering', 'reflect master', 'reflect worker-3', 'mesh off']);
    expect(there.steps.every((s) => s.state === 'done')).toBe(true);
    expect(sim.config()).toEqual({ mesh: false, peering: true, reflectors: ['master', 'worker-3'] });

    const back = await runReflectorMigration(sim.sides, { id: 'b', context: 'lab', to: 'mesh', nodes: [], clusterId: '244.0.0.1' });
    expect(back.state).toBe('done');
    expect(back.reflectors).toEqual(['master', 'worker-3']);
    expect(sim.events.slice(4)).toEqual(['mesh on', 'unreflect master', 'unreflect worker-3', 'no peering']);
    expect(sim.holes).toEqual([]);
  });

  it('made the other way round, the reflectors before their BGPPeer, a reflector would have no peers: the holes the order avoids', async () => {
    const sim = simulated({ mesh: true, peering: false, reflectors: [] }, { lag: 0 });
    await sim.sides.setReflector('master', '244.0.0.1');
    await sim.sides.readBgp();
    expect(sim.holes).toContain("master: no path to worker-1's 192.168.1.0/26");
  });

  it('stops before the mesh goes when a client never gets the reflected routes, and says what is missing', async () => {
    // worker-2's session with worker-3 as a reflector never comes up: its reflected routes from worker-3 never come.
    const sim = simulated({ mesh: true, peering: false, reflectors: [] }, { unreachable: ['worker-2-worker-3'] });
    const report = await runReflectorMigration(sim.sides, { id: 't', context: 'lab', to: 'reflectors', nodes: ['master', 'worker-3'], clusterId: '244.0.0.1', waitMs: 5000 });
    expect(report.state).toBe('failed');
    expect(report.steps.map((s) => s.state)).toEqual(['done', 'done', 'done', 'failed', 'skipped', 'skipped']);
    expect(report.steps[3]!.detail).toMatch(/not after 5 s; still missing: .*worker-2: no Established session with worker-3/);
    expect(sim.events).not.toContain('mesh off');
    expect(sim.holes).toEqual([]);
  });

  it('refuses bad input before changing anything', async () => {
    const sim = simulated({ mesh: true, peering: false, reflectors: [] });
    const unknown = await runReflectorMigration(sim.sides, { id: 't', context: 'lab', to: 'reflectors', nodes: ['worker-9'], clusterId: '244.0.0.1' });
    expect(unknown.steps[0]).toMatchObject({ state: 'failed', detail: expect.stringMatching(/not nodes that speak BGP: worker-9/) });
    const all = await runReflectorMigration(sim.sides, { id: 't', context: 'lab', to: 'reflectors', nodes: [...addresses.keys()], clusterId: '244.0.0.1' });
    expect(all.steps[0]!.detail).toMatch(/every node would be a reflector/);
    const meshAlready = await runReflectorMigration(sim.sides, { id: 't', context: 'lab', to: 'mesh', nodes: [], clusterId: '244.0.0.1' });
    expect(meshAlready.steps[0]!.detail).toMatch(/on the mesh already/);
    expect(sim.events).toEqual([]);
  });
});
