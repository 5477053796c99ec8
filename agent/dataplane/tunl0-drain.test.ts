import { describe, expect, it } from 'vitest';
import { DrainingNextHops } from './tunl0-drain.ts';

const toWorker1 = { dst: '192.168.0.64/26', gateway: '10.240.1.11' };
const toWorker2 = { dst: '192.168.0.128/26', gateway: '10.240.1.12' };

describe("the user-space tunl0's next hops while its queue drains", () => {
  it('keeps a next hop the routes left for the drain time, then drops it', () => {
    const drain = new DrainingNextHops(1000);
    // The pass moved worker-2's block to vxlan.calico: packets routed to tunl0 just before are still queued.
    expect(drain.table([toWorker1, toWorker2], [toWorker1], 10_000)).toEqual([toWorker1, toWorker2]);
    expect(drain.nextExpiry()).toBe(11_000);
    expect(drain.table([toWorker1, toWorker2], [toWorker1], 10_999)).toEqual([toWorker1, toWorker2]);
    expect(drain.table([toWorker1, toWorker2], [toWorker1], 11_000)).toEqual([toWorker1]);
    expect(drain.nextExpiry()).toBeUndefined();
  });

  it('counts the drain from when the routes left, not from each later pass', () => {
    const drain = new DrainingNextHops(1000);
    drain.table([toWorker1, toWorker2], [toWorker1], 0);
    // A later pass, with the helper still holding the leaving next hop, does not renew it.
    expect(drain.table([toWorker1, toWorker2], [toWorker1], 600)).toEqual([toWorker1, toWorker2]);
    expect(drain.nextExpiry()).toBe(1000);
    expect(drain.table([toWorker1, toWorker2], [toWorker1], 1000)).toEqual([toWorker1]);
  });

  it('a next hop wanted again stops draining, and leaves anew the next time', () => {
    const drain = new DrainingNextHops(1000);
    drain.table([toWorker1, toWorker2], [toWorker1], 0);
    expect(drain.table([toWorker1, toWorker2], [toWorker1, toWorker2], 500)).toEqual([toWorker1, toWorker2]);
    expect(drain.nextExpiry()).toBeUndefined();
    drain.table([toWorker1, toWorker2], [toWorker1], 2000);
    expect(drain.nextExpiry()).toBe(3000);
  });

  it('with no route left on tunl0, the last next hops still drain (the helper stops after)', () => {
    const drain = new DrainingNextHops(1000);
    expect(drain.table([toWorker1, toWorker2], [], 0)).toEqual([toWorker1, toWorker2]);
    expect(drain.table([toWorker1, toWorker2], [], 1000)).toEqual([]);
    drain.table([toWorker1], [], 1500);
    drain.clear();
    expect(drain.nextExpiry()).toBeUndefined();
  });
});
