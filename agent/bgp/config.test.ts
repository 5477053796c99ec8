import { describe, expect, it } from 'vitest';
import { ConfigError, isPassive, needsRestart, validateConfig, validatePeer } from './config.ts';

describe('speaker configuration', () => {
  it('fills Calico defaults', () => {
    const c = validateConfig({ routerId: '10.0.0.1', peers: [{ address: '10.0.0.2' }], announce: ['192.168.1.64/26'] });
    expect(c.asn).toBe(64512);
    expect(c.peers[0]).toMatchObject({ asn: 64512, port: 179, routeReflectorClient: false });
    expect(c.gracefulRestart).toEqual({ enabled: true, restartTime: 120 });
    expect(c.kernel).toBeUndefined();
    expect(validateConfig({ routerId: '10.0.0.1', kernel: true }).kernel).toEqual({ table: 'main', protocol: 72 });
  });

  it('names every bad field', () => {
    try {
      validateConfig({ routerId: '10.0.0.300', peers: [{ address: '10.0.0.2', asn: -1 }], announce: ['192.168.1.1/24'], listen: 'x:1' }, 'speaker.yaml');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const text = (error as Error).message;
      expect(text).toContain('speaker.yaml');
      expect(text).toContain('routerId: must be an IPv4 address');
      expect(text).toContain('peers[0].asn');
      expect(text).toContain('announce[0]: must be a prefix with no host bits');
      expect(text).toContain('listen: must be address[:port]');
    }
  });

  it('refuses unknown fields (a typo must not be silently ignored)', () => {
    expect(() => validateConfig({ routerId: '10.0.0.1', peers: [{ adress: '10.0.0.2' }] })).toThrow(/peers\[0\]/);
  });

  it('applies the mesh rule: passive when the peer address string is greater', () => {
    const c = validateConfig({ routerId: '10.192.0.2', peers: [{ address: '10.192.0.3' }, { address: '10.192.0.10' }, { address: '10.192.0.3', port: 1179, passive: false }] });
    expect(isPassive(c, c.peers[0]!)).toBe(true);
    // String comparison, as Calico's templates do: "10.192.0.10" < "10.192.0.2".
    expect(isPassive(c, c.peers[1]!)).toBe(false);
    expect(isPassive(c, c.peers[2]!)).toBe(false);
  });

  it('per-peer settings from Calico\'s BGPPeer, checked like the rest', () => {
    const c = validateConfig({ routerId: '10.0.0.1', peers: [{ address: '10.0.0.2', keepaliveTime: 10, restartTime: 300, sourceAddress: 'none', nextHop: 'self' }, { address: '10.0.0.3', sourceAddress: '10.0.0.9' }] });
    expect(c.peers[0]).toMatchObject({ keepaliveTime: 10, restartTime: 300, sourceAddress: 'none', nextHop: 'self' });
    expect(c.peers[1]).toMatchObject({ sourceAddress: '10.0.0.9', nextHop: 'auto' });
    expect(c.connectRetryMax).toBe(30);
    expect(() => validateConfig({ routerId: '10.0.0.1', peers: [{ address: '10.0.0.2', keepaliveTime: 0, restartTime: 5000, sourceAddress: 'node', nextHop: 'Self' }] }))
      .toThrow(/peers\[0\]\.keepaliveTime[\s\S]*peers\[0\]\.restartTime[\s\S]*peers\[0\]\.sourceAddress[\s\S]*peers\[0\]\.nextHop/);
    expect(validatePeer({ address: '10.0.0.4' })).toMatchObject({ asn: 64512, port: 179 });
    expect(() => validatePeer({ address: '10.0.0.4', keepalive: 3 }, 'BGPPeer x')).toThrow(/BGPPeer x[\s\S]*Unrecognized key/);
  });

  it('refuses a keepalive time not below the hold time (RFC 4271 10: a third of it is usual)', () => {
    expect(() => validateConfig({ routerId: '10.0.0.1', peers: [{ address: '10.0.0.2', holdTime: 30, keepaliveTime: 30 }] }))
      .toThrow(/peers\[0\]\.keepaliveTime: must be less than the hold time \(30 s\)/);
    // Against the speaker's hold time when the peer sets none.
    expect(() => validateConfig({ routerId: '10.0.0.1', holdTime: 9, peers: [{ address: '10.0.0.2', keepaliveTime: 10 }] }))
      .toThrow(/peers\[0\]\.keepaliveTime: must be less than the hold time \(9 s\)/);
    expect(validateConfig({ routerId: '10.0.0.1', peers: [{ address: '10.0.0.2', holdTime: 30, keepaliveTime: 10 }] }).peers[0]!.keepaliveTime).toBe(10);
    // Hold time 0: no keepalives at all, whatever keepaliveTime says.
    expect(validateConfig({ routerId: '10.0.0.1', peers: [{ address: '10.0.0.2', holdTime: 0, keepaliveTime: 10 }] }).peers).toHaveLength(1);
    expect(() => validatePeer({ address: '10.0.0.4', keepaliveTime: 90 }, 'BGPPeer x', 90)).toThrow(/BGPPeer x[\s\S]*keepaliveTime: must be less than the hold time \(90 s\)/);
  });

  it('needsRestart: only global settings need a new speaker; peers and prefixes change at runtime', () => {
    const a = validateConfig({ routerId: '10.0.0.1', peers: [{ address: '10.0.0.2' }], announce: ['192.168.1.0/26'] });
    expect(needsRestart(a, validateConfig({ routerId: '10.0.0.1', peers: [{ address: '10.0.0.3', password: 'x' }], announce: [] }))).toBe(false);
    expect(needsRestart(a, validateConfig({ routerId: '10.0.0.1', asn: 65000 }))).toBe(true);
    expect(needsRestart(a, validateConfig({ routerId: '10.0.0.1', listen: '10.0.0.1:1179' }))).toBe(true);
  });
});
