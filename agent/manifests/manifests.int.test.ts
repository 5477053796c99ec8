// Least privilege, proven against a real kube-apiserver with RBAC: the printed manifests apply,
// the agent's token kubeconfig holds nothing of the admin's, the agent can do its job with it,
// and it cannot read Secrets (kubectl auth can-i as the ServiceAccount, and a real request).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { kubectl } from '../../lab/controlplane/kubectl.ts';
import { calicoKinds } from '../../shared/model/calico-kinds.ts';
import { parseIPPool } from '../../shared/model/ippool.ts';
import { ensureClusterInformation, ensureKubeControllersConfiguration } from '../datastore/cluster-information.ts';
import { KubeClient } from '../datastore/kube-client.ts';
import { writeOwnAnnotations } from '../datastore/node-annotations.ts';
import { ipPool, nodeObject, startTestCluster, type TestCluster } from '../../lab/testing/test-cluster.ts';
import { Ipam } from '../ipam/ipam.ts';
import { mintAgentCredential } from './credential.ts';
import { agentManifests, agentUser } from './manifests.ts';

let cluster: TestCluster;
let agentKubeconfig: string;

beforeAll(async () => {
  // No CRDs yet: the manifests bring them.
  cluster = await startTestCluster({ crds: [] });
  const printed = spawnSync(process.execPath, ['--import', 'tsx', 'agent/cli/bin.ts', 'manifests', '--kubeconfig', cluster.plane.kubeconfig], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    encoding: 'utf8',
  });
  expect(printed.status, printed.stderr).toBe(0);
  const objects = parseAllDocuments(printed.stdout).map((d) => d.toJS() as { kind: string });
  // Calico's whole set (the kinds Gingham acts on and those it only stores for Calico's tools), and Gingham's node status.
  expect(objects.filter((o) => o.kind === 'CustomResourceDefinition')).toHaveLength(calicoKinds.length + 1);
  expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
  await cluster.apply(objects);
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd', '--all']);
  await cluster.apply([nodeObject('worker-1', '10.240.1.11/24'), ipPool('default-ipv4-ippool', { cidr: '192.168.0.0/16', ipipMode: 'Always' })]);
  const admin = new KubeConfig();
  admin.loadFromFile(cluster.plane.kubeconfig);
  const credential = await mintAgentCredential(admin, 3600);
  agentKubeconfig = path.join(cluster.dir, 'agent.kubeconfig');
  writeFileSync(agentKubeconfig, credential.kubeconfig, { mode: 0o600 });
}, 600_000);
afterAll(() => cluster?.down());

const asAgent = (args: string[]) => kubectl(agentKubeconfig, args);

describe('the agent’s manifests and credential', () => {
  it('leave out the CRDs a cluster already has', () => {
    const existing = new Set(['ippools.crd.projectcalico.org', 'ipamblocks.crd.projectcalico.org']);
    const names = agentManifests({ existingCrds: existing })
      .filter((o) => (o as { kind: string }).kind === 'CustomResourceDefinition')
      .map((o) => (o as { metadata: { name: string } }).metadata.name);
    expect(names).toHaveLength(calicoKinds.length - 2 + 1);
    expect(names).not.toContain('ippools.crd.projectcalico.org');
    expect(names).toContain('ginghamnodestatuses.gingham.io');
  });

  it('is a token kubeconfig with nothing of the admin’s credentials', () => {
    const config = parse(readFileSync(agentKubeconfig, 'utf8')) as { users: Array<{ user: Record<string, string> }> };
    expect(Object.keys(config.users[0]!.user)).toEqual(['token']);
    const adminKey = parse(readFileSync(cluster.plane.kubeconfig, 'utf8')).users[0].user['client-key-data'] as string;
    expect(readFileSync(agentKubeconfig, 'utf8')).not.toContain(adminKey);
  });

  it('cannot read Secrets: kubectl auth can-i as the ServiceAccount, and a real request', async () => {
    for (const verb of ['get', 'list', 'watch']) {
      // As the admin, impersonating the ServiceAccount; `can-i` answers "no" and exits 1.
      const canI = await kubectl(cluster.plane.kubeconfig, ['auth', 'can-i', verb, 'secrets', '--all-namespaces', `--as=${agentUser}`]);
      expect([canI.stdout.trim(), canI.code]).toEqual(['no', 1]);
      const own = await asAgent(['auth', 'can-i', verb, 'secrets', '-n', 'gingham-system']);
      expect(own.stdout.trim()).toBe('no');
    }
    const real = await asAgent(['get', 'secrets', '-A']);
    expect(real.code).not.toBe(0);
    expect(real.stderr).toMatch(/Forbidden.*system:serviceaccount:gingham-system:gingham-agent.*cannot list resource "secrets"/);
    // The same through the agent's own client.
    const client = KubeClient.fromKubeconfigFile(agentKubeconfig);
    await expect(client.list('v1', 'Secret')).rejects.toMatchObject({ status: 403 });
  });

  it('lets the agent do its job: read pools, claim a block, write its node’s annotations', async () => {
    const client = KubeClient.fromKubeconfigFile(agentKubeconfig);
    const pool = parseIPPool((await client.get({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'default-ipv4-ippool' } }))!);
    const ipam = new Ipam(client, 'worker-1');
    expect((await ipam.assign('ipip-tunnel-addr-worker-1', { node: 'worker-1', type: 'ipipTunnelAddress' }, [pool])).address).toBe('192.168.0.0');
    await writeOwnAnnotations(client, 'worker-1', { ipipTunnelAddress: '192.168.0.0' });
    expect((await asAgent(['auth', 'can-i', 'delete', 'ippools.crd.projectcalico.org'])).stdout.trim()).toBe('no');
    expect((await asAgent(['auth', 'can-i', 'delete', 'nodes'])).stdout.trim()).toBe('no');
  });

  it("keeps Calico's ClusterInformation default as calico-node does, and may not delete it", async () => {
    const client = KubeClient.fromKubeconfigFile(agentKubeconfig);
    const made = await ensureClusterInformation(client);
    expect(made.spec).toMatchObject({ datastoreReady: true, clusterType: 'k8s,bgp,kdd,gingham' });
    // A second agent (or a restart) finds it complete and keeps its GUID.
    expect((await ensureClusterInformation(client)).spec.clusterGUID).toBe(made.spec.clusterGUID);
    expect((await asAgent(['auth', 'can-i', 'delete', 'clusterinformations.crd.projectcalico.org'])).stdout.trim()).toBe('no');
    // And the KubeControllersConfiguration calicoctl ipam check reads: made once, then left alone.
    await ensureKubeControllersConfiguration(client);
    await ensureKubeControllersConfiguration(client);
    expect((await asAgent(['get', 'kubecontrollersconfigurations.crd.projectcalico.org', 'default', '-o', 'name'])).stdout.trim()).toBe('kubecontrollersconfiguration.crd.projectcalico.org/default');
  });

  it('renews its own token with its own identity, and may not mint tokens for others', async () => {
    const own = new KubeConfig();
    own.loadFromFile(agentKubeconfig);
    const renewed = await mintAgentCredential(own, 3600);
    expect(renewed.token).not.toBe('');
    const canMint = (what: string) => asAgent(['auth', 'can-i', 'create', what, '--subresource=token', '-n', 'gingham-system']);
    expect((await canMint('serviceaccounts/gingham-agent')).stdout.trim()).toBe('yes');
    expect((await canMint('serviceaccounts/default')).stdout.trim()).toBe('no');
    expect((await asAgent(['create', 'token', 'default', '-n', 'gingham-system'])).stderr).toMatch(/forbidden/i);
  });
});
