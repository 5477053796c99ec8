// The path MTU to an address, found as tracepath does it in spirit: the largest ping with Don't
// Fragment set that gets an answer (iputils ping -M do), by bisection between the IPv4 minimum and
// the outgoing interface's MTU. A router on the way with a smaller MTU answers "fragmentation
// needed", and the kernel's route cache then refuses larger packets at once, so each probe is quick.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ipv4AndIcmpHeaders = 28;
const minimumMtu = 576;

async function answers(to: string, packetBytes: number): Promise<boolean> {
  try {
    await run('ping', ['-n', '-q', '-c', '1', '-W', '1', '-M', 'do', '-s', String(packetBytes - ipv4AndIcmpHeaders), to]);
    return true;
  } catch {
    return false;
  }
}

/** The MTU of the interface the kernel would send to `to` by (the route's own `mtu` where it has one). */
async function outgoingMtu(to: string): Promise<number> {
  const { stdout } = await run('ip', ['-json', '-d', 'route', 'get', to]);
  const [route] = JSON.parse(stdout) as Array<{ dev?: string; metrics?: Array<{ mtu?: number }> }>;
  const routeMtu = route?.metrics?.find((m) => m.mtu)?.mtu;
  if (routeMtu) return routeMtu;
  const { stdout: link } = await run('ip', ['-json', 'link', 'show', 'dev', route?.dev ?? 'lo']);
  return (JSON.parse(link) as Array<{ mtu: number }>)[0]?.mtu ?? 1500;
}

export interface PathMtu {
  /** Bytes of the largest IPv4 packet that arrived whole. */
  mtu: number;
  /** The outgoing interface's MTU, where the search started. */
  interfaceMtu: number;
}

export async function pathMtu(to: string): Promise<PathMtu> {
  const interfaceMtu = await outgoingMtu(to);
  if (!(await answers(to, minimumMtu))) throw new Error(`${to} does not answer pings of ${minimumMtu} bytes: no path MTU to measure (is ICMP let through?)`);
  if (await answers(to, interfaceMtu)) return { mtu: interfaceMtu, interfaceMtu };
  let low = minimumMtu; // answers
  let high = interfaceMtu; // does not
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (await answers(to, middle)) low = middle;
    else high = middle;
  }
  return { mtu: low, interfaceMtu };
}
