// Finds the node's own interface and address as calico-node's IP autodetection does: the first
// interface with a global IPv4 address that is not one of the pod-network devices, the first
// whose name matches a pattern, or the one the kernel routes a given address through.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseInterfaceAddress, type InterfaceAddress } from '../../shared/net/index.ts';

const exec = promisify(execFile);

/** Devices that are never the node's own: Calico's default exclusions plus Gingham's tunnels. */
const excluded = /^(lo|docker.*|cbr.*|dummy.*|virbr.*|lxcbr.*|veth.*|cali.*|tunl.*|flannel.*|kube-ipvs.*|cni.*|vxlan.*|nodelocaldns.*)$/;

interface AddrEntry {
  ifname: string;
  operstate?: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number; scope: string }>;
}

export interface HostAddress {
  interface: string;
  address: InterfaceAddress;
}

async function addresses(): Promise<AddrEntry[]> {
  const { stdout } = await exec('ip', ['-json', 'addr', 'show']);
  return JSON.parse(stdout) as AddrEntry[];
}

function firstIPv4(entry: AddrEntry): InterfaceAddress | undefined {
  const info = entry.addr_info?.find((a) => a.family === 'inet' && a.scope === 'global');
  return info ? parseInterfaceAddress(`${info.local}/${info.prefixlen}`) : undefined;
}

export async function autodetect(method: string, fixedAddress?: string): Promise<HostAddress> {
  const entries = await addresses();
  if (fixedAddress) {
    const wanted = parseInterfaceAddress(fixedAddress);
    const owner = entries.find((e) => e.addr_info?.some((a) => a.family === 'inet' && parseInterfaceAddress(`${a.local}/32`).address === wanted.address));
    if (!owner) throw new Error(`no interface holds the configured address ${fixedAddress}: fix "address" or remove it to autodetect`);
    return { interface: owner.ifname, address: wanted };
  }
  if (method.startsWith('can-reach=')) {
    const target = method.slice('can-reach='.length);
    const { stdout } = await exec('ip', ['-json', 'route', 'get', target]);
    const [route] = JSON.parse(stdout) as Array<{ dev?: string; prefsrc?: string }>;
    const entry = entries.find((e) => e.ifname === route?.dev);
    const address = entry?.addr_info?.find((a) => a.family === 'inet' && a.local === route?.prefsrc);
    if (!entry || !address) throw new Error(`cannot find the interface that reaches ${target}: check "autodetect"`);
    return { interface: entry.ifname, address: parseInterfaceAddress(`${address.local}/${address.prefixlen}`) };
  }
  const pattern = method.startsWith('interface=') ? new RegExp(`^(${method.slice('interface='.length)})$`) : undefined;
  for (const entry of entries) {
    if (pattern ? !pattern.test(entry.ifname) : excluded.test(entry.ifname)) continue;
    const address = firstIPv4(entry);
    if (address) return { interface: entry.ifname, address };
  }
  throw new Error(`no interface with an IPv4 address matches autodetect ${JSON.stringify(method)}: set "address" or another "autodetect" method`);
}
