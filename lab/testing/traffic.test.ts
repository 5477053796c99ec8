// iperf3's interval lines as the fault figures read them: bytes received per interval, the longest
// run of empty intervals, the summary lines left out, a refused or reset stream marked broken.
import { describe, expect, it } from 'vitest';
import { streamFigures } from './traffic.ts';

const interval = (from: number, bytes: string) => `[  5]   ${from.toFixed(2)}-${(from + 0.2).toFixed(2)}   sec  ${bytes}  2.01 Mbits/sec                  `;

describe('streamFigures', () => {
  it('sums what the client received and finds the longest run of empty intervals', () => {
    const lines = [
      'Connecting to host 192.168.1.2, port 5201',
      'Reverse mode, remote host 192.168.1.2 is sending',
      interval(0, '49.2 KBytes'),
      interval(0.2, '0.00 Bytes'),
      interval(0.4, '0.00 Bytes'),
      interval(0.6, '48.0 KBytes'),
      interval(0.8, '0.00 Bytes'),
      'iperf3: interrupt - the client has terminated',
      '- - - - - - - - - - - - - - - - - - - - - - - - -',
      '[  5]   0.00-1.00   sec  97.2 KBytes  0.80 Mbits/sec    3             sender',
      '[  5]   0.00-1.00   sec  97.2 KBytes  0.80 Mbits/sec                  receiver',
    ];
    const f = streamFigures(lines.join('\n'), 0);
    expect(f).toEqual({ broken: false, bytes: (49.2 + 48) * 1024, intervals: 5, longestStallMs: 400, retransmits: 3 });
  });

  it('marks a stream that ended in an error as broken, in iperf3 words', () => {
    const f = streamFigures(`${interval(0, '49.2 KBytes')}\niperf3: error - control socket has closed unexpectedly\n`, 1);
    expect(f.broken).toBe(true);
    expect(f.error).toBe('control socket has closed unexpectedly');
  });
});
