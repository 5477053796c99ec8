// UTF-8 for the few strings captures carry (pcapng interface names, filters, comments). shared/
// compiles without DOM or Node types, so TextEncoder is not declared here; these are short strings.

export function utf8Encode(value: string): Uint8Array {
  const out: number[] = [];
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return Uint8Array.from(out);
}

/** Decodes UTF-8; a malformed sequence becomes U+FFFD rather than an exception. */
export function utf8Decode(b: Uint8Array, start: number, end: number): string {
  let s = '';
  let i = start;
  while (i < end) {
    const c = b[i]!;
    let cp = 0xfffd;
    let n = 1;
    if (c < 0x80) cp = c;
    else if (c >= 0xc2 && c < 0xe0 && i + 1 < end) [cp, n] = [((c & 0x1f) << 6) | (b[i + 1]! & 0x3f), 2];
    else if (c >= 0xe0 && c < 0xf0 && i + 2 < end) [cp, n] = [((c & 0x0f) << 12) | ((b[i + 1]! & 0x3f) << 6) | (b[i + 2]! & 0x3f), 3];
    else if (c >= 0xf0 && c < 0xf5 && i + 3 < end)
      [cp, n] = [((c & 0x07) << 18) | ((b[i + 1]! & 0x3f) << 12) | ((b[i + 2]! & 0x3f) << 6) | (b[i + 3]! & 0x3f), 4];
    if (cp > 0x10ffff) cp = 0xfffd;
    s += String.fromCodePoint(cp);
    i += n;
  }
  return s;
}
