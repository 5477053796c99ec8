// Connecting to clusters that cannot be used: each failure must come back quickly and say what to do.
// The working path is covered against a real kube-apiserver in e2e/cluster.e2e.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterService } from './cluster-service.ts';

const dir = mkdtempSync(join(tmpdir(), 'gcon-clusters-'));
let silent: Server;
const silentSockets = new Set<Socket>();
let silentPort = 0;
let closedPort = 0;

beforeAll(async () => {
  // Accepts TCP connections and never says a word: what a hung or half-dead API server looks like.
  silent = createServer((socket) => {
    silentSockets.add(socket);
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentPort = (silent.address() as { port: number }).port;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
});
afterAll(async () => {
  for (const socket of silentSockets) socket.destroy();
  await new Promise((r) => silent.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function kubeconfig(name: string, server: string, user: string): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
current-context: c
clusters: [{ name: k, cluster: { server: '${server}', insecure-skip-tls-verify: true } }]
users: [{ name: u, user: ${user} }]
contexts: [{ name: c, context: { cluster: k, user: u } }]
`,
  );
  return path;
}

const service = (path: string, timeoutMs = 1_500) => new ClusterService({ paths: () => [path], timeoutMs, loginPath: () => undefined });

describe('ClusterService.connect', () => {
  it('names a context that is not in the kubeconfig', async () => {
    const path = kubeconfig('one', `https://127.0.0.1:${closedPort}`, '{ token: t }');
    await expect(service(path).connect('other')).rejects.toMatchObject({ code: 'context-not-found', message: expect.stringContaining('"other"') });
  });

  it('explains a refused connection at once', async () => {
    const path = kubeconfig('refused', `https://127.0.0.1:${closedPort}`, '{ token: t }');
    const started = Date.now();
    await expect(service(path).connect('c')).rejects.toMatchObject({ code: 'cluster-unreachable', message: expect.stringMatching(/connection refused/) });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('gives up on a server that never answers after the timeout, not later', async () => {
    const path = kubeconfig('silent', `https://127.0.0.1:${silentPort}`, '{ token: t }');
    const started = Date.now();
    await expect(service(path, 1_000).connect('c')).rejects.toMatchObject({ code: 'cluster-timeout', message: expect.stringMatching(/did not answer within 1 s/) });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(2_500);
  });

  it("passes on what a failing credential plugin said", async () => {
    const plugin = join(dir, 'gcon-failing-plugin');
    writeFileSync(plugin, '#!/bin/sh\necho "error: the SSO session has expired; run: cloud login" >&2\nexit 1\n', { mode: 0o755 });
    const path = kubeconfig('exec-fails', `https://127.0.0.1:${closedPort}`, `{ exec: { apiVersion: client.authentication.k8s.io/v1, command: ${plugin}, interactiveMode: Never } }`);
    await expect(service(path).connect('c')).rejects.toMatchObject({
      code: 'exec-plugin-failed',
      message: expect.stringContaining(`${plugin} of c failed: error: the SSO session has expired; run: cloud login`),
    });
  });

  it('says which credential plugin is missing', async () => {
    const path = kubeconfig('exec-missing', `https://127.0.0.1:${closedPort}`, '{ exec: { apiVersion: client.authentication.k8s.io/v1, command: gcon-no-such-plugin, interactiveMode: Never } }');
    await expect(service(path).connect('c')).rejects.toMatchObject({ code: 'exec-plugin-failed', message: expect.stringMatching(/gcon-no-such-plugin.*ENOENT/) });
  });
});
