// A switch's target mode: the pool's two fields from one applied mode, and the spellings a script
// may use for it (`vxlan-always`, `VXLANCrossSubnet`, `"IPIP Always"`, `never`).
import type { PoolFields } from '../api/cluster-ops-contract.ts';
import { appliedMode, appliedModes, type AppliedMode } from '../model/node-encapsulation.ts';

const spellings: Record<string, AppliedMode> = {
  never: 'Never',
  always: 'IPIP Always',
  ipip: 'IPIP Always',
  ipipalways: 'IPIP Always',
  crosssubnet: 'IPIP CrossSubnet',
  ipipcrosssubnet: 'IPIP CrossSubnet',
  vxlan: 'VXLAN Always',
  vxlanalways: 'VXLAN Always',
  vxlancrosssubnet: 'VXLAN CrossSubnet',
};

/** The mode a user typed, or an error that lists the modes. */
export function parseSwitchMode(text: string): AppliedMode {
  const mode = spellings[text.toLowerCase().replace(/[\s_-]/g, '')];
  if (!mode) throw new Error(`${JSON.stringify(text)} is not a mode: use one of ${appliedModes.join(', ')} (or never, ipip-always, ipip-crosssubnet, vxlan-always, vxlan-crosssubnet)`);
  return mode;
}

export function modeOfFields(fields: Pick<PoolFields, 'ipipMode' | 'vxlanMode'>): AppliedMode {
  return appliedMode(fields.ipipMode, fields.vxlanMode);
}

/** The pool's fields with its encapsulation set to `mode` (one of ipipMode and vxlanMode is Never). */
export function fieldsForMode(fields: PoolFields, mode: AppliedMode): PoolFields {
  const [kind, how] = mode === 'Never' ? ['Never', 'Never'] : mode.split(' ');
  return { ...fields, ipipMode: kind === 'IPIP' ? (how as PoolFields['ipipMode']) : 'Never', vxlanMode: kind === 'VXLAN' ? (how as PoolFields['vxlanMode']) : 'Never' };
}
