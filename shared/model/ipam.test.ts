import { describe, expect, it } from 'vitest';
import { calicoCrds } from './crds.ts';
import { emptyIPAMBlock, handleIds, parseBlockAffinity, parseIPAMBlock, parseIPAMConfig, parseIPAMHandle } from './ipam.ts';
import { CrdValidator } from './testing/crd-validator.ts';

describe('IPAMBlock', () => {
  it('is created as Calico creates one: named for its CIDR, every address free', () => {
    const block = parseIPAMBlock({ kind: 'IPAMBlock', ...emptyIPAMBlock('192.168.1.64/26', 'worker-1') });
    expect(block.metadata.name).toBe('192-168-1-64-26');
    expect(block.spec.affinity).toBe('host:worker-1');
    expect(block.spec.allocations).toHaveLength(64);
    expect(block.spec.unallocated).toEqual(Array.from({ length: 64 }, (_, i) => i));
  });

  it('checks that allocations, attributes and free list agree', () => {
    const block = emptyIPAMBlock('192.168.1.64/30', 'worker-1');
    const spec = { ...block.spec, allocations: [0, null, 3, null], unallocated: [1, 0, 1, 9], attributes: [{ handle_id: 'ipip-tunnel-addr-worker-1' }] };
    expect(() => parseIPAMBlock({ kind: 'IPAMBlock', ...block, spec })).toThrow(
      /spec\.allocations\[2\]: refers to attribute 3, but there are only 1\n.*spec\.unallocated\[1\]: lists address 0 as free, but it is allocated\n.*spec\.unallocated\[2\]: lists address 1 twice\n.*spec\.unallocated\[3\]: is 9, outside the block's 4 addresses/,
    );
    expect(() => parseIPAMBlock({ kind: 'IPAMBlock', ...block, spec: { ...block.spec, allocations: [null] } })).toThrow(
      'spec.allocations: must have one entry per address of 192.168.1.64/30 (4), got 1',
    );
  });

  it('must carry Calico’s name for its CIDR when stored as a CRD', () => {
    const block = emptyIPAMBlock('192.168.1.64/26', 'worker-1');
    expect(() => parseIPAMBlock({ kind: 'IPAMBlock', ...block, metadata: { name: 'my-block' } })).toThrow(
      'metadata.name: must be 192-168-1-64-26',
    );
  });
});

describe('BlockAffinity and IPAMHandle', () => {
  it('read Calico’s shapes, with deleted as a string', () => {
    const affinity = parseBlockAffinity({
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'BlockAffinity',
      metadata: { name: 'worker-1-192-168-1-64-26' },
      spec: { node: 'worker-1', cidr: '192.168.1.64/26', state: 'confirmed', deleted: 'false' },
    });
    expect(affinity.spec.state).toBe('confirmed');
    expect(() => parseBlockAffinity({ ...affinity, kind: 'BlockAffinity', spec: { ...affinity.spec, deleted: false } })).toThrow(
      'spec.deleted: must be one of "true", "false"',
    );
    expect(() => parseBlockAffinity({ ...affinity, kind: 'BlockAffinity', metadata: { name: 'worker-2-192-168-1-64-26' } })).toThrow(
      'must be worker-1-192-168-1-64-26',
    );
    const handle = parseIPAMHandle({
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'IPAMHandle',
      metadata: { name: handleIds.ipipTunnel('worker-1') },
      spec: { handleID: handleIds.ipipTunnel('worker-1'), block: { '192.168.1.64/26': 1 } },
    });
    expect(handle.spec.block).toEqual({ '192.168.1.64/26': 1 });
    expect(handleIds.pod('abc123')).toBe('k8s-pod-network.abc123');
  });
});

describe('IPAMConfig', () => {
  const config = (spec: Record<string, unknown>, name = 'default') => ({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPAMConfig', metadata: { name }, spec });
  const crd = new CrdValidator(calicoCrds().find((d) => d.spec.names.kind === 'IPAMConfig')!);

  it("is Calico's `default` object, which both the model and the generated CRD accept", () => {
    const sample = config({ strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: 4 });
    expect(parseIPAMConfig(sample).spec).toEqual({ strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: 4 });
    expect(crd.check(sample).errors).toEqual([]);
  });

  it('needs both booleans, a cap of 0 or more, and the name default', () => {
    expect(() => parseIPAMConfig(config({ strictAffinity: true }))).toThrow(/autoAllocateBlocks/);
    expect(crd.check(config({ strictAffinity: true })).errors.join(' ')).toMatch(/autoAllocateBlocks/);
    expect(crd.check(config({ strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: -1 })).errors).not.toEqual([]);
    expect(() => parseIPAMConfig(config({ strictAffinity: false, autoAllocateBlocks: true }, 'mine'))).toThrow(/must be default/);
  });
});
