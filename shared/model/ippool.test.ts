import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ipPoolManifest, parseIPPool, validateIPPoolUpdate } from './ippool.ts';
import { ValidationError } from './validation.ts';

const fixture = (name: string): unknown => parse(readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8'));
const pool = (spec: Record<string, unknown>, name = 'pool-a') => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'IPPool',
  metadata: { name },
  spec: { cidr: '192.168.0.0/16', ...spec },
});

function issuesOf(input: unknown): Record<string, string> {
  try {
    parseIPPool(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return Object.fromEntries((error as ValidationError).issues.map((i) => [i.path, i.message]));
  }
  throw new Error('expected a validation error');
}

describe("the seed's ippool.yaml", () => {
  it.each(['always', 'never', 'crosssubnet'])('ipipMode %s parses with the seed’s values', (mode) => {
    const parsed = parseIPPool(fixture(`seed-ippool-${mode}.yaml`));
    expect(parsed.metadata.name).toBe('default-ipv4-ippool');
    expect(parsed.spec.ipipMode.toLowerCase()).toBe(mode);
    expect(parsed.spec).toMatchObject({ cidr: '192.168.0.0/16', blockSize: 26, natOutgoing: true, vxlanMode: 'Never', nodeSelector: 'all()' });
  });

  it.each(['always', 'never', 'crosssubnet'])('ipipMode %s round-trips through both apiVersions', (mode) => {
    const parsed = parseIPPool(fixture(`seed-ippool-${mode}.yaml`));
    const asCrd = ipPoolManifest(parsed, 'crd.projectcalico.org/v1');
    expect(asCrd.apiVersion).toBe('crd.projectcalico.org/v1');
    const back = parseIPPool(JSON.parse(JSON.stringify(asCrd)));
    expect(back.spec).toEqual(parsed.spec);
    expect(parseIPPool(ipPoolManifest(back, 'projectcalico.org/v3'))).toEqual(parsed);
  });

  it('keeps server metadata and fields from newer Calico versions when read from the CRD', () => {
    const parsed = parseIPPool(fixture('stored-ippool-crd-v1.yaml'));
    expect(parsed.metadata.resourceVersion).toBe('1234');
    expect(parsed.metadata.uid).toBe('6a0c5f9e-3b2a-4a43-9d0a-0d6c1c1f2b11');
    expect(ipPoolManifest(parsed).spec).toMatchObject({ futureField: 'kept' });
  });
});

describe("Calico's defaults", () => {
  it('fills what kubectl-applied objects leave out', () => {
    const parsed = parseIPPool(pool({}));
    expect(parsed.spec).toEqual({
      cidr: '192.168.0.0/16',
      blockSize: 26,
      ipipMode: 'Never',
      vxlanMode: 'Never',
      natOutgoing: false,
      disabled: false,
      disableBGPExport: false,
      nodeSelector: 'all()',
      allowedUses: ['Workload', 'Tunnel'],
      assignmentMode: 'Automatic',
    });
  });

  it('reads an empty mode as Never', () => {
    const parsed = parseIPPool(pool({ ipipMode: '', vxlanMode: '' }));
    expect([parsed.spec.ipipMode, parsed.spec.vxlanMode]).toEqual(['Never', 'Never']);
  });

  it('gives the parsed CIDR alongside the text', () => {
    expect(parseIPPool(pool({ cidr: '10.244.0.0/16' })).cidr).toEqual({ address: 0x0af40000, prefixLength: 16 });
  });
});

describe("Calico's rules, with errors that name the field", () => {
  it('refuses IPIP and VXLAN both on', () => {
    expect(issuesOf(pool({ ipipMode: 'Always', vxlanMode: 'CrossSubnet' }))['spec.vxlanMode']).toMatch(
      /cannot be CrossSubnet while ipipMode is Always.*set the other to Never/,
    );
    expect(() => parseIPPool(pool({ ipipMode: 'CrossSubnet', vxlanMode: 'Never' }))).not.toThrow();
  });

  it.each([19, 33, 0])('refuses blockSize %i and says 20 to 32 is allowed', (blockSize) => {
    expect(issuesOf(pool({ blockSize }))['spec.blockSize']).toBe(`must be between 20 and 32 for an IPv4 pool (got ${blockSize})`);
  });

  it('refuses a block larger than the pool', () => {
    expect(issuesOf(pool({ cidr: '10.0.0.0/24', blockSize: 22 }))['spec.blockSize']).toContain('a /22 block does not fit in 10.0.0.0/24');
  });

  it('refuses a CIDR with host bits, naming the masked one', () => {
    expect(issuesOf(pool({ cidr: '192.168.1.0/16' }))['spec.cidr']).toContain('did you mean 192.168.0.0/16?');
  });

  it('says plainly that IPv6 pools are not handled yet', () => {
    expect(issuesOf(pool({ cidr: 'fd00::/64' }))['spec.cidr']).toContain('IPv4 pools only');
  });

  it('lists the allowed modes for an unknown one', () => {
    expect(issuesOf(pool({ ipipMode: 'Sometimes' }))['spec.ipipMode']).toBe('must be one of Never, Always, CrossSubnet (got "Sometimes")');
  });

  it('reports every bad field at once, not just the first', () => {
    const issues = issuesOf({ apiVersion: 'v1', kind: 'IPPool', metadata: { name: 'Pool_A' }, spec: { blockSize: 40, natOutgoing: 'yes' } });
    expect(Object.keys(issues).sort()).toEqual(['apiVersion', 'metadata.name', 'spec.blockSize', 'spec.cidr', 'spec.natOutgoing']);
    expect(issues['spec.cidr']).toBe('is required');
    expect(issues['spec.natOutgoing']).toBe('must be true or false (got "yes")');
  });

  it('keeps LoadBalancer pools apart from workloads and encapsulation', () => {
    expect(issuesOf(pool({ allowedUses: ['LoadBalancer', 'Workload'] }))['spec.allowedUses']).toContain('cannot be combined');
    expect(issuesOf(pool({ allowedUses: ['LoadBalancer'], ipipMode: 'Always' }))['spec.allowedUses']).toContain('cannot have IPIP or VXLAN');
  });

  it('names the pool in the message', () => {
    expect(() => parseIPPool(pool({ blockSize: 19 }, 'edge-pool'))).toThrow(/^IPPool "edge-pool" is invalid:\n {2}spec.blockSize: /);
  });

  it('treats cidr and blockSize as immutable on update, and allows mode changes', () => {
    const before = parseIPPool(pool({ ipipMode: 'Always' }));
    expect(() => validateIPPoolUpdate(before, parseIPPool(pool({ ipipMode: 'CrossSubnet', natOutgoing: true })))).not.toThrow();
    expect(() => validateIPPoolUpdate(before, parseIPPool(pool({ cidr: '10.0.0.0/16' })))).toThrow(
      'spec.cidr: is immutable (was "192.168.0.0/16", now "10.0.0.0/16")',
    );
    expect(() => validateIPPoolUpdate(before, parseIPPool(pool({ blockSize: 24 })))).toThrow('spec.blockSize: is immutable');
  });
});
