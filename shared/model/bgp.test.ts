import { describe, expect, it } from 'vitest';
import { effectiveBgpSettings, parseBGPConfiguration } from './bgp-configuration.ts';
import { parseBGPPeer, parsePeerAddress } from './bgp-peer.ts';

const config = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'projectcalico.org/v3', kind: 'BGPConfiguration', metadata: { name }, spec });
const peer = (spec: Record<string, unknown>) => ({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name: 'tor' }, spec });

describe('BGPConfiguration', () => {
  it("applies Calico's defaults: AS 64512, mesh on, port 179", () => {
    expect(effectiveBgpSettings([])).toEqual({ asNumber: 64512, nodeToNodeMeshEnabled: true, listenPort: 179 });
  });

  it('lets a node.<name> object override default for that node only', () => {
    const configs = [
      parseBGPConfiguration(config('default', { asNumber: 65000, nodeToNodeMeshEnabled: false })),
      parseBGPConfiguration(config('node.worker-1', { listenPort: 1179 })),
    ];
    expect(effectiveBgpSettings(configs, 'worker-1')).toEqual({ asNumber: 65000, nodeToNodeMeshEnabled: false, listenPort: 1179 });
    expect(effectiveBgpSettings(configs, 'worker-2').listenPort).toBe(179);
  });

  it('refuses names other than default and node.<name>', () => {
    expect(() => parseBGPConfiguration(config('cluster', {}))).toThrow('metadata.name: must be "default" (cluster-wide) or "node.<node name>"');
  });

  it('refuses mesh settings when the mesh is off, and bad AS numbers and ports', () => {
    expect(() => parseBGPConfiguration(config('default', { nodeToNodeMeshEnabled: false, nodeMeshMaxRestartTime: '120s' }))).toThrow(
      'spec.nodeMeshMaxRestartTime: cannot be set when nodeToNodeMeshEnabled is false',
    );
    expect(() => parseBGPConfiguration(config('default', { asNumber: 0 }))).toThrow('spec.asNumber: must be a whole AS number from 1 to 4294967295 (got 0)');
    expect(() => parseBGPConfiguration(config('default', { asNumber: 4294967296 }))).toThrow('spec.asNumber: must be a whole AS number from 1 to 4294967295 (got 4294967296)');
    expect(() => parseBGPConfiguration(config('default', { listenPort: 70000 }))).toThrow('spec.listenPort: must be at most 65535');
  });

  it('accepts 4-octet AS numbers', () => {
    expect(parseBGPConfiguration(config('default', { asNumber: 4200000000 })).spec.asNumber).toBe(4200000000);
  });
});

describe('BGPPeer', () => {
  it('reads a peer with address, port, AS and password reference', () => {
    const parsed = parseBGPPeer(peer({ peerIP: '10.240.1.1:1179', asNumber: 65001, password: { secretKeyRef: { name: 'bgp', key: 'tor' } }, keepaliveTime: '30s' }));
    expect(parsePeerAddress(parsed.spec.peerIP!)).toEqual({ address: '10.240.1.1', port: 1179 });
    expect(parsed.spec.password?.secretKeyRef).toEqual({ name: 'bgp', key: 'tor' });
  });

  it.each([
    [{ peerIP: '10.240.1.256' }, 'spec.peerIP: must be an IPv4 address, optionally with a port'],
    [{ peerIP: '10.240.1.1:0' }, 'spec.peerIP: must be an IPv4 address'],
    [{ peerIP: '10.240.1.1', peerSelector: 'all()' }, 'spec.peerSelector: cannot be set together with peerIP'],
    [{ node: 'worker-1', nodeSelector: 'all()' }, 'spec.nodeSelector: cannot be set together with node'],
    [{ peerSelector: 'rr == "true"', asNumber: 64512 }, 'spec.asNumber: must be empty when peerSelector is set'],
    [{ peerIP: '10.0.0.1', keepaliveTime: '30 seconds' }, 'spec.keepaliveTime: must be a duration such as 30s'],
    [{ peerIP: '10.0.0.1', nextHopMode: 'Other' }, 'spec.nextHopMode: must be one of "Auto", "Self", "Keep" (got "Other")'],
  ])('refuses %j', (spec, message) => {
    expect(() => parseBGPPeer(peer(spec))).toThrow(message);
  });
});
