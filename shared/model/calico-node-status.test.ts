// The session states Calico's status objects carry, read from the words the speaker's status uses
// (as `calicoctl node status` shows them): the agent's status said "up" and "Established", and the
// first GinghamNodeStatus counted every established session as not established.
import { describe, expect, it } from 'vitest';
import { bgpSession, calicoNodeStatus } from './calico-node-status.ts';

describe('bgpSession', () => {
  it.each([
    [{ state: 'up', info: 'Established' }, { state: 'Established' }],
    [{ state: 'start', info: 'Active Socket: Connection refused' }, { state: 'Active', lastError: 'Socket: Connection refused' }],
    [{ state: 'start', info: 'Connect' }, { state: 'Connect' }],
    [{ state: 'start', info: 'OpenSent' }, { state: 'OpenSent' }],
    [{ state: 'start', info: 'Passive' }, { state: 'Active' }],
    [{ state: 'start', info: 'Idle Received: Hold timer expired' }, { state: 'Idle', lastError: 'Received: Hold timer expired' }],
    [{ state: 'down', info: 'Idle' }, { state: 'Idle' }],
    [{ state: 'start' }, { state: 'Idle' }],
  ])('reads %j as %j', (peer, expected) => {
    expect(bgpSession(peer)).toEqual(expected);
  });
});

describe('calicoNodeStatus', () => {
  it("counts the speaker's up sessions as Established, as calico-node does", () => {
    const status = calicoNodeStatus(['BGP'], {
      agentVersion: '1.0.0',
      speaker: {
        routerId: '10.240.1.11',
        since: '2026-12-03T09:00:00.000Z',
        peers: [
          { address: '10.240.1.12', type: 'node-to-node mesh', state: 'up', info: 'Established', since: '2026-12-03T09:00:05.000Z' },
          { address: '10.240.2.13', type: 'global', state: 'start', info: 'Active Socket: Connection refused', since: '2026-12-03T09:00:06.000Z' },
        ],
      },
      routes: [],
      now: '2026-12-03T09:01:00.000Z',
    });
    expect(status.bgp).toEqual({
      numberEstablishedV4: 1,
      numberNotEstablishedV4: 1,
      numberEstablishedV6: 0,
      numberNotEstablishedV6: 0,
      peersV4: [
        { peerIP: '10.240.1.12', type: 'NodeMesh', state: 'Established', since: '09:00:05' },
        { peerIP: '10.240.2.13', type: 'GlobalPeer', state: 'Active', since: '09:00:06' },
      ],
    });
  });
});
