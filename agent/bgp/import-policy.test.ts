// Import policy alone: the first-AS check, AS path loops, reflection loops, RFC 8212.
import { describe, expect, it } from 'vitest';
import { parseIPv4 } from '../../shared/net/index.ts';
import { AsPathSegmentType } from './codec/constants.ts';
import { importRefusal } from './import-policy.ts';
import { LOCAL_AS, ROUTER_ID, testPeer } from './testing/speaker-parts.ts';

const ctx = { asn: LOCAL_AS, routerId: ROUTER_ID, clusterId: parseIPv4('10.0.0.99') };
const seq = (...asns: number[]) => ({ type: AsPathSegmentType.Sequence, asns });
const set = (...asns: number[]) => ({ type: AsPathSegmentType.Set, asns });

describe('import policy', () => {
  const ext = testPeer(1, '192.0.2.9', { asn: 65001, importPolicy: 'all' });
  const mesh = testPeer(2, '10.0.0.2');

  it('eBGP: the path must start with the peer\'s AS (first-AS check)', () => {
    expect(importRefusal(ext, {}, [seq(65001, 65010)], ctx)).toBeUndefined();
    expect(importRefusal(ext, {}, [seq(65002, 65001)], ctx)).toBe('AS_PATH does not start with the peer AS');
    expect(importRefusal(ext, {}, [], ctx)).toBe('AS_PATH does not start with the peer AS');
    expect(importRefusal(ext, {}, [set(65001)], ctx)).toBe('AS_PATH does not start with the peer AS');
  });

  it('eBGP: our AS anywhere in the path is a loop, in a sequence or a set', () => {
    expect(importRefusal(ext, {}, [seq(65001, LOCAL_AS)], ctx)).toBe('AS_PATH loop');
    expect(importRefusal(ext, {}, [seq(65001), set(65020, LOCAL_AS)], ctx)).toBe('AS_PATH loop');
  });

  it('iBGP: our ORIGINATOR_ID or our cluster in CLUSTER_LIST is a reflection loop (RFC 4456 8)', () => {
    expect(importRefusal(mesh, { originatorId: ROUTER_ID }, [], ctx)).toBe('ORIGINATOR_ID is ours');
    expect(importRefusal(mesh, { clusterList: [parseIPv4('10.0.0.50'), ctx.clusterId] }, [], ctx)).toBe('CLUSTER_LIST loop');
    expect(importRefusal(mesh, { clusterList: [parseIPv4('10.0.0.50')] }, [seq(LOCAL_AS)], ctx)).toBeUndefined();
  });

  it('eBGP without an explicit import policy imports nothing (RFC 8212)', () => {
    const bare = testPeer(3, '192.0.2.10', { asn: 65002 });
    expect(importRefusal(bare, {}, [seq(65002)], ctx)).toMatch(/RFC 8212/);
  });
});
