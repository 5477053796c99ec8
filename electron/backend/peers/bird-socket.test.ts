// BIRD's `show protocols all` reply, as calico-node's BIRD gives it, read into peer rows.
import { describe, expect, it } from 'vitest';
import { parseBirdProtocols } from './bird-socket.ts';

const reply = [
  '2002-Name       Proto      Table      State  Since         Info',
  '1002-static1    Static     master     up     2026-11-26',
  '1002-kernel1    Kernel     master     up     2026-11-26',
  '1002-Mesh_10_240_1_12 BGP        master     up     08:55:01      Established',
  '1006-  Description:    Connection to BGP peer',
  '     Routes:         1 imported, 2 exported, 1 preferred',
  '1002-Mesh_10_240_2_13 BGP        master     start  08:55:01      Active        Socket: Connection refused',
  '1006-  Description:    Connection to BGP peer',
  '     Last error:     Socket: Connection refused',
  '0000 ',
].join('\n');

describe('BIRD protocols', () => {
  it('keeps the BGP rows, with the peer address, counts and last error', () => {
    expect(parseBirdProtocols(reply)).toEqual([
      { address: '10.240.1.12', type: 'node-to-node mesh', state: 'up', since: '08:55:01', info: 'Established', received: 1, advertised: 2 },
      { address: '10.240.2.13', type: 'node-to-node mesh', state: 'start', since: '08:55:01', info: 'Active Socket: Connection refused', lastError: 'Socket: Connection refused' },
    ]);
  });
});
