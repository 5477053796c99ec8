import { describe, expect, it } from 'vitest';
import { parseBirdRoutes } from './bird-routes.ts';

describe('parseBirdRoutes', () => {
  it("reads BIRD 2's `show route all`: the type in the route line, the next hop in the attributes", () => {
    const reply = [
      '1007-Table master4:',
      ' 192.168.2.0/26       unicast [Mesh_10_240_1_12 05:57:23.004 from 10.240.1.12] * (100) [i]',
      ' \tvia 10.240.1.12 on ens5',
      '1008-\tType: BGP univ',
      '1012-\tBGP.origin: IGP',
      ' \tBGP.as_path: ',
      ' \tBGP.next_hop: 10.240.1.12',
      '1007-                     unicast [Mesh_10_240_1_10 05:57:24.100 from 10.240.1.10] (100) [i]',
      ' \tvia 10.240.1.12 on ens5',
      '1008-\tType: BGP univ',
      ' \tBGP.next_hop: 10.240.1.12',
      '1007-192.168.1.64/26      blackhole [static1 05:57:20.000] * (200)',
      '1008-\tType: static univ',
      '0000 ',
    ].join('\n');
    expect(parseBirdRoutes(reply)).toEqual([
      { prefix: '192.168.2.0/26', from: '10.240.1.12', nextHop: '10.240.1.12', best: true, protocol: 'Mesh_10_240_1_12', asPath: '' },
      { prefix: '192.168.2.0/26', from: '10.240.1.10', nextHop: '10.240.1.12', best: false, protocol: 'Mesh_10_240_1_10' },
    ]);
  });

  it("reads BIRD 1.6's (calico-node's): the next hop and interface in the route line, reflected paths by their session", () => {
    const reply = [
      '1007-192.168.0.64/26    via 10.240.1.11 on ens5 [Node_10_240_1_10 03:49:12 from 10.240.1.10] * (100/0) [i]',
      '1008-\tType: BGP unicast univ',
      '1012-\tBGP.origin: IGP',
      ' \tBGP.as_path: ',
      ' \tBGP.next_hop: 10.240.1.11',
      ' \tBGP.local_pref: 100',
      ' \tBGP.originator_id: 10.240.1.11',
      '1007-                   via 10.240.1.11 on ens5 [Node_10_240_2_13 03:49:13 from 10.240.2.13] (100/0) [i]',
      '1008-\tType: BGP unicast univ',
      ' \tBGP.next_hop: 10.240.1.11',
      '1007-192.168.97.192/26  via 10.240.1.1 on ens5 [Node_10_240_2_13 03:49:13] * (100/?) [i]',
      '1008-\tType: BGP unicast univ',
      ' \tBGP.next_hop: 10.240.2.13',
      '1007-192.168.1.0/26     blackhole [static1 03:40:02] * (200)',
      '1008-\tType: static unicast univ',
      '0000 ',
    ].join('\n');
    expect(parseBirdRoutes(reply).map(({ prefix, from, nextHop, best }) => ({ prefix, from, nextHop, best }))).toEqual([
      { prefix: '192.168.0.64/26', from: '10.240.1.10', nextHop: '10.240.1.11', best: true },
      { prefix: '192.168.0.64/26', from: '10.240.2.13', nextHop: '10.240.1.11', best: false },
      { prefix: '192.168.97.192/26', from: '10.240.2.13', nextHop: '10.240.2.13', best: true },
    ]);
  });
});
