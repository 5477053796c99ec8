import { describe, expect, it } from 'vitest';
import { retryThrottled } from './retry-throttled.ts';

const throttled = (headers: Record<string, string> = {}) => Object.assign(new Error('HTTP-Code: 429'), { code: 429, headers });

describe('retryThrottled', () => {
  it('tries a 429 again after Retry-After (1 s without it, at most 5 s), then answers', async () => {
    const waits: number[] = [];
    let calls = 0;
    const answer = await retryThrottled(
      async () => {
        calls++;
        if (calls === 1) throw throttled({ 'retry-after': '2' });
        if (calls === 2) throw throttled();
        if (calls === 3) throw throttled({ 'retry-after': '60' });
        return 'items';
      },
      { wait: async (ms) => void waits.push(ms) },
    );
    expect(answer).toBe('items');
    expect(waits).toEqual([2000, 1000, 5000]);
  });

  it('gives up after the last try, and never retries another error', async () => {
    let calls = 0;
    await expect(retryThrottled(async () => (calls++, Promise.reject(throttled())), { tries: 3, wait: async () => {} })).rejects.toThrow('429');
    expect(calls).toBe(3);
    calls = 0;
    await expect(retryThrottled(async () => (calls++, Promise.reject(Object.assign(new Error('not found'), { code: 404 }))), { tries: 3, wait: async () => {} })).rejects.toThrow('not found');
    expect(calls).toBe(1);
  });

  it('tries a 503 again too, at the pace the caller gives', async () => {
    const waits: number[] = [];
    let calls = 0;
    const unavailable = Object.assign(new Error('storage is (re)initializing'), { code: 503, headers: { 'retry-after': '1' } });
    const answer = await retryThrottled(async () => (++calls < 3 ? Promise.reject(unavailable) : 'items'), { tries: 25, fallbackMs: 200, maxWaitMs: 200, wait: async (ms) => void waits.push(ms) });
    expect(answer).toBe('items');
    expect(waits).toEqual([200, 200]);
  });
});
