import { describe, expect, it } from 'vitest';
import { emptyIPAMBlock, parseIPAMBlock } from './ipam.ts';
import { addressAt, allocate, inUse, ordinalOf, releaseHandle } from './block-allocations.ts';
import { calicoCrds } from './crds.ts';

const fresh = () => emptyIPAMBlock('192.168.1.64/26', 'worker-1').spec;

describe('allocations inside one block', () => {
  it('hands out the lowest free address first and records its handle and owner', () => {
    const first = allocate(fresh(), 'k8s-pod-network.abc', { namespace: 'default', pod: 'pod-1' })!;
    expect(addressAt('192.168.1.64/26', first.ordinal)).toBe('192.168.1.64');
    const second = allocate(first.spec, 'k8s-pod-network.def', { namespace: 'default', pod: 'pod-2' })!;
    expect(addressAt('192.168.1.64/26', second.ordinal)).toBe('192.168.1.65');
    expect(inUse(second.spec)).toEqual([
      { address: '192.168.1.64', handleId: 'k8s-pod-network.abc' },
      { address: '192.168.1.65', handleId: 'k8s-pod-network.def' },
    ]);
    expect(second.spec.unallocated).not.toContain(0);
    // What the model (and so Calico's CRD rules) accepts.
    expect(() => parseIPAMBlock({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPAMBlock', metadata: { name: '192-168-1-64-26' }, spec: second.spec })).not.toThrow();
  });

  it('frees a handle’s addresses to the back of the queue and renumbers the attributes', () => {
    let spec = fresh();
    for (const handle of ['a', 'b', 'c']) spec = allocate(spec, handle, { pod: handle })!.spec;
    const { spec: after, released } = releaseHandle(spec, 'b');
    expect(released).toEqual([1]);
    expect(after.allocations.slice(0, 3)).toEqual([0, null, 1]);
    expect(after.attributes.map((a) => a.handle_id)).toEqual(['a', 'c']);
    expect(after.unallocated.at(-1)).toBe(1);
    expect(after.unallocated).toHaveLength(62);
    // The next address is not the one just freed.
    expect(allocate(after, 'd', {})!.ordinal).toBe(3);
  });

  it('is full after the last address', () => {
    let spec = emptyIPAMBlock('10.0.0.0/30', 'n').spec;
    for (let i = 0; i < 4; i++) spec = allocate(spec, `h${i}`, {})!.spec;
    expect(allocate(spec, 'h5', {})).toBeUndefined();
    expect(ordinalOf('10.0.0.0/30', '10.0.0.3')).toBe(3);
    expect(ordinalOf('10.0.0.0/30', '10.0.0.4')).toBeUndefined();
  });
});

describe("a block calico-node made (Calico's sequence numbers are nanosecond times)", () => {
  // As calico-node v3.31.0 wrote one on the mixed lab: a new block's sequenceNumber is
  // time.Now().UnixNano(), a uint64 far beyond JavaScript's safe integers.
  const calicoMade = () => ({ ...emptyIPAMBlock('192.168.133.192/26', 'worker-2').spec, sequenceNumber: 1796287509375604000 });

  it('is read, not refused (Gingham skipped every such block, so it routed to no calico-node pod)', () => {
    expect(() => parseIPAMBlock({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPAMBlock', metadata: { name: '192-168-133-192-26' }, spec: calicoMade() })).not.toThrow();
  });

  it('gets a larger sequence number on every change, though n + 1 is n for such doubles', () => {
    const first = allocate(calicoMade(), 'a', {})!.spec;
    expect(first.sequenceNumber!).toBeGreaterThan(1796287509375604000);
    const second = releaseHandle(first, 'a').spec;
    expect(second.sequenceNumber!).toBeGreaterThan(first.sequenceNumber!);
  });

  it("leaves the generated CRD's sequenceNumber without a bound the API server cannot hold (2^64 overflowed its int64 and refused every block)", () => {
    const crd = calicoCrds().find((c) => c.spec.names.kind === 'IPAMBlock')!;
    const field = (crd.spec.versions[0]!.schema.openAPIV3Schema as { properties: { spec: { properties: Record<string, Record<string, unknown>> } } }).properties.spec.properties.sequenceNumber!;
    expect(field.maximum).toBeUndefined();
    expect(field.minimum).toBe(0);
  });

  it('still refuses a negative or fractional sequence number, or one beyond uint64', () => {
    for (const sequenceNumber of [-1, 1.5, 2 ** 65]) {
      expect(() => parseIPAMBlock({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPAMBlock', metadata: { name: '192-168-133-192-26' }, spec: { ...calicoMade(), sequenceNumber } })).toThrow(/sequenceNumber/);
    }
  });
});
