import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Utf8Chunker, completePrefixLength } from './utf8-chunks.ts';

const encode = (s: string) => new TextEncoder().encode(s);
const strict = new TextDecoder('utf-8', { fatal: true });

describe('completePrefixLength', () => {
  it('holds back a character cut after its first byte', () => {
    const bytes = encode('a€'); // € is E2 82 AC
    expect(completePrefixLength(bytes.subarray(0, 2))).toBe(1);
    expect(completePrefixLength(bytes.subarray(0, 3))).toBe(1);
    expect(completePrefixLength(bytes)).toBe(4);
  });

  it('holds back a 4-byte emoji cut anywhere inside', () => {
    const bytes = encode('x😀'); // F0 9F 98 80
    for (let end = 2; end < 5; end++) expect(completePrefixLength(bytes, end)).toBe(1);
    expect(completePrefixLength(bytes, 5)).toBe(5);
  });

  it('passes invalid bytes on instead of holding them forever', () => {
    expect(completePrefixLength(Uint8Array.of(0x61, 0xff))).toBe(2);
    expect(completePrefixLength(Uint8Array.of(0x80, 0x80, 0x80, 0x80))).toBe(4);
  });
});

describe('Utf8Chunker', () => {
  it('never emits a chunk that splits a character, whatever the read boundaries', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 150 }),
        fc.array(fc.nat(40), { maxLength: 20 }),
        fc.integer({ min: 4, max: 64 }),
        (text, cuts, maxChunk) => {
          const bytes = encode(text);
          const chunker = new Utf8Chunker(maxChunk);
          let decoded = '';
          let at = 0;
          for (const cut of [...cuts, bytes.length]) {
            const next = Math.min(bytes.length, at + cut);
            for (const chunk of chunker.push(bytes.subarray(at, next))) {
              if (chunk.length > maxChunk) return false;
              decoded += strict.decode(chunk); // throws on a split character
            }
            at = next;
          }
          return chunker.flush().length === 0 && decoded === text;
        },
      ),
      { numRuns: 150 },
    );
  }, 20_000); // a property test: generous for a busy CI machine

  it('returns an incomplete tail on flush when the stream ends mid-character', () => {
    const chunker = new Utf8Chunker();
    expect(chunker.push(Uint8Array.of(0x41, 0xe2, 0x82)).map((c) => [...c])).toEqual([[0x41]]);
    expect(chunker.held).toBe(2);
    expect([...chunker.flush()]).toEqual([0xe2, 0x82]);
  });
});
