// Backpressure on sending: a peer that stops reading (its TCP window at zero) must not make the
// speaker buffer UPDATEs without limit while routes keep changing, and once it reads again it
// gets the routes as they are now. A real speaker and a raw peer over loopback (no root).
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { EXTENDED_MAX_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH, MessageType } from './codec/constants.ts';
import { decodeMessage } from './codec/message.ts';
import { validateConfig } from './config.ts';
import { SEND_BUFFER_LIMIT } from './route-export.ts';
import { Speaker } from './speaker.ts';
import { RawConnection } from './testing/raw-peer.ts';

const log = pino({ level: 'silent' });
const running: Speaker[] = [];
const raws: RawConnection[] = [];

afterEach(async () => {
  for (const r of raws.splice(0)) r.close();
  await Promise.all(running.splice(0).map((s) => s.stop({ withdraw: true })));
});

const tick = () => new Promise((r) => setImmediate(r));

describe('send backpressure', () => {
  it('a peer that does not read: the speaker\'s send buffer stays bounded while routes flap, and the peer ends with the routes as they are', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const speaker = new Speaker(validateConfig({ routerId: '127.0.0.1', listen: `127.0.0.1:${port}`, peers: [{ address: '127.0.0.2', passive: true }] }), log);
    await speaker.start();
    running.push(speaker);
    const raw = await RawConnection.dial('127.0.0.1', port, '127.0.0.2');
    raws.push(raw);
    await raw.establish('127.0.0.2');
    // The peer stops reading: the kernel's buffers fill, then everything waits in the speaker.
    raw.socket.pause();

    const N = 20_000;
    const prefix = (i: number) => (0x0a000000 + i * 256) >>> 0;
    let peak = 0;
    // 150 rounds of 10k withdrawals and 10k announcements: about 12 MB of UPDATEs, more than the kernel buffers.
    for (let round = 0; round < 150; round++) {
      for (let i = 0; i < N; i++) speaker.announce(prefix(i), 24);
      await tick();
      for (let i = 0; i < N; i += 2) speaker.withdraw(prefix(i), 24);
      await tick();
      peak = Math.max(peak, speaker.peers[0]!.established!.socket!.writableLength);
    }
    for (let i = 0; i < N; i += 2) speaker.announce(prefix(i), 24);
    await tick();
    peak = Math.max(peak, speaker.peers[0]!.established!.socket!.writableLength);
    // Bounded: the limit and at most one batch over it (without backpressure: over 10 MB here).
    expect(peak).toBeLessThan(SEND_BUFFER_LIMIT + 8 * MAX_MESSAGE_LENGTH);

    raw.socket.resume();
    const announced = new Set<number>();
    for (;;) {
      const m = await raw.next(1500).catch(() => undefined);
      if (!m) break;
      if (m.type !== MessageType.Update) continue;
      const header = Buffer.alloc(19, 0xff);
      header.writeUInt16BE(19 + m.body.length, 16);
      header[18] = m.type;
      const d = decodeMessage(Buffer.concat([header, m.body]), { as4: true, addPath: false, ebgp: false, maxLength: EXTENDED_MAX_MESSAGE_LENGTH }); // both offer extended messages
      if (!d.ok || d.value.type !== MessageType.Update) throw new Error(`bad UPDATE: ${JSON.stringify(d.ok ? d.value.type : d.error)}`);
      for (const w of d.value.update.withdrawn) announced.delete(w.address);
      for (const n of d.value.update.nlri) announced.add(n.address);
    }
    expect(announced.size).toBe(N);
    expect(speaker.status().peers[0]!.advertised).toBe(N);
  }, 60_000);
});
