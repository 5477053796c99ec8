import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { callRpc, callRpcUnchecked } from './client.ts';
import { RpcServer } from './server.ts';

const testMethods = {
  echo: { params: z.object({ a: z.number() }).optional(), result: z.unknown() },
  fail: { params: z.undefined(), result: z.unknown() },
};

describe('control socket RPC', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'gingham-rpc-'));
  const socketPath = path.join(dir, 'sub', 'agent.sock');
  const server = new RpcServer(socketPath, testMethods).register('echo', (p) => p).register('fail', () => { throw new Error('nope'); });
  await server.listen();
  afterAll(async () => { await server.close(); await rm(dir, { recursive: true, force: true }); });

  it('answers calls and reports errors and unknown methods', async () => {
    expect(await callRpcUnchecked(socketPath, 'echo', { a: 1 })).toEqual({ a: 1 });
    await expect(callRpcUnchecked(socketPath, 'fail')).rejects.toThrow('nope');
    await expect(callRpcUnchecked(socketPath, 'missing')).rejects.toThrow(/no method missing; known: echo, fail/);
  });

  it('refuses params that do not match the method, naming the field, before the handler runs', async () => {
    await expect(callRpcUnchecked(socketPath, 'echo', { a: 'one' })).rejects.toThrow(/echo: a: .*expected number/i);
  });

  it('creates the socket for its owner only (0600)', async () => {
    expect((await stat(socketPath)).mode & 0o777).toBe(0o600);
  });

  it('refuses to start over a live socket, and says what to do', async () => {
    await expect(new RpcServer(socketPath).listen()).rejects.toThrow(/in use.*--control/);
  });

  it('explains a missing socket', async () => {
    await expect(callRpcUnchecked(path.join(dir, 'none.sock'), 'echo')).rejects.toThrow(/is the speaker running/);
  });

  it("checks an agent's answer against the contract, and names an agent of another version", async () => {
    const agentSocket = path.join(dir, 'agent.sock');
    // An "agent" whose status lacks the contract's bgp summary, as an older or newer one might answer.
    const other = new RpcServer(agentSocket, { status: { params: z.undefined(), result: z.unknown() } }).register('status', () => ({ node: 'worker-1', datastore: { connected: true } }));
    await other.listen();
    try {
      await expect(callRpc(agentSocket, 'status')).rejects.toThrow(/answer to status does not match .*bgp.*another version/);
    } finally {
      await other.close();
    }
  });
});
