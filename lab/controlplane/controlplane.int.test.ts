// The control plane fixture, and the model's CRDs against a real kube-apiserver: Gingham's
// generated CRDs in one cluster, Calico's published v3.32.1 CRDs in another; each accepts what
// the model produces and rejects the invalid samples.
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { calicoCrds } from '../../shared/model/crds.ts';
import { parseIPPool } from '../../shared/model/ippool.ts';
import { invalidSamples, modelOutput, seedPools, validSamples, type Obj } from '../../shared/model/testing/samples.ts';
import { controlPlaneDown, controlPlaneStatus, controlPlaneUp, type ControlPlane } from './controlplane.ts';
import { kubectl } from './kubectl.ts';

const quiet = () => {};

async function withCrds(plane: ControlPlane, crds: unknown[]): Promise<void> {
  const applied = await kubectl(plane.kubeconfig, ['apply', '-f', '-'], crds.map((c) => stringify(c)).join('---\n'));
  expect(applied.stderr).toBe('');
  const names = crds.map((c) => `crd/${(c as { metadata: { name: string } }).metadata.name}`);
  const ready = await kubectl(plane.kubeconfig, ['wait', '--for=condition=Established', '--timeout=30s', ...names]);
  expect(ready.code, ready.stderr).toBe(0);
}

const create = (plane: ControlPlane, object: Obj) => kubectl(plane.kubeconfig, ['create', '-f', '-', '-o', 'json'], JSON.stringify(object));
const remove = (plane: ControlPlane, object: Obj) =>
  kubectl(plane.kubeconfig, ['delete', `${object.kind.toLowerCase()}.crd.projectcalico.org`, (object.metadata as { name: string }).name, '--ignore-not-found']);

function describeCluster(title: string, crds: () => unknown[]) {
  describe(title, () => {
    let plane: ControlPlane;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gingham-cp-'));

    beforeAll(async () => {
      plane = await controlPlaneUp({ stateDir: dir, progress: quiet });
      await withCrds(plane, crds());
    });
    afterAll(() => controlPlaneDown(dir, true));

    it('stores every object the model produces', async () => {
      for (const sample of validSamples) {
        const object = modelOutput(sample);
        const result = await create(plane, object);
        expect(result.stderr, `${sample.kind} ${JSON.stringify(sample.spec)}`).toBe('');
        const stored = JSON.parse(result.stdout) as Obj;
        // What the server stored reads back through the model with every field intact (a
        // server with Calico's CRDs adds its own defaults beside them).
        expect(modelOutput(stored).spec).toMatchObject(object.spec as object);
        await remove(plane, object);
      }
    });

    it.each(invalidSamples)('refuses %s', async (_why, sample) => {
      const result = await create(plane, sample);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/invalid|Unsupported value|Required value|must be|cannot/i);
      await remove(plane, sample);
    });

    it('refuses to change a pool’s cidr, and applies a mode change', async () => {
      const pool = modelOutput(seedPools[0]!);
      expect((await create(plane, pool)).stderr).toBe('');
      const patch = (spec: object) =>
        kubectl(plane.kubeconfig, ['patch', 'ippools.crd.projectcalico.org', 'default-ipv4-ippool', '--type=merge', '-p', JSON.stringify({ spec })]);
      const cidrChange = await patch({ cidr: '10.0.0.0/16' });
      expect(cidrChange.code).not.toBe(0);
      expect(cidrChange.stderr).toMatch(/immutable|cannot be changed/i);
      expect((await patch({ ipipMode: 'CrossSubnet' })).code).toBe(0);
      const read = await kubectl(plane.kubeconfig, ['get', 'ippools.crd.projectcalico.org', 'default-ipv4-ippool', '-o', 'json']);
      expect(parseIPPool(JSON.parse(read.stdout)).spec.ipipMode).toBe('CrossSubnet');
      await remove(plane, pool);
    });
  });
}

describe('the control plane fixture', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gingham-cp-'));
  afterAll(() => controlPlaneDown(dir, true));

  it('starts etcd and kube-apiserver, reports its version, and is idempotent', async () => {
    const plane = await controlPlaneUp({ stateDir: dir, progress: quiet });
    const version = await kubectl(plane.kubeconfig, ['version', '-o', 'json']);
    expect(version.code, version.stderr).toBe(0);
    expect((JSON.parse(version.stdout) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion).toBe('v1.36.3');
    expect((await controlPlaneUp({ stateDir: dir, progress: quiet })).pids).toEqual(plane.pids);
    // The admin is system:masters; RBAC is on, so a user with no bindings may not read Secrets.
    const kubeconfig = parse(readFileSync(plane.kubeconfig, 'utf8')) as { users: Array<{ user: Record<string, string> }> };
    expect(Object.keys(kubeconfig.users[0]!.user).sort()).toEqual(['client-certificate-data', 'client-key-data']);
    const anonymous = await fetch(`${plane.server}/api/v1/namespaces`).catch((error: Error) => error);
    expect(anonymous).toBeInstanceOf(Error); // self-signed CA: not even TLS succeeds without it
    const canI = await kubectl(plane.kubeconfig, ['auth', 'can-i', 'list', 'secrets', '--as=jane', '--as-group=system:authenticated']);
    expect(canI.stdout.trim()).toBe('no');
  });

  it('stops both processes on down', async () => {
    const plane = await controlPlaneUp({ stateDir: dir, progress: quiet });
    await controlPlaneDown(dir);
    expect(await controlPlaneStatus(dir)).toBeUndefined();
    for (const pid of Object.values(plane.pids)) expect(() => process.kill(pid, 0)).toThrow();
  });
});

describeCluster("Gingham's generated CRDs in a real kube-apiserver", calicoCrds);

// Calico's published CRDs, vendored as test data beside the model (see calico-crd-compat.test.ts).
const calicoDir = process.env.GINGHAM_CALICO_CRDS ?? path.resolve(import.meta.dirname, '../../shared/model/testing/calico-crds');
const calicoFiles = ['ippools', 'bgpconfigurations', 'bgppeers', 'ipamblocks', 'blockaffinities', 'ipamhandles'].map((plural) =>
  path.join(calicoDir, 'v3.32.1', `crd.projectcalico.org_${plural}.yaml`),
);
describeCluster(
  "Calico's v3.32.1 CRDs in a real kube-apiserver",
  () => calicoFiles.map((file) => parse(readFileSync(file, 'utf8')) as unknown),
);
