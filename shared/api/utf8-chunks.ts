// Splitting a byte stream into chunks without cutting a UTF-8 character in two. A terminal that
// decodes each network read on its own shows U+FFFD wherever a multi-byte character straddles two
// reads; holding back an incomplete tail until the next read avoids that (Tabby does the same).

/** How many bytes a UTF-8 sequence starting with `lead` has, or 0 for a continuation or invalid byte. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/**
 * The length of the longest prefix of `bytes[0..end)` that does not end inside a UTF-8 character.
 * Only a truncated but otherwise plausible sequence at the very end is held back; invalid bytes
 * are passed on (the decoder shows them as U+FFFD, which is the truth about them).
 */
export function completePrefixLength(bytes: Uint8Array, end: number = bytes.length): number {
  // A character is at most 4 bytes, so only the last 3 bytes can start an incomplete one.
  for (let back = 1; back <= 3 && back <= end; back++) {
    const byte = bytes[end - back]!;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const needed = sequenceLength(byte);
    return needed > back ? end - back : end;
  }
  return end;
}

/**
 * Accumulates bytes and hands out chunks of at most `maxChunk` bytes, each ending on a character
 * boundary. The incomplete tail stays inside until more bytes complete it.
 */
export class Utf8Chunker {
  private pending: Uint8Array = new Uint8Array(0);

  constructor(private readonly maxChunk = 64 * 1024) {
    if (maxChunk < 4) throw new RangeError('maxChunk must hold at least one character (4 bytes).');
  }

  /** Adds bytes and returns the complete chunks now available. */
  push(bytes: Uint8Array): Uint8Array[] {
    const all = this.pending.length === 0 ? bytes : concat(this.pending, bytes);
    const chunks: Uint8Array[] = [];
    let start = 0;
    while (start < all.length) {
      const end = Math.min(all.length, start + this.maxChunk);
      const cut = completePrefixLength(all.subarray(start, end));
      if (cut === 0) break; // only an incomplete character is left
      chunks.push(all.subarray(start, start + cut));
      start += cut;
    }
    this.pending = all.slice(start);
    return chunks;
  }

  /** Bytes held back because they end inside a character. */
  get held(): number {
    return this.pending.length;
  }

  /** The stream ended: whatever is held back is returned as is (it can never be completed). */
  flush(): Uint8Array {
    const rest = this.pending;
    this.pending = new Uint8Array(0);
    return rest;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
