// The scan's BGP with route reflectors as Calico configures them: the sessions a client of a
// reflector should have (the BGPPeer by peerSelector, no mesh), found down, and the reflector's
// own block not received over its session. Before the scan took Calico's peerings
// (shared/model/bgp-peerings.ts), a BGPPeer with a nodeSelector was never expected, so a client
// whose reflector session was down went unnoticed.
import { describe, expect, it } from 'vitest';
import type { ScanEvidence } from './scan-evidence.ts';
import { scanFromEvidence } from './scan.ts';
import { block, node, nodeEvidence, objects, pool } from './testing/scan-fixture.ts';

const reflector = (name: string, address: string) => {
  const n = node(name, address, { 'projectcalico.org/RouteReflectorClusterID': '244.0.0.1' }) as { metadata: { labels: Record<string, string> } };
  n.metadata.labels = { 'route-reflector': 'true' };
  return n;
};
const cluster = objects({
  pools: [pool('default-ipv4-ippool', '192.168.0.0/16', 'Always', 'Never')],
  blocks: [block('192.168.1.0/26', 'worker-1'), block('192.168.2.0/26', 'worker-2'), block('192.168.3.0/26', 'worker-3')],
  nodes: [node('worker-1', '10.240.1.11/24'), node('worker-2', '10.240.1.12/24'), reflector('worker-3', '10.240.2.13/24')],
  bgpConfigurations: [{ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { nodeToNodeMeshEnabled: false } }],
  bgpPeers: [{ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name: 'peer-with-route-reflectors' }, spec: { nodeSelector: 'all()', peerSelector: "route-reflector == 'true'" } }],
});

function bgpFindings(sessions: Array<{ address: string; state: string; info: string }>, routes: Array<{ prefix: string; from: string; nextHop: string; best: boolean }>) {
  const timed = sessions.map((s) => ({ ...s, since: '07:00:00' }));
  const evidence: ScanEvidence = { collectedAt: '2026-12-03T08:20:00Z', objects: cluster, nodes: [nodeEvidence('worker-1', {}, { sessions: timed, routes }, { sessionsAgain: timed })], unreachable: [], gaps: [], };
  return scanFromEvidence(evidence).findings.filter((f) => f.code.startsWith('bgp-')).map((f) => `${f.code} ${f.message}`);
}

describe('scan: BGP with route reflectors', () => {
  const reflected = [
    { prefix: '192.168.2.0/26', from: '10.240.2.13', nextHop: '10.240.1.12', best: true },
    { prefix: '192.168.3.0/26', from: '10.240.2.13', nextHop: '10.240.2.13', best: true },
  ];

  it('expects the client’s session with the reflector, and no mesh session with the other client', () => {
    expect(bgpFindings([{ address: '10.240.2.13', state: 'up', info: 'Established' }], reflected)).toEqual([]);
    expect(bgpFindings([{ address: '10.240.2.13', state: 'start', info: 'Active Socket: Connection refused' }], [])).toEqual([
      expect.stringMatching(/^bgp-session-down worker-1's session with 10\.240\.2\.13 \(BGPPeer peer-with-route-reflectors, node worker-3\) is Active Socket: Connection refused/),
    ]);
    expect(bgpFindings([], [])).toEqual([expect.stringMatching(/^bgp-session-missing worker-1's speaker has no session with 10\.240\.2\.13 \(BGPPeer peer-with-route-reflectors, node worker-3\)/)]);
  });

  it('names the reflector’s own block when its session does not bring it', () => {
    expect(bgpFindings([{ address: '10.240.2.13', state: 'up', info: 'Established' }], reflected.slice(0, 1))).toEqual([
      expect.stringMatching(/^bgp-route-not-received worker-1 has no BGP path for 192\.168\.3\.0\/26 from worker-3/),
    ]);
  });
});
