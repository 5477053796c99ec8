// Calico's own calicoctl v3.31.0 on the lab as an admin runs it (no --allow-version-mismatch),
// on a cluster set up by Gingham's manifests alone: every CRD of Calico's set is there, the
// agents keep ClusterInformation `default` as calico-node would, and `ipam check` is clean.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { calicoKinds } from '../../shared/model/calico-kinds.ts';
import { calicoApiRelease } from '../../shared/model/cluster-information.ts';
import { kubectl } from '../controlplane/kubectl.ts';
import { useLab, type LabLease } from '../testing/lab-fixture.ts';
import { calicoModuleCrdsDir } from './build.ts';
import { calicoctl } from './calicoctl.ts';

let lab: LabLease;
let kubeconfig: string;

const asAdmin = async (args: string[], input?: string) => {
  const result = await calicoctl(kubeconfig, args, { asAdmins: true, ...(input ? { input } : {}) });
  expect(result.code, `calicoctl ${args.join(' ')}: ${result.stderr}${result.stdout}`).toBe(0);
  return result.stdout;
};

beforeAll(async () => {
  lab = await useLab({ progress: (line) => console.log(`[lab] ${line}`) });
  kubeconfig = lab.status.kubeconfig!;
}, 1_200_000);

afterAll(async () => {
  await lab?.release();
});

describe('calicoctl on the lab, as admins run it', () => {
  it("the registry holds Calico v3.31's whole CRD set, kind by kind, with its scope", async () => {
    const dir = await calicoModuleCrdsDir();
    const calico = readdirSync(dir)
      .filter((name) => name.startsWith('crd.projectcalico.org_'))
      .map((name) => parse(readFileSync(path.join(dir, name), 'utf8')) as { spec: { names: { kind: string; plural: string }; scope: string } })
      .map((crd) => `${crd.spec.names.kind} ${crd.spec.names.plural} ${crd.spec.scope}`);
    expect(calicoKinds.map((k) => `${k.kind} ${k.plural} ${k.scope}`).sort()).toEqual(calico.sort());
  });

  it('finds the ClusterInformation the agents keep, with a GUID, ready, and the release calicoctl checks', async () => {
    const info = await asAdmin(['get', 'clusterinformation', 'default', '-o', 'yaml']);
    const spec = (parse(info) as { spec: Record<string, unknown> }).spec;
    expect(spec.clusterGUID).toMatch(/^[0-9a-f]{32}$/);
    expect(spec.datastoreReady).toBe(true);
    expect(spec.calicoVersion).toBe(calicoApiRelease);
    expect(String(spec.clusterType).split(',')).toEqual(expect.arrayContaining(['k8s', 'kdd', 'gingham']));
  });

  it('reads pools, nodes, blocks and workloads, and ipam check finds 0 problems', async () => {
    const pools = await asAdmin(['get', 'ippool', '-o', 'wide']);
    expect(pools).toMatch(/default-ipv4-ippool\s+192\.168\.0\.0\/16\s+true\s+Always\s+Never\s+false\s+false\s+all\(\)/);
    const nodes = await asAdmin(['get', 'nodes', '-o', 'wide']);
    for (const name of ['master', 'worker-1', 'worker-2', 'worker-3']) expect(nodes).toContain(name);
    expect(nodes).toMatch(/worker-3\s+\(64512\)\s+10\.240\.2\.13\/24/);
    const workloads = await asAdmin(['get', 'workloadendpoints', '-A']);
    for (const pod of ['pod-1', 'pod-2', 'pod-3']) expect(workloads).toContain(pod);
    const blocks = (await kubectl(kubeconfig, ['get', 'ipamblocks.crd.projectcalico.org', '-o', 'name'])).stdout;
    expect(blocks.trim().split('\n').length).toBeGreaterThanOrEqual(4);
    const shown = await asAdmin(['ipam', 'show', '--show-blocks']);
    expect(shown).toMatch(/Block\s+\|\s+192\.168\.\d+\.\d+\/26\s+\|\s+64\s+\|/);
    const check = await asAdmin(['ipam', 'check', '--show-problem-ips']);
    console.log(['calicoctl get ippool -o wide', pools, 'calicoctl get nodes -o wide', nodes, 'calicoctl ipam show --show-blocks', shown, 'calicoctl ipam check', check].join('\n'));
    expect(check).toMatch(/Found 3 workload IPs/);
    expect(check).toMatch(/Check complete; found 0 problems\./);
  }, 120_000);

  it("applies the seed's ippool.yaml, and lists and keeps the kinds Gingham only stores", async () => {
    const seed = readFileSync(path.join(import.meta.dirname, '../../shared/model/testdata/seed-ippool-always.yaml'), 'utf8');
    expect(await asAdmin(['apply', '-f', '-'], seed)).toMatch(/Successfully applied 1 'IPPool' resource/);
    expect(await asAdmin(['get', 'globalnetworkpolicy'])).toMatch(/NAME/);
    const felix = 'apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata:\n  name: default\nspec:\n  logSeverityScreen: Info\n  reportingInterval: 0s\n';
    await asAdmin(['apply', '-f', '-'], felix);
    expect(await asAdmin(['get', 'felixconfiguration', 'default', '-o', 'yaml'])).toMatch(/logSeverityScreen: Info/);
  }, 60_000);
});
