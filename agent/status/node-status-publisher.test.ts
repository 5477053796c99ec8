// What the publisher says when it cannot write: once per outage, and a 403 met on the way out of
// an outage (a restarted server's authorizer warming up) only if it lasts. The API server here is
// a scripted KubeApi: the rule under test is the publisher's own, and the real server's answers
// (refused, then 403, then accepted) are what lab/faults/api-server.int.test.ts meets.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { KubeError, type KubeApi } from '../datastore/kube-api.ts';
import { NodeStatusPublisher, type StatusContent } from './node-status-publisher.ts';

type Answer = 'refused' | 'forbidden' | 'ok';

function scriptedServer() {
  const state = { answer: 'ok' as Answer, version: 0 };
  const answer = async <T>(object: T): Promise<T> => {
    if (state.answer === 'refused') throw new KubeError('the API server is unreachable (connect ECONNREFUSED)', undefined);
    if (state.answer === 'forbidden') throw new KubeError('ginghamnodestatuses is forbidden', 403, 'Forbidden');
    state.version++;
    return { ...object, metadata: { ...(object as { metadata: object }).metadata, resourceVersion: String(state.version) } };
  };
  const api: KubeApi = {
    get: async () => (state.answer === 'ok' ? undefined : answer(undefined)),
    list: async () => ({ items: [], resourceVersion: '1' }),
    create: answer,
    replace: answer,
    mergePatch: answer as never,
    delete: async () => undefined,
  };
  return { api, state };
}

function warnings() {
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line).msg as string) });
  return { log, lines };
}

// Only what statusContent() reads: a content that changes with every pass, so every attempt writes.
const content = (n: number) => ({ dataplane: { pass: n } }) as unknown as StatusContent;

describe('the status publisher under an outage', () => {
  it('says an outage once, keeps quiet about a short 403 as the server comes back, and says a lasting 403 with its fix', async () => {
    const { api, state } = scriptedServer();
    const { log, lines } = warnings();
    let clock = 0;
    let pass = 0;
    const publisher = new NodeStatusPublisher(api, 'worker-1', () => content(pass), log, { now: () => clock, minIntervalMs: 0, settleMs: 10_000 });
    const attempt = async () => {
      pass++;
      clock += 2000;
      await (publisher as unknown as { writeIfNeeded(): Promise<void> }).writeIfNeeded();
    };

    await attempt();
    expect(lines).toEqual([]);

    state.answer = 'refused';
    for (let i = 0; i < 5; i++) await attempt();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/retrying/);

    // The server is back, and refuses for a few seconds: nothing more is said.
    state.answer = 'forbidden';
    for (let i = 0; i < 3; i++) await attempt();
    state.answer = 'ok';
    await attempt();
    expect(lines).toHaveLength(1);

    // A new outage is said again; a 403 that lasts past the settling time is said, with what to do.
    state.answer = 'refused';
    await attempt();
    state.answer = 'forbidden';
    for (let i = 0; i < 7; i++) await attempt();
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/credential may not write its node's GinghamNodeStatus: apply the agent's manifests again/);
    expect(publisher.stats.failures).toBe(16);
  });

  it('says a 403 at once when nothing failed before it (a node installed with the wrong credential)', async () => {
    const { api, state } = scriptedServer();
    const { log, lines } = warnings();
    state.answer = 'forbidden';
    const publisher = new NodeStatusPublisher(api, 'worker-1', () => content(1), log, { now: () => 0 });
    await (publisher as unknown as { writeIfNeeded(): Promise<void> }).writeIfNeeded();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/credential may not write/);
  });
});
