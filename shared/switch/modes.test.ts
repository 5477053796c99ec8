import { describe, expect, it } from 'vitest';
import { fieldsForMode, modeOfFields, parseSwitchMode } from './modes.ts';

const pool = { cidr: '192.168.0.0/16', blockSize: 26, ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true, disabled: false } as const;

describe('switch modes', () => {
  it('reads the spellings a script may use', () => {
    expect(['never', 'ipip-always', 'IPIP CrossSubnet', 'vxlan', 'VXLANCrossSubnet'].map(parseSwitchMode)).toEqual(['Never', 'IPIP Always', 'IPIP CrossSubnet', 'VXLAN Always', 'VXLAN CrossSubnet']);
    expect(() => parseSwitchMode('wireguard')).toThrow(/^"wireguard" is not a mode: use one of IPIP Always, IPIP CrossSubnet, VXLAN Always, VXLAN CrossSubnet, Never /);
  });

  it('sets one encapsulation and clears the other', () => {
    expect(fieldsForMode(pool, 'VXLAN CrossSubnet')).toMatchObject({ ipipMode: 'Never', vxlanMode: 'CrossSubnet', natOutgoing: true });
    expect(fieldsForMode({ ...pool, ipipMode: 'Never', vxlanMode: 'Always' }, 'IPIP CrossSubnet')).toMatchObject({ ipipMode: 'CrossSubnet', vxlanMode: 'Never' });
    expect(modeOfFields(fieldsForMode(pool, 'Never'))).toBe('Never');
  });
});
