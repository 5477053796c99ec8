// The agent's DaemonSet against a real kube-apiserver: `gingham-agent manifests --daemonset`
// prints it, the server takes it (server-side apply validates the whole pod template), and the
// credential its pods get is least-privilege: a token bound to the DaemonSet's pod on worker-1, as
// the kubelet requests one for the projected volume, read from files the way the agent in the pod
// reads it, may write worker-1's status and not worker-2's. This machine has no kubelet, so the
// pod object is made by hand from the DaemonSet's template (as the DaemonSet controller would).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { eventually, nodeObject, startTestCluster, type TestCluster } from '../../lab/testing/test-cluster.ts';
import { agentIdentity } from '../../shared/api/agent-contract.ts';
import { nodeAgentStatusKind } from '../../shared/model/node-agent-status.ts';
import { KubeClient } from '../datastore/kube-client.ts';
import { mintAgentCredential } from './credential.ts';

let cluster: TestCluster;
let daemonSet: { metadata: { name: string }; spec: { template: { metadata: object; spec: Record<string, unknown> } } };

beforeAll(async () => {
  cluster = await startTestCluster({ crds: [] });
  const printed = spawnSync(process.execPath, ['--import', 'tsx', 'agent/cli/bin.ts', 'manifests', '--kubeconfig', cluster.plane.kubeconfig, '--daemonset'], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    encoding: 'utf8',
  });
  expect(printed.status, printed.stderr).toBe(0);
  const objects = parseAllDocuments(printed.stdout).map((d) => d.toJS() as { kind: string });
  const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
  await cluster.apply(crds);
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd', '--all']);
  await cluster.apply(objects.filter((o) => o.kind !== 'CustomResourceDefinition'));
  await cluster.apply([nodeObject('worker-1', '10.240.1.11/24'), nodeObject('worker-2', '10.240.1.12/24')]);
  daemonSet = objects.find((o) => o.kind === 'DaemonSet') as unknown as typeof daemonSet;
}, 300_000);
afterAll(() => cluster?.down());

describe("the agent's DaemonSet", () => {
  it('is taken by the API server, runs privileged on the host network with the server the admin reaches', async () => {
    const stored = JSON.parse(await cluster.kubectl(['-n', agentIdentity.namespace, 'get', 'daemonset', daemonSet.metadata.name, '-o', 'json'])) as typeof daemonSet;
    const pod = stored.spec.template.spec as { hostNetwork: boolean; serviceAccountName: string; containers: Array<{ env: Array<{ name: string; value?: string }>; securityContext: { privileged: boolean } }> };
    expect(pod.hostNetwork).toBe(true);
    expect(pod.serviceAccountName).toBe(agentIdentity.serviceAccount);
    expect(pod.containers[0]!.securityContext.privileged).toBe(true);
    const server = new KubeConfig();
    server.loadFromFile(cluster.plane.kubeconfig);
    expect(pod.containers[0]!.env.find((e) => e.name === 'API_SERVER')?.value).toBe(server.getCurrentCluster()!.server);
  });

  it("gives its pods a credential that writes their own node's status and no other's", async () => {
    const admin = new KubeConfig();
    admin.loadFromFile(cluster.plane.kubeconfig);
    const core = admin.makeApiClient(CoreV1Api);
    // The DaemonSet's pod on worker-1, as its controller would make it (no kubelet here runs it).
    const pod = await core.createNamespacedPod({
      namespace: agentIdentity.namespace,
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'gingham-agent-worker-1', ...daemonSet.spec.template.metadata }, spec: { ...daemonSet.spec.template.spec, nodeName: 'worker-1' } as never },
    });
    // The token the kubelet asks for, for the pod's projected volume: bound to the pod.
    const token = await core.createNamespacedServiceAccountToken({
      name: agentIdentity.serviceAccount,
      namespace: agentIdentity.namespace,
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: 3600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata!.name!, uid: pod.metadata!.uid! } } },
    });
    const tokenFile = path.join(cluster.dir, 'pod-token');
    writeFileSync(tokenFile, token.status!.token, { mode: 0o600 });
    const caFile = path.join(cluster.dir, 'pod-ca.crt');
    writeFileSync(caFile, Buffer.from(admin.getCurrentCluster()!.caData!, 'base64'));
    const agent = KubeClient.fromToken({ server: admin.getCurrentCluster()!.server, caFile, tokenFile });

    const status = (node: string) => ({ apiVersion: nodeAgentStatusKind.apiVersion, kind: nodeAgentStatusKind.kind, metadata: { name: node }, status: { agentVersion: 'x', health: 'Ready', heartbeatAt: new Date().toISOString() } });
    // The admission policy takes effect a moment after it is applied: wait until it narrows the
    // SSH installer's node-bound token (node-status.int.test.ts), then ask of the pod's token.
    const installerFile = path.join(cluster.dir, 'installer.kubeconfig');
    writeFileSync(installerFile, (await mintAgentCredential(admin, 3600, 'worker-1')).kubeconfig, { mode: 0o600 });
    const installed = KubeClient.fromKubeconfigFile(installerFile);
    await eventually(async () => ((await installed.create(status('worker-2')).then(() => false, (e: Error) => /may write only its own/.test(e.message))) ? true : undefined), 20_000, 'the own-node policy in effect');
    await expect(agent.create(status('worker-1'))).resolves.toBeDefined();
    await expect(agent.create(status('worker-2'))).rejects.toThrow(/the agent of node worker-1 may write only its own node's status/);
    // And it reads what the agent reads.
    await expect(agent.list('crd.projectcalico.org/v1', 'IPPool')).resolves.toBeDefined();
  });
});
