import { describe, expect, it } from 'vitest';
import { formatInterfaceAddress } from '../net/index.ts';
import { calicoAnnotations, calicoNodeAnnotations, parseCalicoNode } from './calico-node.ts';

const k8sNode = (annotations: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'worker-1', annotations },
  status: { addresses: [{ type: 'InternalIP', address: '10.240.1.11' }, { type: 'Hostname', address: 'worker-1' }] },
});

describe('Calico node annotations on the core Node', () => {
  it('are read into a node’s Calico facts', () => {
    const node = parseCalicoNode(
      k8sNode({
        [calicoAnnotations.ipv4Address]: '10.240.1.11/24',
        [calicoAnnotations.ipipTunnelAddress]: '192.168.1.64',
        [calicoAnnotations.vxlanTunnelMac]: '66:93:7F:54:D5:53',
        [calicoAnnotations.asNumber]: '64512',
        'unrelated/annotation': 'kept out',
      }),
    );
    expect(formatInterfaceAddress(node.ipv4Address!)).toBe('10.240.1.11/24');
    expect(node).toMatchObject({ name: 'worker-1', ipipTunnelAddress: '192.168.1.64', vxlanTunnelMac: '66:93:7f:54:d5:53', asNumber: 64512, internalIP: '10.240.1.11' });
  });

  it('round-trip through the annotations Gingham writes', () => {
    const annotations = {
      [calicoAnnotations.ipv4Address]: '10.240.2.13/24',
      [calicoAnnotations.vxlanTunnelAddress]: '192.168.3.0',
      [calicoAnnotations.vxlanTunnelMac]: '66:0a:0b:0c:0d:0e',
      [calicoAnnotations.asNumber]: '65001',
      [calicoAnnotations.routeReflectorClusterId]: '244.0.0.1',
    };
    expect(calicoNodeAnnotations(parseCalicoNode(k8sNode(annotations)))).toEqual(annotations);
  });

  it.each([
    [calicoAnnotations.ipv4Address, '10.240.1.11', 'has no prefix length'],
    [calicoAnnotations.ipipTunnelAddress, '192.168.1.640', 'must be an IPv4 address (the IP-in-IP tunnel address)'],
    [calicoAnnotations.vxlanTunnelMac, '66:93:7f', 'must be a MAC address'],
    [calicoAnnotations.asNumber, 'sixty', 'must be an AS number from 1 to 4294967295 (got "sixty")'],
  ])('name the malformed annotation %s', (key, value, message) => {
    expect(() => parseCalicoNode(k8sNode({ [key]: value }))).toThrow(`Node "worker-1" is invalid:\n  metadata.annotations.${key}: `);
    expect(() => parseCalicoNode(k8sNode({ [key]: value }))).toThrow(message);
  });

  it('leave a node without annotations with only its InternalIP', () => {
    expect(parseCalicoNode(k8sNode({}))).toEqual({ name: 'worker-1', internalIP: '10.240.1.11' });
  });
});
