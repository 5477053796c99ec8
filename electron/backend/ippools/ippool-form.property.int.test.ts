// Property, against a real kube-apiserver with Calico's own CRDs: whatever a user types in the IP
// pool form (any CIDR text, any block size, any modes, NAT and disabled), Apply either stores
// exactly that pool (read back equal) or is refused with `invalid-field` naming each bad field and
// saying what is allowed, and stores nothing; never another error. Edits of a stored pool likewise,
// and an immutable field changed is refused naming it.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PoolFields } from '../../../shared/api/cluster-ops-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { eventually, startCalicoTestCluster, type TestCluster } from '../../../lab/testing/test-cluster.ts';
import { ConsoleBackend, type AttachedClient } from '../console-backend.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

let cluster: TestCluster;
let dir: string;
let backend: ConsoleBackend;
let client: AttachedClient;
let context: string;

beforeAll(async () => {
  cluster = await startCalicoTestCluster();
  dir = mkdtempSync(path.join(tmpdir(), 'gpool-form-'));
  backend = new ConsoleBackend({ configDir: path.join(dir, 'config'), clusters: { paths: () => [cluster.plane.kubeconfig] }, lab: { nodes: [] } });
  client = backend.attach(() => undefined);
  context = (await client.handlers['contexts.list']({})).currentContext!;
  // A CRD just established may still answer 429 "storage is (re)initializing" for a moment.
  await eventually(async () => (await client.handlers['ippools.list']({ context })).pools, 30_000, 'IPPools to be listable', 500);
}, 600_000);

afterAll(async () => {
  client?.detach();
  backend?.close();
  await cluster?.down();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cidr = fc.oneof(
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 33 })).map(([ip, len]) => `${ip}/${len}`),
  fc.constantFrom('10.0.0.0/8', '192.168.0.0/16', '10.0.0.1/24', '0.0.0.0/0', '10.0.0.0', '10.0.0.0/', '::/64', 'fd00::/48', ' 10.0.0.0/8', '10.0.0.0/08', ''),
  fc.string({ maxLength: 20 }),
);
const mode = fc.constantFrom('Always', 'CrossSubnet', 'Never') as fc.Arbitrary<PoolFields['ipipMode']>;
const fields: fc.Arbitrary<PoolFields> = fc.record({ cidr, blockSize: fc.integer({ min: -1, max: 40 }), ipipMode: mode, vxlanMode: mode, natOutgoing: fc.boolean(), disabled: fc.boolean() });

const allowed = ['cidr', 'blockSize', 'ipipMode', 'vxlanMode', 'natOutgoing', 'disabled', 'allowedUses'];
let n = 0;
const outcomes = { stored: 0, refused: 0, immutable: 0 };

function checkRefusal(error: unknown): void {
  expect(error).toBeInstanceOf(ConsoleError);
  const e = error as ConsoleError;
  expect(e.code).toBe('invalid-field');
  const details = Object.entries(e.details ?? {});
  expect(details.length).toBeGreaterThan(0);
  for (const [field, message] of details) {
    expect(allowed).toContain(field);
    expect(message).toMatch(/^(must|is |cannot|a LoadBalancer|LoadBalancer)/);
  }
}

describe('the IP pool form, any fields, on a real API server', () => {
  it('a new pool is stored exactly as typed, or refused naming each bad field with nothing stored', async () => {
    await fc.assert(
      fc.asyncProperty(fields, async (typed) => {
        const name = `form-${n++}`;
        let saved: Awaited<ReturnType<AttachedClient['handlers']['ippools.save']>> | undefined;
        try {
          saved = await client.handlers['ippools.save']({ context, name, fields: typed });
        } catch (error) {
          checkRefusal(error);
        }
        const listed = (await client.handlers['ippools.list']({ context })).pools.find((p) => p.name === name);
        if (saved) {
          outcomes.stored++;
          expect(saved.fields).toEqual(typed);
          expect(listed?.fields).toEqual(typed);
          await client.handlers['ippools.delete']({ context, name, resourceVersion: saved.resourceVersion });
        } else {
          outcomes.refused++;
          expect(listed).toBeUndefined();
        }
      }),
      { numRuns: 60, examples: [[{ cidr: '10.80.0.0/16', blockSize: 26, ipipMode: 'Never', vxlanMode: 'Always', natOutgoing: false, disabled: false }]] },
    );
    // Both paths were taken: some pools stored through the API server, some refused.
    expect(outcomes.stored).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  }, 120_000);

  it('an edit of a stored pool is stored as typed, or refused naming the field (cidr and blockSize are immutable)', async () => {
    const base: PoolFields = { cidr: '10.70.0.0/16', blockSize: 26, ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true, disabled: false };
    let row = await client.handlers['ippools.save']({ context, name: 'edited', fields: base });
    await fc.assert(
      fc.asyncProperty(fields, fc.boolean(), async (typed, keepShape) => {
        const edit = keepShape ? { ...typed, cidr: row.fields.cidr, blockSize: row.fields.blockSize } : typed;
        try {
          row = await client.handlers['ippools.save']({ context, name: 'edited', fields: edit, resourceVersion: row.resourceVersion });
          expect(row.fields).toEqual(edit);
        } catch (error) {
          checkRefusal(error);
          if (edit.cidr !== row.fields.cidr || edit.blockSize !== row.fields.blockSize) outcomes.immutable++;
          const stored = (await client.handlers['ippools.list']({ context })).pools.find((p) => p.name === 'edited')!;
          expect(stored).toEqual(row);
        }
      }),
      { numRuns: 60 },
    );
    expect(outcomes.immutable).toBeGreaterThan(0);
  }, 120_000);
});
