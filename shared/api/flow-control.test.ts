import { describe, expect, it } from 'vitest';
import { FlowWindow } from './flow-control.ts';

describe('FlowWindow', () => {
  it('pauses the source once the unacknowledged bytes reach the high-water mark, once', () => {
    const window = new FlowWindow({ highWater: 100, lowWater: 20 });
    expect(window.sent(60)).toBe(false);
    expect(window.sent(40)).toBe(true);
    expect(window.sent(50)).toBe(false); // already paused: no second pause signal
    expect(window.isPaused).toBe(true);
    expect(window.outstanding).toBe(150);
  });

  it('resumes only when acks bring the backlog down to the low-water mark', () => {
    const window = new FlowWindow({ highWater: 100, lowWater: 20 });
    window.sent(120);
    expect(window.acked(90)).toBe(false); // 30 outstanding, still above low water
    expect(window.acked(10)).toBe(true);
    expect(window.isPaused).toBe(false);
    expect(window.acked(20)).toBe(false); // not paused: nothing to resume
  });

  it('ignores acks for bytes never sent, so a peer cannot widen the window', () => {
    const window = new FlowWindow({ highWater: 100, lowWater: 20 });
    window.sent(10);
    window.acked(1_000_000);
    expect(window.outstanding).toBe(0);
    expect(window.sent(100)).toBe(true);
  });

  it('rejects a low-water mark that is not below the high-water mark', () => {
    expect(() => new FlowWindow({ highWater: 10, lowWater: 10 })).toThrow(RangeError);
  });
});
