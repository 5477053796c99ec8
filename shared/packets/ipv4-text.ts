// Dotted-quad text for IPv4 addresses held as numbers. A capture repeats the same few addresses
// millions of times, so the text is cached in a small direct-mapped table: one array read and one
// compare instead of building a string per packet.

const size = 4096;
const keys = new Float64Array(size).fill(-1);
const texts: string[] = new Array<string>(size).fill('');

export function ipv4Text(address: number): string {
  const slot = (address ^ (address >>> 12) ^ (address >>> 20)) & (size - 1);
  if (keys[slot] === address) return texts[slot]!;
  const text = `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`;
  keys[slot] = address;
  texts[slot] = text;
  return text;
}

export function macText(b: Uint8Array, o: number): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + (b[o + i]! < 16 ? '0' : '') + b[o + i]!.toString(16);
  return s;
}
