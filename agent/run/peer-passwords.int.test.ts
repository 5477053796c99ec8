// BGPPeer passwords against a real kube-apiserver with RBAC, as the agent's own ServiceAccount:
// without a grant the Secret is refused and the problem names the kubectl commands that grant it;
// run as printed, they grant exactly that Secret, and the password is read.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseBGPPeer } from '../../shared/model/bgp-peer.ts';
import { KubeClient } from '../datastore/kube-client.ts';
import { startTestCluster, type TestCluster } from '../../lab/testing/test-cluster.ts';
import { mintAgentCredential } from '../manifests/credential.ts';
import { PeerPasswords } from './peer-passwords.ts';

let cluster: TestCluster;
let asAgent: KubeClient;

beforeAll(async () => {
  cluster = await startTestCluster({ crds: [] });
  const printed = spawnSync(process.execPath, ['--import', 'tsx', 'agent/cli/bin.ts', 'manifests', '--kubeconfig', cluster.plane.kubeconfig], { cwd: path.resolve(import.meta.dirname, '../..'), encoding: 'utf8' });
  expect(printed.status, printed.stderr).toBe(0);
  await cluster.apply(parseAllDocuments(printed.stdout).map((d) => d.toJS() as object));
  await cluster.apply([
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bgp-secrets', namespace: 'gingham-system' }, stringData: { tor: 'r0uter-pa55' } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'unrelated', namespace: 'gingham-system' }, stringData: { x: 'not for the agent' } },
  ]);
  const admin = new KubeConfig();
  admin.loadFromFile(cluster.plane.kubeconfig);
  const file = path.join(cluster.dir, 'agent.kubeconfig');
  writeFileSync(file, (await mintAgentCredential(admin, 3600)).kubeconfig, { mode: 0o600 });
  asAgent = KubeClient.fromKubeconfigFile(file);
}, 600_000);
afterAll(() => cluster?.down());

const peers = [parseBGPPeer({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { peerIP: '10.240.1.1', asNumber: 65001, password: { secretKeyRef: { name: 'bgp-secrets', key: 'tor' } } } })];

describe('BGPPeer passwords as the agent', () => {
  it('are refused without a grant, with the commands that grant the one Secret; with them, read', async () => {
    const waiting: Array<() => void> = [];
    const passwords = new PeerPasswords(asAgent, () => waiting.shift()?.(), 0);
    /** Asks, waits until the Secret's answer changes what is known, and asks again. */
    const afterRead = async () => {
      const changed = new Promise<void>((resolve) => waiting.push(resolve));
      passwords.resolve(peers);
      await changed;
      return passwords.resolve(peers);
    };
    const refused = await afterRead();
    expect(refused.passwords.size).toBe(0);
    const problem = refused.problems.get('tor')!;
    expect(problem).toMatch(/^the agent may not read Secret gingham-system\/bgp-secrets; grant it that one Secret: /);

    // The admin runs the printed commands as they are.
    for (const command of problem.slice(problem.indexOf('kubectl')).split(' && ')) await cluster.kubectl(command.split(' ').slice(1));
    const granted = await afterRead();
    expect(granted.problems.size).toBe(0);
    expect(granted.passwords.get('tor')).toBe('r0uter-pa55');
    // The grant is for that Secret alone.
    await expect(asAgent.get({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'unrelated', namespace: 'gingham-system' } })).rejects.toMatchObject({ status: 403 });
  }, 120_000);
});
