// The fault report's table: one aligned Markdown row per fault, the figures as measured.
import { describe, expect, it } from 'vitest';
import type { FaultMeasure } from './observe.ts';
import { faultTable } from './report.ts';

const measure = (over: Partial<FaultMeasure>): FaultMeasure => ({
  fault: 'agent-kill',
  mode: 'ipip-always',
  what: 'kill -9 agent on worker-1',
  traffic: { pairs: [], sent: 3227, lost: 0, longestOutageMs: 0, brokenStreams: 0, longestStallMs: 0 },
  heldMs: 0,
  recoverMs: 13_411,
  deletedRoutes: { 'worker-1': [] },
  sessions: {},
  leftBehind: [],
  waited: [],
  logs: {},
  notes: [],
  ...over,
});

describe('faultTable', () => {
  it('prints each fault as a row of aligned columns, with what was lost and left', () => {
    const table = faultTable([
      measure({}),
      measure({
        fault: 'node-cut',
        traffic: { pairs: [], sent: 6118, lost: 3291, longestOutageMs: 30_064, brokenStreams: 1, longestStallMs: 31_880 },
        recoverMs: 60,
        deletedRoutes: { 'worker-1': ['Deleted 192.168.0.192/26 via 10.240.2.13 dev tunl0'], 'worker-2': [] },
        leftBehind: ['worker-1: route 192.168.0.192/26 via 10.240.2.13 dev tunl0 gone'],
      }),
    ]);
    const lines = table.split('\n');
    expect(lines).toHaveLength(4);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    expect(lines[0]).toMatch(/^\| fault +\| mode +\| pings sent \| lost +\| longest outage \| TCP broken \| pod routes deleted \| time to recover \| state left behind/);
    expect(lines[2]!.split('|').map((c) => c.trim())).toEqual(['', 'agent-kill', 'ipip-always', '3227', '0', '-', '0 of 0', '0', '13.4 s', 'none', '']);
    expect(lines[3]!.split('|').map((c) => c.trim())).toEqual(['', 'node-cut', 'ipip-always', '6118', '3291', '30064 ms', '1 of 0', '1', '0.1 s', 'worker-1: route 192.168.0.192/26 via 10.240.2.13 dev tunl0 gone', '']);
  });
});
