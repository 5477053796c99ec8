import { describe, expect, it } from 'vitest';
import { pingLoss } from './ping-loss.ts';

const replies = (seqs: number[], start = 1700000000, interval = 0.01) => seqs.map((s) => `${(start + s * interval).toFixed(6)} ${s}`).join('\n');
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('pingLoss', () => {
  it('counts nothing lost when every packet got its reply (the last two may be on their way at the stop)', () => {
    expect(pingLoss(`${replies(range(1, 498))}\n500 packets transmitted, 498 received, 0.4% packet loss, time 5000ms\n`)).toEqual({ sent: 498, received: 498, lost: 0, longestGapMs: 10, longestGapAt: 1700000000010 });
  });

  it('counts every sequence number without a reply, and the gap they made', () => {
    const seqs = [...range(1, 100), ...range(108, 300)];
    expect(pingLoss(`${replies(seqs)}\n300 packets transmitted, 293 received\n`)).toMatchObject({ lost: 7, longestGapMs: 80, longestGapAt: 1700000001000 });
  });

  it('counts a pair that stopped answering before the end, and one that never answered', () => {
    expect(pingLoss(`${replies(range(1, 100))}\n400 packets transmitted, 100 received\n`)).toMatchObject({ sent: 398, lost: 298 });
    expect(pingLoss('250 packets transmitted, 0 received, 100% packet loss\n')).toEqual({ sent: 248, received: 0, lost: 248, longestGapMs: 0 });
  });

  it('counts a duplicate reply once', () => {
    expect(pingLoss(`${replies([1, 2, 2, 3])}\n3 packets transmitted, 3 received, +1 duplicates\n`)).toMatchObject({ received: 3, lost: 0 });
  });
});
