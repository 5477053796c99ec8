// The lab as the console's default cluster, against a real sshd: a node listed from the lab's
// status is reached with the lab's key and verified against the lab's known_hosts without asking
// the user, the console's own known_hosts stays untouched, and a node whose key differs from the
// lab's record is refused. The lab's kubeconfig joins the user's contexts without taking over.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleBackend, type AttachedClient } from '../console-backend.ts';
import { startSshdNode, type SshdNode } from '../../../lab/testing/sshd-node.ts';
import { labDefaultsFrom } from './lab-defaults.ts';

let node: SshdNode;
let dir: string;
let backend: ConsoleBackend;
let client: AttachedClient;

function kubeconfig(file: string, name: string, server: string): void {
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      `current-context: ${name}`,
      `clusters: [{ name: ${name}, cluster: { server: '${server}' } }]`,
      `users: [{ name: ${name}, user: { token: not-a-real-token } }]`,
      `contexts: [{ name: ${name}, context: { cluster: ${name}, user: ${name} } }]`,
    ].join('\n'),
  );
}

beforeAll(async () => {
  node = await startSshdNode(1, { prefix: 'gldf', subnet: '100.64.215' });
  dir = mkdtempSync(join(tmpdir(), 'gldf-'));
  // What the lab writes: known_hosts naming each node by address and name, and its admin kubeconfig.
  const [, type, key] = execFileSync('ssh-keyscan', ['-t', 'ed25519', node.address], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .trim()
    .split(/\s+/);
  writeFileSync(join(dir, 'known_hosts'), `${node.address},worker-1 ${type} ${key}\n`);
  kubeconfig(join(dir, 'lab.kubeconfig'), 'gingham-lab', 'https://10.240.1.10:6443');
  kubeconfig(join(dir, 'user.kubeconfig'), 'users-own', 'https://127.0.0.1:1');

  const lab = labDefaultsFrom({
    up: true,
    kubeconfig: join(dir, 'lab.kubeconfig'),
    sshKey: node.userKey,
    knownHosts: join(dir, 'known_hosts'),
    nodes: [{ name: 'worker-1', address: node.address, subnet: `${node.address}/30`, agent: { state: 'running' } }],
    pods: [],
  });
  backend = new ConsoleBackend({
    configDir: join(dir, 'config'),
    ssh: { home: dir, sshConfigPath: join(dir, 'no-ssh-config'), agentSocket: '', readyTimeoutMs: 5_000 },
    clusters: { paths: () => [join(dir, 'user.kubeconfig')] },
    ...(lab ? { lab } : {}),
  });
  client = backend.attach(() => undefined);
});

afterAll(async () => {
  client?.detach();
  backend?.close();
  await node?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the lab as the default cluster', () => {
  it("lists the lab's nodes first, as root with the lab's key", async () => {
    const { nodes } = await client.handlers['nodes.list']({});
    expect(nodes[0]).toEqual({ id: 'lab-worker-1', name: 'worker-1', host: node.address, user: 'root', identityFile: node.userKey });
  });

  it("connects without asking, verified by the lab's known_hosts, and writes nothing to the console's", async () => {
    const result = await client.handlers['ssh.connect']({ nodeId: 'lab-worker-1' });
    expect(result).toEqual({ state: 'connected', algorithm: 'ssh-ed25519', fingerprint: node.hostKeyFingerprint() });
    expect(existsSync(backend.knownHosts.path)).toBe(false);
    client.handlers['ssh.disconnect']({ nodeId: 'lab-worker-1' });
  });

  it('refuses the node once its host key no longer matches the lab’s record', async () => {
    await node.restartWithNewHostKey();
    await expect(client.handlers['ssh.connect']({ nodeId: 'lab-worker-1' })).rejects.toMatchObject({ code: 'host-key-changed' });
  });

  it("will not remove a lab node: it goes with the lab", async () => {
    await expect(client.handlers['nodes.remove']({ nodeId: 'lab-worker-1' })).rejects.toThrow(/lab -- down/);
  });

  it("offers the lab's context beside the user's, whose current context stays current", async () => {
    const contexts = await client.handlers['contexts.list']({});
    expect(contexts.contexts.map((c) => c.name)).toEqual(['users-own', 'gingham-lab']);
    expect(contexts.currentContext).toBe('users-own');
  });

  it("tells the renderer which context and nodes are the lab's, so that the first screen connects to them", async () => {
    const info = await client.handlers['app.info']({});
    expect(info.lab).toEqual({ context: 'gingham-lab', nodeIds: ['lab-worker-1'] });
  });
});

describe('the lab status document', () => {
  it('gives no defaults for a lab that is not up, and a clear error for a document that is not a status', () => {
    expect(labDefaultsFrom({ up: false, nodes: [], pods: [] })).toBeUndefined();
    expect(() => labDefaultsFrom({ nodes: 'worker-1' })).toThrow(/npm run lab -- status --json/);
  });
});
