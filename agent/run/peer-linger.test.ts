// What a node keeps for its peers, over time: a canary stage may last longer than the bound kept
// for peers that have not said they moved, and must not lose the acceptance it needs on the way.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseCalicoNode } from '../../shared/model/calico-node.ts';
import type { ClusterSnapshot } from '../../shared/model/cluster-snapshot.ts';
import { parseIPPool } from '../../shared/model/ippool.ts';
import { encapsulationsAnnotation, poolModesAnnotation } from '../../shared/model/node-encapsulation.ts';
import { lingerMs, PeerLinger } from './peer-linger.ts';

const pool = (spec: Record<string, unknown>) => parseIPPool({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'default-ipv4-ippool' }, spec: { cidr: '192.168.0.0/16', ...spec } });
const node = (name: string, address: string, annotations: Record<string, string> = {}) => ({
  ...parseCalicoNode({ metadata: { name, annotations: { 'projectcalico.org/IPv4Address': address, ...annotations } } }),
  labels: {},
});
const snapshot = (spec: Record<string, unknown>, nodes: ClusterSnapshot['nodes']): ClusterSnapshot => ({ pools: [pool(spec)], bgpConfigurations: [], bgpPeers: [], blocks: [], nodes });
const published = (sends: string[], mode: string) => ({ [encapsulationsAnnotation]: JSON.stringify({ accepts: sends, sends, modes: { 'default-ipv4-ippool': mode } }) });
const vxlanOverride = { [poolModesAnnotation]: JSON.stringify({ 'default-ipv4-ippool': { ipipMode: 'Never', vxlanMode: 'Always' } }) };

describe('PeerLinger', () => {
  let expired: number;
  let linger: PeerLinger;
  const warnings: string[] = [];
  beforeEach(() => {
    vi.useFakeTimers();
    expired = 0;
    warnings.length = 0;
    linger = new PeerLinger(lingerMs, () => expired++, (m) => warnings.push(m));
  });
  afterEach(() => {
    linger.stop();
    vi.useRealTimers();
  });

  it('keeps accepting a canary’s VXLAN, and the canary BGP and IP-in-IP, for a canary stage longer than the bound', () => {
    // The pool is IP-in-IP; worker-3 is the canary with its override to VXLAN Always.
    const cluster = snapshot({ ipipMode: 'Always' }, [
      node('worker-1', '10.240.1.11/24', published(['IPIP'], 'IPIP Always')),
      node('worker-2', '10.240.1.12/24', published(['IPIP'], 'IPIP Always')),
      node('worker-3', '10.240.2.13/24', { ...vxlanOverride, ...published(['VXLAN'], 'VXLAN Always') }),
    ]);
    // One agent each: worker-1's and the canary's.
    const canary = new PeerLinger(lingerMs, () => expired++, (m) => warnings.push(m));
    let at = 0;
    for (const seconds of [0, 10, 25, 120]) {
      vi.advanceTimersByTime((seconds - at) * 1000);
      at = seconds;
      // A node not yet switched receives the canary's VXLAN.
      expect(linger.kept(cluster, 'worker-1', true), `worker-1 at ${seconds} s`).toEqual({ keepAccepting: ['VXLAN'], keepBgp: false });
      // The canary receives the others' IP-in-IP and keeps BGP for them.
      expect(canary.kept(cluster, 'worker-3', false), `worker-3 at ${seconds} s`).toEqual({ keepAccepting: ['IPIP'], keepBgp: true });
    }
    canary.stop();
    expect(warnings).toEqual([]);
    expect(expired).toBe(0);
  });

  it('keeps what a peer published it still sends, once its modes no longer send it, for at most the bound', () => {
    // The pool is VXLAN now; worker-2's agent stopped while it still sent IP-in-IP and routed by BGP.
    const cluster = snapshot({ vxlanMode: 'Always' }, [node('worker-1', '10.240.1.11/24', published(['VXLAN'], 'VXLAN Always')), node('worker-2', '10.240.1.12/24', published(['IPIP'], 'IPIP Always'))]);
    vi.setSystemTime(Date.UTC(2026, 11, 7, 12, 0, 0));
    expect(linger.kept(cluster, 'worker-1', false)).toEqual({ keepAccepting: ['IPIP'], keepBgp: true });
    vi.advanceTimersByTime(lingerMs - 1000);
    expect(expired).toBe(0);
    expect(linger.kept(cluster, 'worker-1', false)).toEqual({ keepAccepting: ['IPIP'], keepBgp: true });
    vi.advanceTimersByTime(1100);
    expect(expired).toBe(1);
    expect(linger.kept(cluster, 'worker-1', false)).toEqual({ keepAccepting: [], keepBgp: false });
    expect(warnings).toEqual([
      'IPIP: still wanted by peers that have not published that they moved after 20 s; no longer kept for them',
      'BGP: still wanted by peers that have not published that they moved after 20 s; no longer kept for them',
    ]);
  });
});
