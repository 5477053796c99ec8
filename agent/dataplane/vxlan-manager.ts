// vxlan.calico: the kernel VXLAN device (VNI 4096, port 4789, local = node IP, Calico's MAC), and
// a permanent neighbour and FDB entry per remote VTEP. Devices are created in the prepare phase,
// stale entries retired after the routes moved, the device torn down last.
import { vxlanDeviceName, type DesiredFdbEntry, type DesiredNeighbour, type DesiredVxlanDevice } from '../../shared/dataplane-plan/index.ts';
import type { ChangeSet } from './changes.ts';
import type { KernelFdbEntry, KernelLink, KernelNeighbour } from './kernel/snapshot.ts';

export interface VxlanOutcome {
  /** The device exists after the prepare phase. */
  present: boolean;
}

function needsRecreate(want: DesiredVxlanDevice, have: KernelLink): boolean {
  const v = have.vxlan;
  return have.kind !== 'vxlan' || !v || v.id !== want.vni || v.port !== want.port || v.local !== want.local || v.link !== want.parent || v.learning;
}

export function diffVxlan(
  want: DesiredVxlanDevice | undefined,
  links: ReadonlyMap<string, KernelLink>,
  neighbours: readonly KernelNeighbour[],
  fdb: readonly KernelFdbEntry[],
  desiredNeighbours: readonly DesiredNeighbour[],
  desiredFdb: readonly DesiredFdbEntry[],
  changes: ChangeSet,
): VxlanOutcome {
  const dev = vxlanDeviceName;
  const have = links.get(dev);
  if (!want) {
    // Deleting the device takes its neighbour and FDB entries and its routes with it.
    if (have) changes.add('teardown', `link del ${dev}`);
    return { present: false };
  }
  let fresh = false;
  if (have && needsRecreate(want, have)) {
    changes.add('prepare', `link del ${dev}`);
    fresh = true;
  }
  if (!have || fresh) {
    changes.add('prepare', `link add ${dev} type vxlan id ${want.vni} dstport ${want.port} dev ${want.parent} local ${want.local} nolearning`);
    fresh = true;
  }
  if (fresh || have?.mac !== want.mac || have.mtu !== want.mtu || !have.up) {
    changes.add('prepare', `link set ${dev} address ${want.mac} mtu ${want.mtu} up`);
  }
  const addresses = fresh ? [] : (have?.addresses ?? []);
  if (want.address && !addresses.includes(want.address)) changes.add('prepare', `addr replace ${want.address} dev ${dev}`);
  for (const address of addresses) if (address !== want.address) changes.add('retire', `addr del ${address} dev ${dev}`);

  // Keyed lookups, not a scan per entry: at 500 VTEPs a pass compares 500 entries, not 250,000.
  const haveNeighbours = fresh ? [] : neighbours.filter((n) => n.dev === dev && n.permanent);
  const haveNeighbourKeys = new Set(haveNeighbours.map((h) => `${h.ip} ${h.mac}`));
  const wantedNeighbourIps = new Set(desiredNeighbours.map((n) => n.ip));
  for (const n of desiredNeighbours) {
    if (!haveNeighbourKeys.has(`${n.ip} ${n.mac}`)) changes.add('prepare', `neigh replace ${n.ip} lladdr ${n.mac} dev ${dev} nud permanent`);
  }
  for (const h of haveNeighbours) {
    if (!wantedNeighbourIps.has(h.ip)) changes.add('retire', `neigh del ${h.ip} dev ${dev}`);
  }

  const haveFdb = fresh ? [] : fdb.filter((f) => f.dev === dev && f.dst !== undefined);
  const haveFdbKeys = new Set(haveFdb.map((h) => `${h.mac} ${h.dst}`));
  const wantedMacs = new Set(desiredFdb.map((f) => f.mac));
  for (const f of desiredFdb) {
    if (!haveFdbKeys.has(`${f.mac} ${f.dst}`)) changes.add('prepareFdb', `fdb replace ${f.mac} dev ${dev} dst ${f.dst} self permanent`);
  }
  for (const h of haveFdb) {
    // A MAC still wanted was moved to its new destination by `fdb replace` already.
    if (!wantedMacs.has(h.mac)) changes.add('retireFdb', `fdb del ${h.mac} dev ${dev} dst ${h.dst} self`);
  }
  return { present: true };
}
