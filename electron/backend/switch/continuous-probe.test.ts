import { describe, expect, it } from 'vitest';
import { sections } from './continuous-probe.ts';
import { pingLoss } from './ping-loss.ts';

describe("the continuous probe's output", () => {
  it('is split per destination, each counted by pingLoss', () => {
    const output = ['started', '== 192.168.2.1', '1733590000.010 1', '1733590000.020 2', '1733590000.030 3', '3 packets transmitted, 3 received, 0% packet loss, time 30ms', '== 192.168.3.1', '1733590000.010 1', '1733590000.040 4', '5 packets transmitted, 2 received, 60% packet loss, time 40ms', ''].join('\n');
    const parts = sections(output);
    expect([...parts.keys()]).toEqual(['192.168.2.1', '192.168.3.1']);
    expect(pingLoss(parts.get('192.168.2.1')!)).toMatchObject({ sent: 3, received: 3, lost: 0 });
    expect(pingLoss(parts.get('192.168.3.1')!)).toMatchObject({ lost: 2, longestGapMs: 30 });
  });
});
