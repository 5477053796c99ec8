// Two admins editing one IPPool from two consoles, against a real kube-apiserver with Calico's own
// CRDs: whoever applies second on a stale copy is told about the conflict and shown the newer
// pool; nothing either of them applied is lost, and applying again on the newer copy keeps both
// changes. Also two Applies at the same instant (the API server's own 409), and a pool deleted
// while the other admin edits it.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { calicoModuleCrdsDir } from '../../../lab/calicoctl/build.ts';
import { controlPlaneDown, controlPlaneUp, type ControlPlane } from '../../../lab/controlplane/controlplane.ts';
import { kubectl as kubectlRun } from '../../../lab/controlplane/kubectl.ts';
import type { PoolFields, PoolRow } from '../../../shared/api/cluster-ops-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { ConsoleBackend, type AttachedClient } from '../console-backend.ts';

let plane: ControlPlane;
let dir: string;
const consoles: Array<{ backend: ConsoleBackend; client: AttachedClient }> = [];
let context: string;

async function kubectl(args: string[], input?: string): Promise<string> {
  const result = await kubectlRun(plane.kubeconfig, args, input);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}
const apply = (objects: unknown[]) => kubectl(['apply', '--server-side', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
const ipPool = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name }, spec: { blockSize: 26, nodeSelector: 'all()', ...spec } });

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gpool-conflict-'));
  plane = await controlPlaneUp({ stateDir: path.join(dir, 'controlplane'), progress: () => {} });
  // Calico's own CRDs (from the calico module calicoctl is built from), as on a Calico cluster.
  const crdDir = await calicoModuleCrdsDir();
  const crds = readdirSync(crdDir)
    .filter((f) => f.startsWith('crd.projectcalico.org_'))
    .flatMap((f) => parseAllDocuments(readFileSync(path.join(crdDir, f), 'utf8')).map((d) => d.toJS() as unknown))
    .filter(Boolean);
  await apply(crds);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/ippools.crd.projectcalico.org']);
  for (const name of ['alice', 'bob']) {
    const backend = new ConsoleBackend({ configDir: path.join(dir, name), clusters: { paths: () => [plane.kubeconfig] }, lab: { nodes: [] } });
    consoles.push({ backend, client: backend.attach(() => undefined) });
  }
  context = (await consoles[0]!.client.handlers['contexts.list']({})).currentContext!;
}, 600_000);

afterAll(async () => {
  for (const c of consoles) {
    c.client.detach();
    c.backend.close();
  }
  if (plane) await controlPlaneDown(plane.stateDir, true);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const alice = () => consoles[0]!.client.handlers;
const bob = () => consoles[1]!.client.handlers;

async function poolIn(handlers: AttachedClient['handlers'], name: string): Promise<PoolRow> {
  const { pools } = await handlers['ippools.list']({ context });
  const pool = pools.find((p) => p.name === name);
  if (!pool) throw new Error(`no pool ${name}`);
  return pool;
}

async function conflictOf(save: Promise<unknown>): Promise<{ message: string; current: PoolRow }> {
  try {
    await save;
  } catch (error) {
    expect(error).toBeInstanceOf(ConsoleError);
    const e = error as ConsoleError;
    expect(e.code).toBe('conflict');
    return { message: e.message, current: JSON.parse(e.details!.current!) as PoolRow };
  }
  throw new Error('the stale Apply was accepted');
}

async function stored(name: string): Promise<Record<string, unknown>> {
  return (JSON.parse(await kubectl(['get', 'ippools.crd.projectcalico.org', name, '-o', 'json'])) as { spec: Record<string, unknown> }).spec;
}

describe('two consoles editing one IP pool', () => {
  it('the second Apply on a stale copy is told of the conflict and shown the newer pool; no update is lost', async () => {
    await apply([ipPool('shared-pool', { cidr: '10.50.0.0/16', ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true, allowedUses: ['Workload', 'Tunnel'] })]);
    const aliceCopy = await poolIn(alice(), 'shared-pool');
    const bobCopy = await poolIn(bob(), 'shared-pool');
    expect(bobCopy.resourceVersion).toBe(aliceCopy.resourceVersion);

    const aliceFields: PoolFields = { ...aliceCopy.fields, ipipMode: 'Never', vxlanMode: 'Always' };
    const saved = await alice()['ippools.save']({ context, name: 'shared-pool', fields: aliceFields, resourceVersion: aliceCopy.resourceVersion });
    expect(saved.fields.vxlanMode).toBe('Always');

    // Bob edited natOutgoing on the copy he opened before Alice applied.
    const bobFields: PoolFields = { ...bobCopy.fields, natOutgoing: false };
    const conflict = await conflictOf(bob()['ippools.save']({ context, name: 'shared-pool', fields: bobFields, resourceVersion: bobCopy.resourceVersion }));
    expect(conflict.message).toMatch(/Someone changed IP pool shared-pool since you opened it/);
    expect(conflict.current).toEqual(saved);
    // Alice's change stands, Bob's did not land over it, and what neither edits is kept.
    expect(await stored('shared-pool')).toMatchObject({ ipipMode: 'Never', vxlanMode: 'Always', natOutgoing: true, nodeSelector: 'all()', allowedUses: ['Workload', 'Tunnel'] });

    // Bob applies his change again on the newer copy: both changes are there.
    const merged = await bob()['ippools.save']({ context, name: 'shared-pool', fields: { ...conflict.current.fields, natOutgoing: false }, resourceVersion: conflict.current.resourceVersion });
    expect(merged.fields).toMatchObject({ ipipMode: 'Never', vxlanMode: 'Always', natOutgoing: false });
    expect(await stored('shared-pool')).toMatchObject({ ipipMode: 'Never', vxlanMode: 'Always', natOutgoing: false, allowedUses: ['Workload', 'Tunnel'] });
  });

  it('two Applies at the same instant on one copy: exactly one lands, the other is a conflict showing it', async () => {
    await apply([ipPool('race-pool', { cidr: '10.51.0.0/16', ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true })]);
    const copy = await poolIn(alice(), 'race-pool');
    for (let round = 0; round < 5; round++) {
      const base = await poolIn(alice(), 'race-pool');
      const results = await Promise.allSettled([
        alice()['ippools.save']({ context, name: 'race-pool', fields: { ...base.fields, natOutgoing: !base.fields.natOutgoing }, resourceVersion: base.resourceVersion }),
        bob()['ippools.save']({ context, name: 'race-pool', fields: { ...base.fields, disabled: !base.fields.disabled }, resourceVersion: base.resourceVersion }),
      ]);
      const landed = results.filter((r) => r.status === 'fulfilled') as Array<PromiseFulfilledResult<PoolRow>>;
      const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      expect(landed).toHaveLength(1);
      expect(refused).toHaveLength(1);
      const { current } = await conflictOf(Promise.reject(refused[0]!.reason));
      expect(current).toEqual(landed[0]!.value);
      expect((await poolIn(bob(), 'race-pool')).fields).toEqual(landed[0]!.value.fields);
    }
    expect(copy.name).toBe('race-pool');
  });

  it('a pool deleted while the other admin edits it: the Apply says so and recreates nothing', async () => {
    await apply([ipPool('gone-pool', { cidr: '10.52.0.0/16', ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true })]);
    const bobCopy = await poolIn(bob(), 'gone-pool');
    const aliceCopy = await poolIn(alice(), 'gone-pool');
    expect(await alice()['ippools.delete']({ context, name: 'gone-pool', resourceVersion: aliceCopy.resourceVersion })).toEqual({ deleted: true });
    let caught: unknown;
    try {
      await bob()['ippools.save']({ context, name: 'gone-pool', fields: { ...bobCopy.fields, natOutgoing: false }, resourceVersion: bobCopy.resourceVersion });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConsoleError);
    expect((caught as ConsoleError).code).toBe('not-found');
    expect((caught as ConsoleError).message).toMatch(/IP pool gone-pool was deleted since you opened it/);
    expect((await alice()['ippools.list']({ context })).pools.map((p) => p.name)).not.toContain('gone-pool');
  });

  it('a delete on a stale copy is a conflict showing the newer pool, and deletes nothing', async () => {
    await apply([ipPool('kept-pool', { cidr: '10.53.0.0/16', ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true })]);
    const bobCopy = await poolIn(bob(), 'kept-pool');
    const aliceCopy = await poolIn(alice(), 'kept-pool');
    const saved = await alice()['ippools.save']({ context, name: 'kept-pool', fields: { ...aliceCopy.fields, natOutgoing: false }, resourceVersion: aliceCopy.resourceVersion });
    const conflict = await conflictOf(bob()['ippools.delete']({ context, name: 'kept-pool', resourceVersion: bobCopy.resourceVersion }));
    expect(conflict.current).toEqual(saved);
    expect((await stored('kept-pool')).natOutgoing).toBe(false);
  });
});
