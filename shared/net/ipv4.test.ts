import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { NetParseError, formatIPv4, isIPv4, parseIPv4, prefixMask } from './ipv4.ts';

describe('parseIPv4', () => {
  it('reads dotted quads as 32-bit numbers', () => {
    expect(parseIPv4('0.0.0.0')).toBe(0);
    expect(parseIPv4('10.240.1.11')).toBe(0x0af0010b);
    expect(parseIPv4('255.255.255.255')).toBe(0xffffffff);
  });

  it.each([
    ['10.240.1', 'four decimal octets'],
    ['10.240.1.11.5', 'four decimal octets'],
    ['256.1.1.1', 'above 255'],
    ['10.240.01.11', 'leading zero'],
    ['10.240.1.-1', 'must be a number from 0 to 255'],
    ['10.240.1.1 ', 'must be a number from 0 to 255'],
    ['', 'four decimal octets'],
    ['a.b.c.d', 'must be a number from 0 to 255'],
    ['1e1.0.0.0', 'must be a number from 0 to 255'],
  ])('refuses %j, naming the input and saying %s', (input, reason) => {
    expect(() => parseIPv4(input)).toThrow(NetParseError);
    expect(() => parseIPv4(input)).toThrow(JSON.stringify(input));
    expect(() => parseIPv4(input)).toThrow(reason);
  });

  it('round-trips every address through formatIPv4', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (address) => {
        expect(parseIPv4(formatIPv4(address))).toBe(address);
      }),
    );
  });

  it('agrees with fast-check’s own IPv4 generator and never throws anything but NetParseError', () => {
    fc.assert(fc.property(fc.ipV4(), (text) => { expect(isIPv4(text)).toBe(true); }));
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          parseIPv4(text);
        } catch (error) {
          expect(error).toBeInstanceOf(NetParseError);
        }
      }),
    );
  });

  it('refuses the non-canonical forms fast-check generates (octal, hex, shorthand)', () => {
    fc.assert(
      fc.property(fc.ipV4Extended(), (text) => {
        expect(isIPv4(text)).toBe(/^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/.test(text) && text.split('.').every((o) => Number(o) <= 255));
      }),
    );
  });
});

describe('prefixMask', () => {
  it('covers /0 and /32 without shift overflow', () => {
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(24)).toBe(0xffffff00);
    expect(prefixMask(32)).toBe(0xffffffff);
  });
});
