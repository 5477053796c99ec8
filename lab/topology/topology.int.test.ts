// A shape other than the seed's, from a topology file: three subnets (one with its own gateway
// address, one a /28), the API server on a control-plane node named cp, another pod pool in VXLAN
// mode. The lab builds it, the pods reach each other across the router, and down removes it.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlOk, poolName } from '../cluster/objects.ts';
import { labDown, readLabState } from '../lab.ts';
import { namespaces, run } from '../sh.ts';
import { useLab, type LabLease } from '../testing/lab-fixture.ts';
import { curlFrom, labExec } from '../testing/probes.ts';

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testing', 'three-subnets.yaml');
let lab: LabLease;

beforeAll(async () => {
  lab = await useLab({ exclusive: true, fresh: true, topologyFile: file, waitMs: 1_200_000, progress: (line) => console.log(`[lab] ${line}`) });
}, 1_800_000);

afterAll(async () => {
  await lab?.release();
}, 300_000);

describe('a lab from another topology file', () => {
  it('builds the file’s shape: addresses, gateways, the API server on cp, the pool', async () => {
    expect(lab.status.server).toBe('https://10.241.1.5:6443');
    expect(lab.status.nodes.map((n) => [n.name, n.address, n.subnet, n.agent.state])).toEqual([
      ['cp', '10.241.1.5', '10.241.1.0/24', 'running'],
      ['node-a', '10.241.2.20', '10.241.2.0/24', 'running'],
      ['node-b', '10.241.3.6', '10.241.3.0/28', 'running'],
    ]);
    const routeA = await labExec('node-a', ['ip', '-4', 'route', 'show', 'default']);
    expect(routeA.stdout).toContain('via 10.241.2.254 dev ens5');
    const pool = JSON.parse(await kubectlOk(lab.status.kubeconfig!, ['get', 'ippools.crd.projectcalico.org', poolName, '-o', 'json'])) as { spec: Record<string, unknown> };
    expect(pool.spec).toMatchObject({ cidr: '10.244.0.0/16', blockSize: 24, vxlanMode: 'Always', ipipMode: 'Never' });
    for (const pod of lab.status.pods) expect(pod.ip).toMatch(/^10\.244\./);
    expect((await run('ip', ['-4', 'route', 'show', 'dev', 'lab-admin'])).split('\n').filter(Boolean).map((l) => l.split(' ')[0]).sort()).toEqual([
      '10.240.255.252/30',
      '10.241.1.0/24',
      '10.241.2.0/24',
      '10.241.3.0/28',
    ]);
  }, 120_000);

  it('lets the pods reach each other across two subnets through VXLAN', async () => {
    const [a, b] = lab.status.pods;
    const answer = await curlFrom(a!.name, b!.ip, 10);
    expect(answer.code).toBe(0);
    expect(answer.body).toBe('web-b on node-b\n');
  }, 120_000);

  it('comes down completely', async () => {
    await labDown({ progress: () => {} });
    const left = await namespaces();
    expect(['fabric', 'cp', 'node-a', 'node-b', 'web-a', 'web-b'].filter((ns) => left.has(ns))).toEqual([]);
    expect(await run('ip', ['-4', 'route', 'show'])).not.toContain('10.241.');
    expect(readLabState()).toBeUndefined();
  }, 120_000);
});
