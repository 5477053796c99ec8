import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  containsAddress,
  containsCidr,
  formatCidr,
  isCidr,
  nthBlock,
  overlaps,
  parseCidr,
  parseInterfaceAddress,
  subnetOf,
  formatInterfaceAddress,
  type Cidr,
} from './cidr.ts';
import { NetParseError, parseIPv4, prefixMask } from './ipv4.ts';
import { sameSubnet } from './cross-subnet.ts';

const cidrArb = fc
  .record({ address: fc.integer({ min: 0, max: 0xffffffff }), prefixLength: fc.integer({ min: 0, max: 32 }) })
  .map(({ address, prefixLength }): Cidr => ({ address: (address & prefixMask(prefixLength)) >>> 0, prefixLength }));

describe('parseCidr', () => {
  it('reads pool and block CIDRs', () => {
    expect(parseCidr('192.168.0.0/16')).toEqual({ address: parseIPv4('192.168.0.0'), prefixLength: 16 });
    expect(formatCidr(parseCidr('192.168.1.64/26'))).toBe('192.168.1.64/26');
    expect(parseCidr('0.0.0.0/0').prefixLength).toBe(0);
    expect(parseCidr('10.0.0.1/32').prefixLength).toBe(32);
  });

  it('refuses host bits and names the masked CIDR the user probably meant', () => {
    expect(() => parseCidr('192.168.1.1/24')).toThrow('"192.168.1.1/24" has host bits set: did you mean 192.168.1.0/24?');
  });

  it.each([
    ['192.168.0.0', 'has no prefix length'],
    ['192.168.0.0/33', '33 is above 32'],
    ['192.168.0.0/-1', 'bad prefix length'],
    ['192.168.0.0/016', 'bad prefix length'],
    ['192.168.0.0/', 'bad prefix length'],
    ['192.168.0.0/1a', 'bad prefix length'],
    ['192.168.00.0/16', 'leading zero'],
    ['300.168.0.0/16', 'above 255'],
  ])('refuses %j (%s)', (input, reason) => {
    expect(() => parseCidr(input)).toThrow(NetParseError);
    expect(() => parseCidr(input)).toThrow(reason);
  });

  it('round-trips every masked prefix', () => {
    fc.assert(fc.property(cidrArb, (cidr) => { expect(parseCidr(formatCidr(cidr))).toEqual(cidr); }));
  });

  it('accepts exactly the strings whose host bits are clear', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (ip, length) => {
        const address = parseIPv4(ip);
        const masked = ((address & prefixMask(length)) >>> 0) === address;
        expect(isCidr(`${ip}/${length}`)).toBe(masked);
      }),
    );
  });
});

describe('interface addresses', () => {
  it('keep their host bits and know their subnet', () => {
    const node = parseInterfaceAddress('10.240.1.11/24');
    expect(formatInterfaceAddress(node)).toBe('10.240.1.11/24');
    expect(formatCidr(subnetOf(node))).toBe('10.240.1.0/24');
  });

  it('need a prefix length', () => {
    expect(() => parseInterfaceAddress('10.240.1.11')).toThrow('has no prefix length: write it as 10.240.1.11/24');
  });
});

describe('containment and overlap', () => {
  const pool = parseCidr('192.168.0.0/16');
  it('knows which blocks and addresses lie in a pool', () => {
    expect(containsCidr(pool, parseCidr('192.168.1.64/26'))).toBe(true);
    expect(containsCidr(pool, parseCidr('192.169.0.0/26'))).toBe(false);
    expect(containsCidr(parseCidr('192.168.1.64/26'), pool)).toBe(false);
    expect(containsAddress(pool, parseIPv4('192.168.255.255'))).toBe(true);
    expect(containsAddress(pool, parseIPv4('192.169.0.0'))).toBe(false);
    expect(containsAddress(parseCidr('0.0.0.0/0'), parseIPv4('8.8.8.8'))).toBe(true);
  });

  it('overlap is symmetric and equals containment one way or the other', () => {
    fc.assert(
      fc.property(cidrArb, cidrArb, (a, b) => {
        expect(overlaps(a, b)).toBe(overlaps(b, a));
        expect(overlaps(a, b)).toBe(containsCidr(a, b) || containsCidr(b, a));
        expect(containsCidr(a, a)).toBe(true);
      }),
    );
  });

  it('numbers the blocks of a pool', () => {
    expect(formatCidr(nthBlock(pool, 26, 0))).toBe('192.168.0.0/26');
    expect(formatCidr(nthBlock(pool, 26, 5))).toBe('192.168.1.64/26');
    expect(formatCidr(nthBlock(pool, 26, 1023))).toBe('192.168.255.192/26');
    expect(() => nthBlock(pool, 26, 1024)).toThrow('has 1024 blocks of /26');
    expect(() => nthBlock(pool, 8, 0)).toThrow('does not fit');
  });
});

describe('sameSubnet (CrossSubnet)', () => {
  const worker1 = parseInterfaceAddress('10.240.1.11/24');
  it('is true for a node in this node’s subnet and false across subnets, as in the seed', () => {
    expect(sameSubnet(worker1, parseIPv4('10.240.1.12'))).toBe(true);
    expect(sameSubnet(worker1, parseIPv4('10.240.2.13'))).toBe(false);
  });

  it('always encapsulates when this node registered a /32 (calico#4254)', () => {
    expect(sameSubnet(parseInterfaceAddress('10.240.1.11/32'), parseIPv4('10.240.1.12'))).toBe(false);
    expect(sameSubnet(parseInterfaceAddress('10.240.1.11/32'), parseIPv4('10.240.1.11'))).toBe(false);
  });
});
