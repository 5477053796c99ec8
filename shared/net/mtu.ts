// Tunnel overheads, as Felix computes them.

/** Bytes an IP-in-IP outer header adds. */
export const ipipOverhead = 20;
/** Bytes VXLAN over IPv4 adds: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14. */
export const vxlanOverhead = 50;

export function ipipMtu(hostMtu: number): number {
  return hostMtu - ipipOverhead;
}

export function vxlanMtu(hostMtu: number): number {
  return hostMtu - vxlanOverhead;
}

/** The pod MTU: the smallest tunnel MTU of the enabled encapsulations (the host's when none). */
export function podMtu(hostMtu: number, encapsulations: { ipip: boolean; vxlan: boolean }): number {
  let mtu = hostMtu;
  if (encapsulations.ipip) mtu = Math.min(mtu, ipipMtu(hostMtu));
  if (encapsulations.vxlan) mtu = Math.min(mtu, vxlanMtu(hostMtu));
  return mtu;
}
