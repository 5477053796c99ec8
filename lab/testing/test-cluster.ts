// A real control plane (etcd + kube-apiserver) with Gingham's CRDs, or Calico's own, for any
// tier's tests that need a Kubernetes API without the whole lab: the datastore, IPAM, CNI, the
// agent's run tests and the console's stores. Each test file gets its own cluster in a temporary folder.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { calicoModuleCrdsDir } from '../calicoctl/build.ts';
import { controlPlaneDown, controlPlaneUp, type ControlPlane } from '../controlplane/controlplane.ts';
import { kubectl } from '../controlplane/kubectl.ts';
import { calicoCrds } from '../../shared/model/crds.ts';
import { KubeClient } from '../../agent/datastore/kube-client.ts';

export interface TestCluster {
  plane: ControlPlane;
  dir: string;
  admin: KubeClient;
  kubectl(args: string[], input?: string): Promise<string>;
  apply(objects: unknown[]): Promise<void>;
  down(): Promise<void>;
}

export async function startTestCluster(options: { crds?: unknown[]; port?: number; address?: string } = {}): Promise<TestCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gk8s-cp-'));
  const plane = await controlPlaneUp({
    stateDir: dir,
    progress: () => {},
    ...(options.port ? { port: options.port } : {}),
    ...(options.address ? { address: options.address } : {}),
  });
  const run = async (args: string[], input?: string) => {
    const result = await kubectl(plane.kubeconfig, args, input);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  };
  const apply = async (objects: unknown[]) => {
    await run(['apply', '--server-side', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
  };
  const crds = options.crds ?? calicoCrds();
  if (crds.length > 0) {
    try {
      await apply(crds);
      const names = crds.map((c) => `crd/${(c as { metadata: { name: string } }).metadata.name}`);
      await run(['wait', '--for=condition=Established', '--timeout=30s', ...names]);
    } catch (error) {
      // The caller never gets a cluster to stop: stop it here.
      await controlPlaneDown(dir, true);
      throw error;
    }
  }
  return {
    plane,
    dir,
    admin: KubeClient.fromKubeconfigFile(plane.kubeconfig),
    kubectl: run,
    apply,
    down: () => controlPlaneDown(dir, true),
  };
}

/**
 * A cluster with Calico's own CRDs (from the calico module calicoctl is built from) and the two
 * objects calicoctl reads first, as calico-node and kube-controllers create them at start-up.
 */
export async function startCalicoTestCluster(options: { address?: string } = {}): Promise<TestCluster> {
  const dir = await calicoModuleCrdsDir();
  const crds = readdirSync(dir)
    .filter((f) => f.startsWith('crd.projectcalico.org_'))
    .flatMap((f) => parseAllDocuments(readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJS() as unknown))
    .filter(Boolean);
  const cluster = await startTestCluster({ crds, ...options });
  try {
    await cluster.apply([
      { apiVersion: 'crd.projectcalico.org/v1', kind: 'ClusterInformation', metadata: { name: 'default' }, spec: { clusterGUID: 'gingham-test', clusterType: 'k8s', datastoreReady: true } },
      { apiVersion: 'crd.projectcalico.org/v1', kind: 'KubeControllersConfiguration', metadata: { name: 'default' }, spec: { controllers: {} } },
    ]);
  } catch (error) {
    // The caller never gets a cluster to stop: stop it here.
    await cluster.down();
    throw error;
  }
  return cluster;
}

/** A core Node as a kubelet would register it, with Calico's address annotation. */
export function nodeObject(name: string, address: string, labels: Record<string, string> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels }, annotations: { 'projectcalico.org/IPv4Address': address } },
  };
}

export function ipPool(name: string, spec: Record<string, unknown>) {
  return { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name }, spec: { blockSize: 26, nodeSelector: 'all()', ...spec } };
}

/** Polls `check` until it returns a value (not undefined) or the time is up. */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000, what = 'the condition', intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms${lastError ? `: ${(lastError as Error).message}` : ''}`);
}
