// The capture store as a ring bounded in bytes: past the bound the oldest packets go (whole
// blocks, counted), the newest stay readable byte for byte under their numbers from the start of
// the capture, the bound holds whatever the packets' sizes, and the export writes the kept packets
// and says in its comments what went.
import { describe, expect, it } from 'vitest';
import { CaptureReader } from '../../../shared/packets/capture-reader.ts';
import { exportCaptures } from './capture-export.ts';
import { PacketStore } from './packet-store.ts';

const block = 256 * 1024;

/** Packet `i`: `size` bytes, each byte i's low 8 bits, its first four bytes i itself. */
function packet(i: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size).fill(i & 0xff);
  if (size >= 4) new DataView(bytes.buffer).setUint32(0, i);
  return bytes;
}

function fill(store: PacketStore, count: number, size: (i: number) => number): void {
  for (let i = 0; i < count; i++) {
    const bytes = packet(i, size(i));
    store.add(bytes, 0, bytes.length, bytes.length + 4, 1_700_000_000 + i, i * 1000);
  }
}

describe('PacketStore', () => {
  it('keeps everything while under its bound', () => {
    const store = new PacketStore({ maxBytes: 4 * block, blockSize: block });
    fill(store, 1000, () => 100);
    expect([store.first, store.count, store.kept, store.dropped, store.bytes]).toEqual([0, 1000, 1000, 0, 100_000]);
    const p = store.get(999);
    expect(new DataView(p.bytes.buffer, p.bytes.byteOffset + p.offset).getUint32(0)).toBe(999);
    expect([p.caplen, p.origLen, p.tsSec, p.tsNsec]).toEqual([100, 104, 1_700_000_999, 999_000]);
  });

  it('past its bound drops the oldest whole blocks, counts them, and keeps the newest under their numbers', () => {
    const store = new PacketStore({ maxBytes: 4 * block, blockSize: block });
    // 1,000-byte packets: 262 to a 256 KiB block; 20 MB is 80 blocks' worth.
    fill(store, 20_000, () => 1000);
    expect(store.held).toBeLessThanOrEqual(4 * block);
    expect(store.count).toBe(20_000);
    expect(store.bytes).toBe(20_000_000);
    // Whole blocks went: the first kept packet starts a block, and the drops are counted exactly.
    expect(store.first % 262).toBe(0);
    expect(store.dropped).toBe(store.first);
    expect(store.droppedBytes).toBe(store.first * 1000);
    expect(store.kept).toBe(20_000 - store.first);
    // Three blocks' data and their numbers, within a bound of four: no fewer than two full blocks kept.
    expect(store.kept).toBeGreaterThanOrEqual(2 * 262);
    for (const n of [store.first, store.first + 1, store.first + 300, store.count - 1]) {
      const p = store.get(n);
      expect(new DataView(p.bytes.buffer, p.bytes.byteOffset + p.offset).getUint32(0)).toBe(n);
      expect(p.bytes[p.offset + 999]).toBe(n & 0xff);
      expect(p.tsSec).toBe(1_700_000_000 + n);
      expect(store.time(n)).toBe((1_700_000_000 + n) * 1e9 + n * 1000);
    }
    expect(() => store.get(store.first - 1)).toThrow(`packet ${store.first} was dropped: the store keeps the newest, from ${store.first + 1}`);
    expect(() => store.get(store.count)).toThrow('no packet 20001: the capture has 20000');
  });

  it('holds its bound for tiny packets too: their numbers count, and a block takes a bounded number of them', () => {
    const store = new PacketStore({ maxBytes: 3 * block, blockSize: block });
    // Empty records: no data at all, so only the numbers grow; 40 bytes a packet would be 4 MB.
    fill(store, 100_000, () => 0);
    expect(store.held).toBeLessThanOrEqual(3 * block);
    expect(store.dropped).toBeGreaterThan(0);
    expect(store.get(store.count - 1).tsSec).toBe(1_700_000_000 + 99_999);
  });

  it('holds its bound for mixed sizes, up to whole 262,144-byte packets', () => {
    const store = new PacketStore({ maxBytes: 3 * block, blockSize: block });
    let peak = 0;
    for (let i = 0; i < 2000; i++) {
      const size = [60, 1514, 262_144, 9000][i % 4]!;
      const bytes = packet(i, size);
      store.add(bytes, 0, size, size, i, 0);
      peak = Math.max(peak, store.held);
    }
    expect(peak).toBeLessThanOrEqual(3 * block);
    expect(store.get(1999).caplen).toBe(9000);
    expect(store.get(1998).caplen).toBe(262_144);
  });

  it('refuses a bound that cannot hold the block being filled', () => {
    expect(() => new PacketStore({ maxBytes: 2 * block, blockSize: block })).toThrow(RangeError);
    expect(() => new PacketStore({ maxBytes: 16 * block, blockSize: 1024 })).toThrow(RangeError);
  });

  it('exports the kept packets, and pcapng says how many the console and the kernel dropped', () => {
    const store = new PacketStore({ maxBytes: 3 * block, blockSize: block });
    fill(store, 5000, () => 1000);
    const source = { store, linkType: 1, snapLen: 262144, node: 'worker-1', iface: 'ens5', filter: 'udp', kernelDropped: 42 };
    const file = exportCaptures([source], 'pcapng', new Date('2026-12-08T00:00:00Z'));
    expect(file.packets).toBe(store.kept);
    const reader = new CaptureReader();
    const firstWords: number[] = [];
    reader.push(Buffer.concat(file.parts), (p) => firstWords.push(new DataView(p.bytes.buffer, p.bytes.byteOffset + p.offset).getUint32(0)));
    expect(firstWords).toEqual(Array.from({ length: store.kept }, (_, i) => store.first + i));
    const loss = `the console dropped the oldest ${store.dropped} packets (${store.droppedBytes} bytes) to stay within its 1 MiB bound: packets ${store.first + 1}-5000 are here; the node's kernel dropped 42 packets (tcpdump's count)`;
    expect(reader.interfaces[0]!.comment).toBe(`node worker-1, interface ens5, capture filter "udp"; ${loss}`);
    const pcap = exportCaptures([source], 'pcap');
    expect(pcap.packets).toBe(store.kept);
  });
});
