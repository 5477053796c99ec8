import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { callRpc } from './client.ts';
import { RpcServer } from './server.ts';

describe('control socket RPC', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'gingham-rpc-'));
  const socketPath = path.join(dir, 'sub', 'agent.sock');
  const server = new RpcServer(socketPath).register('echo', (p) => p).register('fail', () => { throw new Error('nope'); });
  await server.listen();
  afterAll(async () => { await server.close(); await rm(dir, { recursive: true, force: true }); });

  it('answers calls and reports errors and unknown methods', async () => {
    expect(await callRpc(socketPath, 'echo', { a: 1 })).toEqual({ a: 1 });
    await expect(callRpc(socketPath, 'fail')).rejects.toThrow('nope');
    await expect(callRpc(socketPath, 'missing')).rejects.toThrow(/no method missing; known: echo, fail/);
  });

  it('creates the socket for its owner only (0600)', async () => {
    expect((await stat(socketPath)).mode & 0o777).toBe(0o600);
  });

  it('refuses to start over a live socket, and says what to do', async () => {
    await expect(new RpcServer(socketPath).listen()).rejects.toThrow(/in use.*--control/);
  });

  it('explains a missing socket', async () => {
    await expect(callRpc(path.join(dir, 'none.sock'), 'echo')).rejects.toThrow(/is the speaker running/);
  });
});
