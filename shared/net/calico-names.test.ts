import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { blockAffinityName, blockName, caliInterfaceName, vxlanMacForNode } from './calico-names.ts';
import { ipipMtu, podMtu, vxlanMtu } from './mtu.ts';

describe("Calico's names", () => {
  it('names IPAM blocks and affinities as Calico names them', () => {
    expect(blockName('192.168.1.64/26')).toBe('192-168-1-64-26');
    expect(blockName('fd00:10::/122')).toBe('fd00-10---122');
    expect(blockAffinityName('worker-1', '192.168.1.64/26')).toBe('worker-1-192-168-1-64-26');
  });

  // Expected values computed outside the product with coreutils: printf 'default.pod-1' | sha1sum
  it('names a pod’s veth cali + 11 hex digits of SHA1(namespace.pod)', () => {
    expect(caliInterfaceName('default', 'pod-1')).toBe('cali83dbd022cd5');
    expect(caliInterfaceName('default', 'pod-1')).toHaveLength(15); // IFNAMSIZ - 1
  });

  // printf 'worker-1' | sha1sum -> 937f54d5530d...
  it('derives a node’s VXLAN MAC as 0x66 then the first five bytes of SHA1(name)', () => {
    expect(vxlanMacForNode('worker-1')).toBe('66:93:7f:54:d5:53');
    expect(vxlanMacForNode('master')).toBe('66:4f:26:ae:af:db');
  });

  it('agrees with Node’s SHA1 for any name', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 63 }), fc.string({ minLength: 1, maxLength: 63 }), (ns, pod) => {
        const hex = createHash('sha1').update(`${ns}.${pod}`).digest('hex');
        expect(caliInterfaceName(ns, pod)).toBe('cali' + hex.slice(0, 11));
        const mac = createHash('sha1').update(pod).digest().subarray(0, 5);
        expect(vxlanMacForNode(pod)).toBe(['66', ...[...mac].map((b) => b.toString(16).padStart(2, '0'))].join(':'));
      }),
    );
  });
});

describe('tunnel MTUs', () => {
  it('are 1480 for IPIP and 1450 for VXLAN on a 1500 network, and the pod takes the smallest', () => {
    expect(ipipMtu(1500)).toBe(1480);
    expect(vxlanMtu(1500)).toBe(1450);
    expect(podMtu(1500, { ipip: true, vxlan: false })).toBe(1480);
    expect(podMtu(1500, { ipip: true, vxlan: true })).toBe(1450);
    expect(podMtu(9001, { ipip: false, vxlan: false })).toBe(9001);
  });
});
