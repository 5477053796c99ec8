// A stock node's `ip -json route show` in the rows the agent's `routes` gives.
import { describe, expect, it } from 'vitest';
import { kernelRouteRows } from './kernel-routes.ts';

describe('kernel routes over SSH', () => {
  it('reads default, connected, BIRD, blackhole and Gingham routes', () => {
    const rows = kernelRouteRows(
      JSON.stringify([
        { dst: 'default', gateway: '10.240.1.1', dev: 'ens5', flags: [] },
        { dst: '10.240.1.0/24', dev: 'ens5', protocol: 'kernel', scope: 'link', prefsrc: '10.240.1.11', flags: [] },
        { dst: '192.168.0.64/26', gateway: '10.240.1.12', dev: 'tunl0', protocol: 'bird', flags: ['onlink'] },
        { type: 'blackhole', dst: '192.168.0.128/26', protocol: 'bird', flags: [] },
        { dst: '192.168.0.130', dev: 'cali1234', scope: 'link', flags: [] },
        { dst: '192.168.0.192/26', gateway: '10.240.2.13', dev: 'tunl0', protocol: '71', flags: ['onlink'] },
        { type: 'local', dst: '10.240.1.11', dev: 'ens5' },
      ]),
    );
    expect(rows.map((r) => [r.destination, r.gateway, r.genmask, r.flags, r.iface, r.protocol, r.ginghams])).toEqual([
      ['0.0.0.0', '10.240.1.1', '0.0.0.0', 'UG', 'ens5', 3, false],
      ['10.240.1.0', '0.0.0.0', '255.255.255.0', 'U', 'ens5', 2, false],
      ['192.168.0.64', '10.240.1.12', '255.255.255.192', 'UG', 'tunl0', 12, false],
      ['192.168.0.128', '0.0.0.0', '255.255.255.192', 'U', '*', 12, false],
      ['192.168.0.130', '0.0.0.0', '255.255.255.255', 'UH', 'cali1234', 3, false],
      ['192.168.0.192', '10.240.2.13', '255.255.255.192', 'UG', 'tunl0', 71, true],
    ]);
    expect(rows.map((r) => r.owner?.kind)).toEqual(['boot', 'kernel', 'bird', 'bird', 'boot', 'gingham']);
  });

  it("names who made each route on a calico-node host by its protocol: Felix's 80, BIRD's, and boot for Felix's device routes", () => {
    // As worker-2 of the mixed lab (calico-node v3.31.0, VXLAN) shows them.
    const rows = kernelRouteRows(
      JSON.stringify([
        { dst: '192.168.97.192/26', gateway: '192.168.97.192', dev: 'vxlan.calico', flags: ['onlink'] },
        { type: 'blackhole', dst: '192.168.133.192/26', protocol: '80', flags: [] },
        { dst: '192.168.133.193', dev: 'califbd243bfedd', scope: 'link', flags: [] },
        { dst: '192.168.0.64/26', gateway: '10.240.1.11', dev: 'ens5', protocol: 'bird', flags: [] },
      ]),
    );
    expect(rows.map((r) => [r.protocol, r.owner?.kind])).toEqual([
      [3, 'boot'],
      [80, 'felix'],
      [3, 'boot'],
      [12, 'bird'],
    ]);
    expect(rows[1]!.owner!.text).toMatch(/^Felix/);
    expect(rows[3]!.owner!.text).toMatch(/^BIRD/);
  });
});
