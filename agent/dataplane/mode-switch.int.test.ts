// Every ordered pair of routing modes, switched on a live node: after each switch the node's
// whole state (`ip -json route/link/addr/neigh`, `bridge -json fdb`) must equal the state the same
// mode produces on a fresh start. A stale route, neighbour, FDB entry, address or device from the
// earlier mode fails the comparison (the leftovers Calico users report in #4022 and #1584).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelRoutes, plannedRoutes } from './testing/convergence.ts';
import { captureState, type NamespaceState } from './testing/kernel-state.ts';
import { SeedTopology, inNs, poolModes, waitFor, type PoolMode, type SeedNode } from '../../lab/testing/seed-topology.ts';

/** A walk through the complete directed graph of modes that takes every ordered pair exactly once (Hierholzer). */
export function everyOrderedPair<T>(items: readonly T[]): T[] {
  const unused = new Map(items.map((item) => [item, items.filter((other) => other !== item)]));
  const stack: T[] = [items[0]!];
  const walk: T[] = [];
  while (stack.length > 0) {
    const top = stack.at(-1)!;
    const next = unused.get(top)!.shift();
    if (next === undefined) walk.push(stack.pop()!);
    else stack.push(next);
  }
  return walk.reverse();
}

const topology = new SeedTopology('m');
// worker-1 sees every route shape: a peer on its subnet (worker-2) and one across it (worker-3).
// A node's kernel state depends only on its own document, so one agent is enough here (the
// traffic tests run all three).
const nodes = [topology.nodes[0]!];

/**
 * Waits until the node's routes are the plan's and its whole state holds still for 300 ms, and,
 * in a mode without IP-in-IP, until the user-space tunl0 is gone: it outlives its last route by
 * the drain time (tunl0-drain.ts), longer than 300 ms of stillness.
 */
async function settled(node: SeedNode, mode: PoolMode): Promise<NamespaceState> {
  const want = JSON.stringify(plannedRoutes(topology, node, mode));
  const t0 = Date.now();
  await waitFor(() => `${node.name}'s routes in ${mode}: want ${want}, have ${JSON.stringify(kernelRoutes(node))}\n${topology.agentLog(node)}`, () => JSON.stringify(kernelRoutes(node)) === want, 120_000, 50);
  const routesMs = Date.now() - t0;
  let state = captureState(node.netns);
  await waitFor(`${node.name}'s state to hold still in ${mode}`, async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = captureState(node.netns);
    const stable = JSON.stringify(again) === JSON.stringify(state);
    state = again;
    return stable && (mode.startsWith('IPIP') || !JSON.stringify(state.links).includes('"ifname":"tunl0"'));
  }, 30_000, 0);
  if (process.env.GDP_DEBUG) console.log(`${node.name} ${mode}: routes after ${routesMs} ms, settled after ${Date.now() - t0} ms`);
  return state;
}

describe('mode switches leave exactly the state a clean start in the new mode has', () => {
  const fresh = new Map<PoolMode, Map<string, NamespaceState>>();

  async function settleAll(mode: PoolMode): Promise<Map<string, NamespaceState>> {
    const states = await Promise.all(nodes.map((node) => settled(node, mode)));
    return new Map(nodes.map((node, i) => [node.name, states[i]!]));
  }

  beforeAll(async () => {
    topology.up();
    // The reference: each mode applied to a clean kernel. A document with no pools, blocks,
    // endpoints or peers makes the agent remove everything it made, as a fresh node has nothing.
    for (const node of nodes) topology.writeState(node, { node: { name: node.name, interface: 'ens5', address: node.address } });
    for (const node of nodes) topology.startAgent(node);
    for (const mode of poolModes) {
      // Clean but for the pod's own route, which a state without the pod keeps for the CNI grace period.
      for (const node of nodes) await waitFor(`${node.name} to be clean`, () => kernelRoutes(node).every((r) => r.includes(` ${node.pod.cali} `)), 30_000);
      topology.setMode(mode, nodes);
      fresh.set(mode, await settleAll(mode));
      for (const node of nodes) topology.writeState(node, { node: { name: node.name, interface: 'ens5', address: node.address } });
    }
    await topology.stopAgents();
  });

  afterAll(() => topology.cleanup());

  it('removes everything it made on SIGTERM, and leaves a running pod its route', () => {
    for (const node of nodes) {
      // The pod's /32 on its veth is the CNI plugin's (with Gingham's protocol): it goes with the
      // pod's veth, not with the agent, so a stopped agent does not cut a running pod off.
      expect(kernelRoutes(node)).toEqual([`${node.pod.ip}/32 ${node.pod.cali} `]);
      const links = inNs(node.netns, ['ip', '-o', 'link', 'show']);
      expect(links).not.toContain('tunl0');
      expect(links).not.toContain('vxlan.calico');
      expect(inNs(node.netns, ['nft', 'list', 'ruleset'])).not.toContain('gingham');
    }
  });

  it('walks all 20 ordered pairs of the five modes and compares full state after each switch', async () => {
    const walk = everyOrderedPair(poolModes);
    expect(walk).toHaveLength(21);
    topology.setMode(walk[0]!, nodes);
    for (const node of nodes) topology.startAgent(node);
    await settleAll(walk[0]!);
    const pairs = new Set<string>();
    for (let i = 1; i < walk.length; i++) {
      const [from, to] = [walk[i - 1]!, walk[i]!];
      pairs.add(`${from} -> ${to}`);
      topology.setMode(to, nodes);
      const states = await settleAll(to);
      for (const node of nodes) {
        expect(states.get(node.name), `${node.name} after ${from} -> ${to}`).toEqual(fresh.get(to)!.get(node.name));
      }
    }
    expect(pairs.size).toBe(20);
    await topology.stopAgents();
  }, 600_000);
});
