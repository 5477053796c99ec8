// The model against Calico's own published CRD schemas (and Gingham's generated CRDs against the
// same samples): every object the model produces is accepted, and the invalid samples are
// rejected by both. Calico's schemas are vendored test data (testing/calico-crds, see its
// SOURCE.md; $GINGHAM_CALICO_CRDS points elsewhere to compare other releases); the product never reads them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse } from 'yaml';
import { formatCidr, nthBlock, parseCidr } from '../net/index.ts';
import { calicoKinds } from './calico-kinds.ts';
import { calicoCrds } from './crds.ts';
import { ipPoolManifest, parseIPPool, validateIPPoolUpdate } from './ippool.ts';
import { parseCalicoResource } from './resources.ts';
import { CrdValidator } from './testing/crd-validator.ts';
import { crd, invalidSamples, modelOutput, seedPools, stricterSamples, validSamples, type Obj } from './testing/samples.ts';
import { encapsulationModes } from './modes.ts';

const calicoDir = process.env.GINGHAM_CALICO_CRDS ?? path.join(import.meta.dirname, 'testing', 'calico-crds');
// The plural resource names, as Gingham's CRDs (and Calico's) use them.
const plurals = Object.fromEntries(calicoCrds().map((c) => [c.spec.names.kind, c.spec.names.plural]));

const validPoolArb = fc
  .record({
    prefix: fc.integer({ min: 8, max: 28 }),
    index: fc.nat(),
    extraBits: fc.nat({ max: 12 }),
    encapsulation: fc.constantFrom('ipip', 'vxlan', 'none'),
    mode: fc.constantFrom(...encapsulationModes.filter((m) => m !== 'Never')),
    natOutgoing: fc.boolean(),
    disabled: fc.boolean(),
  })
  .map(({ prefix, index, extraBits, encapsulation, mode, natOutgoing, disabled }) => {
    const cidr = formatCidr(nthBlock(parseCidr('0.0.0.0/0'), prefix, index % 2 ** prefix));
    const blockSize = Math.min(32, Math.max(20, prefix) + (extraBits % 5));
    return crd('IPPool', {
      cidr,
      blockSize,
      ipipMode: encapsulation === 'ipip' ? mode : 'Never',
      vxlanMode: encapsulation === 'vxlan' ? mode : 'Never',
      natOutgoing,
      disabled,
    });
  });

function rejectedByModel(sample: Obj): boolean {
  try {
    parseCalicoResource(sample);
    return false;
  } catch {
    return true;
  }
}

describe(`the model against Calico's CRDs (${calicoDir})`, () => {
  const calico = (version: string, kind: string) => {
    const file = path.join(calicoDir, version, `crd.projectcalico.org_${plurals[kind]}.yaml`);
    return new CrdValidator(parse(readFileSync(file, 'utf8')));
  };

  it.each(['v3.32.1', 'v3.30.7', 'master'])('Calico %s accepts every object the model produces', (version) => {
    for (const sample of validSamples) {
      const result = calico(version, sample.kind).check(modelOutput(sample));
      expect(result.errors, `${sample.kind} ${JSON.stringify(sample.spec)}`).toEqual([]);
    }
  });

  it('Calico v3.32.1 accepts generated pools in every mode and size', () => {
    const validator = calico('v3.32.1', 'IPPool');
    fc.assert(
      fc.property(validPoolArb, (sample) => {
        expect(validator.check(modelOutput(sample)).errors).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it.each(invalidSamples)('Calico v3.32.1 and the model both reject %s', (_why, sample) => {
    const result = calico('v3.32.1', sample.kind).check(sample);
    expect(result.errors.length, 'Calico accepted it').toBeGreaterThan(0);
    expect(rejectedByModel(sample), 'the model accepted it').toBe(true);
  });

  it('Calico v3.32.1 and the model both refuse to change a pool’s cidr or blockSize', () => {
    const validator = calico('v3.32.1', 'IPPool');
    const before = modelOutput(seedPools[0]!);
    for (const change of [{ cidr: '10.0.0.0/16' }, { blockSize: 24 }]) {
      const after = { ...before, spec: { ...(before.spec as object), ...change } };
      expect(validator.check(after, before).errors.join()).toMatch(/cannot be changed|immutable/i);
      expect(() => validateIPPoolUpdate(parseIPPool(before), parseIPPool(after))).toThrow('is immutable');
    }
    const modeChange = { ...before, spec: { ...(before.spec as object), ipipMode: 'CrossSubnet' } };
    expect(validator.check(modeChange, before).errors).toEqual([]);
  });

  it.each(stricterSamples)('the model alone rejects %s', (_why, sample) => {
    expect(calico('v3.32.1', sample.kind).check(sample).errors).toEqual([]);
    expect(rejectedByModel(sample)).toBe(true);
  });

  it('really runs the CEL rules of Calico v3.32.1 (the evaluator is not silently skipping them)', () => {
    const result = calico('v3.32.1', 'IPPool').check(modelOutput(seedPools[0]!));
    expect(result.unsupportedRules).toEqual([]);
    expect(result.evaluatedRules).toBeGreaterThanOrEqual(4);
  });
});

describe("Gingham's generated CRDs", () => {
  const ours = new Map(calicoCrds().map((definition) => [definition.spec.names.kind, new CrdValidator(definition)]));

  it('cover every kind of the registry, in the crd.projectcalico.org group, with its scope', () => {
    expect([...ours.keys()].sort()).toEqual(calicoKinds.map((k) => k.kind).sort());
    for (const definition of calicoCrds()) {
      const info = calicoKinds.find((k) => k.kind === definition.spec.names.kind)!;
      expect(definition.metadata.name).toBe(`${info.plural}.crd.projectcalico.org`);
      expect(definition.spec.scope).toBe(info.scope);
    }
  });

  it('keep what clients write to a kind Gingham only stores, and check what it honours', () => {
    const felix = { apiVersion: 'crd.projectcalico.org/v1', kind: 'FelixConfiguration', metadata: { name: 'default' }, spec: { logSeverityScreen: 'Info', reportingInterval: '0s' } };
    expect(ours.get('FelixConfiguration')!.check(felix).errors).toEqual([]);
    const info = { apiVersion: 'crd.projectcalico.org/v1', kind: 'ClusterInformation', metadata: { name: 'default' }, spec: { datastoreReady: 'yes' } };
    expect(ours.get('ClusterInformation')!.check(info).errors.length).toBeGreaterThan(0);
  });

  it('accept every object the model produces, including generated pools', () => {
    for (const sample of validSamples) {
      expect(ours.get(sample.kind)!.check(modelOutput(sample)).errors, JSON.stringify(sample)).toEqual([]);
    }
    fc.assert(
      fc.property(validPoolArb, (sample) => {
        expect(ours.get('IPPool')!.check(modelOutput(sample)).errors).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it.each(invalidSamples)('reject %s, as the model does', (_why, sample) => {
    expect(ours.get(sample.kind)!.check(sample).errors.length).toBeGreaterThan(0);
  });

  it('default what kubectl-applied pools leave out, as the model does', () => {
    const applied = crd('IPPool', { cidr: '10.244.0.0/16' });
    const stored = structuredClone(applied);
    expect(ours.get('IPPool')!.check(stored).errors).toEqual([]);
    expect(ipPoolManifest(parseIPPool(applied), 'crd.projectcalico.org/v1').spec).toMatchObject({ blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never' });
  });
});
