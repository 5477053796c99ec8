// The migration between the node-to-node mesh and route reflectors, step by step, with the sides
// it acts on given (reflector-cluster.ts has the real ones; the unit test scripted ones). The
// order is what keeps every route: sessions are only ever added before any is taken away, and
// nothing is taken away until every node holds the routes the remaining sessions carry.
//
// To reflectors: the BGPPeer first (every node with every node labelled route-reflector=true; it
//   selects nothing yet), then the reflector nodes get the label and the routeReflectorClusterID
//   in one patch (a node with a cluster ID leaves the mesh at once, as Calico's confd has it: were
//   the BGPPeer not there, it would have no peers at all); the agents make the change in place, so
//   the mesh peer to a reflector becomes its client without a new session. Then the wait: every
//   client Established with every reflector and holding each other node's block from each of them.
//   Only then the mesh goes (BGPConfiguration default nodeToNodeMeshEnabled: false).
// Back: the mesh on, the wait until the clients are meshed with each other and hold each other's
//   blocks from their own nodes; then the reflectors lose label and cluster ID in one patch (they
//   rejoin the mesh in place), the wait for the full mesh, and the BGPPeer goes (it selects nothing
//   by then).
// A step that fails stops the run where it is: every state between steps routes everything.
import type { ReflectorMigrationReport, ReflectorStep, ReflectorStepId, ReflectorTarget } from '../../../shared/api/reflectors-contract.ts';
import { fullMesh, meshedEverywhere, meshSessionsLeft, reflectedEverywhere, routedEverywhere, type ClusterBgp } from './bgp-readiness.ts';

export interface ReflectorSides {
  /** Node name -> BGP address, for every node that speaks BGP; and the reflectors there are now. */
  nodes(): Promise<{ addresses: Map<string, string>; reflectors: string[]; meshEnabled: boolean }>;
  /** Every node's sessions and paths, and the blocks. */
  readBgp(): Promise<ClusterBgp>;
  createPeering(): Promise<string>;
  deletePeering(): Promise<string>;
  /** Label and cluster ID on (a string) or off (undefined), in one patch per node. */
  setReflector(node: string, clusterId: string | undefined): Promise<void>;
  setMesh(enabled: boolean): Promise<string>;
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface ReflectorRunOptions {
  id: string;
  context: string;
  to: ReflectorTarget;
  /** To reflectors: the nodes to make reflectors. To the mesh: ignored (the current reflectors). */
  nodes: string[];
  clusterId: string;
  progress?: (report: ReflectorMigrationReport) => void;
  /** How long a wait may take before the run stops there; 180 s by default. */
  waitMs?: number;
  /** How often the waits read every node's BGP; 500 ms by default. */
  pollMs?: number;
}

const titles: Record<ReflectorStepId, string> = {
  check: 'Check the nodes and their agents',
  peering: 'Create the BGPPeer: every node with the reflectors',
  reflectors: 'Label the reflectors and give them the cluster ID',
  'wait-reflected': 'Wait: every client has every route from every reflector',
  'mesh-off': 'Turn the node-to-node mesh off',
  'mesh-on': 'Turn the node-to-node mesh on',
  'wait-mesh': 'Wait: the clients are meshed and have each other’s routes',
  unreflect: 'Take label and cluster ID off the reflectors; wait for the full mesh',
  'remove-peering': 'Delete the BGPPeer',
  verify: 'Verify: every node routes every other node’s block',
};

export const stepsTo: Record<ReflectorTarget, ReflectorStepId[]> = {
  reflectors: ['check', 'peering', 'reflectors', 'wait-reflected', 'mesh-off', 'verify'],
  mesh: ['check', 'mesh-on', 'wait-mesh', 'unreflect', 'remove-peering', 'verify'],
};

export async function runReflectorMigration(sides: ReflectorSides, options: ReflectorRunOptions): Promise<ReflectorMigrationReport> {
  const t0 = sides.now();
  const report: ReflectorMigrationReport = {
    id: options.id,
    context: options.context,
    to: options.to,
    reflectors: [...options.nodes],
    clusterId: options.clusterId,
    state: 'running',
    message: 'starting',
    startedAt: new Date(t0).toISOString(),
    ms: 0,
    steps: stepsTo[options.to].map((id): ReflectorStep => ({ id, title: titles[id], state: 'pending' })),
    log: [],
  };
  const emit = () => {
    report.ms = sides.now() - t0;
    options.progress?.(structuredClone(report));
  };
  const say = (line: string) => {
    report.log.push(`${((sides.now() - t0) / 1000).toFixed(2)} s ${line}`);
  };
  const waitMs = options.waitMs ?? 180_000;
  const pollMs = options.pollMs ?? 500;

  /** Reads every node's BGP until `missing` finds nothing; throws with what is still missing at the deadline. */
  const waitFor = async (what: string, missing: (cluster: ClusterBgp) => string[]): Promise<string> => {
    const start = sides.now();
    let last: string[] = [];
    let reads = 0;
    for (;;) {
      last = missing(await sides.readBgp());
      reads++;
      if (last.length === 0) return `${what} after ${((sides.now() - start) / 1000).toFixed(1)} s (${reads} reads of every node)`;
      if (sides.now() - start > waitMs) throw new Error(`${what}: not after ${waitMs / 1000} s; still missing: ${last.slice(0, 5).join('; ')}${last.length > 5 ? ` and ${last.length - 5} more` : ''}`);
      await sides.sleep(pollMs);
    }
  };

  let reflectors = [...options.nodes];
  const run: Record<ReflectorStepId, () => Promise<string>> = {
    check: async () => {
      const { addresses, reflectors: now, meshEnabled } = await sides.nodes();
      if (options.to === 'reflectors') {
        if (reflectors.length === 0) throw new Error('no reflector nodes given');
        const unknown = reflectors.filter((n) => !addresses.has(n));
        if (unknown.length > 0) throw new Error(`not nodes that speak BGP: ${unknown.join(', ')} (they are ${[...addresses.keys()].join(', ')})`);
        if (reflectors.length === addresses.size) throw new Error('every node would be a reflector: leave at least one client, or stay with the mesh');
        const others = now.filter((n) => !reflectors.includes(n));
        if (others.length > 0) throw new Error(`${others.join(', ')} ${others.length === 1 ? 'is a reflector' : 'are reflectors'} already and not among the nodes given: name ${others.length === 1 ? 'it' : 'them'} too, or go back to the mesh first`);
        if (!meshEnabled && now.length === 0) throw new Error('the mesh is off and there are no reflectors: nothing routes by BGP now, so there is no route to keep; configure the peering by hand');
      } else {
        reflectors = now;
        report.reflectors = [...now];
        if (now.length === 0 && meshEnabled) throw new Error('there are no reflectors: the cluster is on the mesh already');
      }
      const cluster = await sides.readBgp();
      const unread = [...cluster.bgp].filter(([, b]) => typeof b === 'string').map(([n, b]) => `${n} (${String(b)})`);
      if (unread.length > 0) throw new Error(`the BGP of ${unread.join(', ')} cannot be read: the migration reads every node's sessions and routes to know none is missing`);
      const unrouted = routedEverywhere(cluster);
      if (unrouted.length > 0) throw new Error(`not every route is there before the migration: ${unrouted.slice(0, 5).join('; ')}`);
      return `${addresses.size} nodes, ${cluster.blocks.size} blocks, every block routed everywhere; reflectors ${options.to === 'reflectors' ? 'to be' : 'now'}: ${reflectors.join(', ') || 'none'}`;
    },
    peering: () => sides.createPeering(),
    reflectors: async () => {
      for (const node of reflectors) await sides.setReflector(node, options.clusterId);
      return `${reflectors.join(', ')}: label route-reflector=true, routeReflectorClusterID ${options.clusterId}`;
    },
    'wait-reflected': () => waitFor('every client has every route from every reflector', (c) => reflectedEverywhere(c, reflectors)),
    'mesh-off': async () => {
      const done = await sides.setMesh(false);
      const left = await waitFor('the mesh sessions are gone', (c) => [...meshSessionsLeft(c, reflectors), ...routedEverywhere(c)]);
      return `${done}; ${left}`;
    },
    'mesh-on': () => sides.setMesh(true),
    'wait-mesh': () => waitFor('the clients are meshed and have each other’s routes', (c) => meshedEverywhere(c, reflectors)),
    unreflect: async () => {
      for (const node of reflectors) await sides.setReflector(node, undefined);
      return `${reflectors.join(', ')}: label and cluster ID removed; ${await waitFor('the full mesh', fullMesh)}`;
    },
    'remove-peering': () => sides.deletePeering(),
    verify: () => waitFor('every node routes every other node’s block', routedEverywhere),
  };

  for (const step of report.steps) {
    step.state = 'running';
    step.startedMs = sides.now() - t0;
    report.message = step.title;
    emit();
    try {
      step.detail = await run[step.id]();
      step.state = 'done';
      say(`${step.title}: ${step.detail}`);
    } catch (error) {
      step.state = 'failed';
      step.detail = (error as Error).message;
      say(`${step.title}: FAILED: ${step.detail}`);
      for (const rest of report.steps) if (rest.state === 'pending') rest.state = 'skipped';
      report.state = 'failed';
      report.message = `Stopped at “${step.title}”: ${step.detail}. Every step before it only added sessions or removed ones whose routes the others carry, so nothing routes less than before it.`;
      step.ms = sides.now() - t0 - step.startedMs;
      emit();
      return report;
    } finally {
      step.ms ??= sides.now() - t0 - step.startedMs;
    }
    emit();
  }
  report.state = 'done';
  report.message = options.to === 'reflectors'
    ? `The cluster routes by the reflectors ${reflectors.join(', ')} (cluster ID ${options.clusterId}); the mesh is off.`
    : 'The cluster is on the node-to-node mesh again; the reflectors and their BGPPeer are gone.';
  emit();
  return report;
}
