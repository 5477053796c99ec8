import { describe, expect, it } from 'vitest';
import { renderStatus } from './status-text.ts';
import type { SpeakerStatus } from './speaker.ts';

describe('status text', () => {
  it('is exactly what calicoctl node status prints', () => {
    const since = new Date(2026, 0, 5, 23, 30, 4);
    const status = {
      peers: [{ address: '172.17.8.102', port: 179, type: 'node-to-node mesh', state: 'up', since: since.toISOString(), info: 'Established' }],
    } as unknown as SpeakerStatus;
    expect(renderStatus(status, since)).toBe(`Calico process is running.

IPv4 BGP status
+--------------+-------------------+-------+----------+-------------+
| PEER ADDRESS |     PEER TYPE     | STATE |  SINCE   |    INFO     |
+--------------+-------------------+-------+----------+-------------+
| 172.17.8.102 | node-to-node mesh | up    | 23:30:04 | Established |
+--------------+-------------------+-------+----------+-------------+

IPv6 BGP status
No IPv6 peers found.
`);
  });

  it('says when there are no peers', () => {
    expect(renderStatus({ peers: [] } as unknown as SpeakerStatus)).toContain('IPv4 BGP status\nNo IPv4 peers found.\n');
  });
});
