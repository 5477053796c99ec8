import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { NetParseError, formatIPv4, isIPv4, maskPrefixLength, parseIPv4, prefixMask } from './ipv4.ts';

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

describe('parseIPv4 fast path', () => {
  // The rule as the strict parse states it: four dot-separated decimal octets, 0-255, no leading zero.
  const reference = (input: string): number | undefined => {
    const parts = input.split('.');
    if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && !(p.length > 1 && p.startsWith('0')) && Number(p) <= 255)) return undefined;
    return parts.reduce((v, p) => v * 256 + Number(p), 0);
  };
  const attempt = (input: string) => {
    try {
      return parseIPv4(input);
    } catch {
      return undefined;
    }
  };

  it('accepts and refuses exactly what the strict rule does, with the same value', () => {
    const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('', '0', '00', '01', '255', '256', '1000', 'a', ' 1', '1 ', '-1', '+1', '１'));
    const address = fc.oneof(
      fc.array(octet, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.')),
      fc.string({ maxLength: 16 }),
      fc.stringMatching(/^[0-9.]{0,16}$/),
    );
    fc.assert(fc.property(address, (input) => {
      expect(attempt(input)).toBe(reference(input));
    }), { numRuns: 20_000 });
    for (const edge of ['0.0.0.0', '255.255.255.255', '10.240.1.11', '1.2.3.4.', '.1.2.3', '1..2.3', '1.2.3', '256.0.0.0', '01.2.3.4', '1.2.3.04', '1.2.3.4 ']) expect(attempt(edge)).toBe(reference(edge));
  });

  it('keeps the strict parse’s explanation for a bad address', () => {
    expect(() => parseIPv4('10.240.01.1')).toThrow(/leading zero/);
    expect(() => parseIPv4('10.240.1.256')).toThrow(/above 255/);
  });
});

describe('maskPrefixLength', () => {
  it("reads route -n's Genmask back as the prefix length it came from, /0 to /32", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 32 }), (length) => maskPrefixLength(formatIPv4(prefixMask(length))) === length));
  });
  it('refuses what is no address', () => {
    expect(() => maskPrefixLength('255.255.255')).toThrow(NetParseError);
  });
});
