// TCP-MD5 (RFC 2385) for sessions with a password, through the small native addon in native/:
// Node's net module cannot set TCP_MD5SIG. Incoming: the key is set on the listening socket for
// each peer address. Outgoing: the addon opens the socket, sets the key before the SYN, connects
// in a worker thread and hands the connected descriptor to node:net.
import { createRequire } from 'node:module';
import { type Server, Socket } from 'node:net';
import { nativeFile } from './native-path.ts';
import type { PeerSettings } from './peer.ts';

interface Md5Addon {
  setMd5(fd: number, peer: string, key: string): void;
  connectMd5(peer: string, port: number, localAddress: string, key: string, timeoutMs: number): Promise<number>;
}

let addon: Md5Addon | undefined;

function load(): Md5Addon {
  if (addon) return addon;
  const file = nativeFile('tcp_md5.node');
  try {
    addon = createRequire(import.meta.url)(file) as Md5Addon;
  } catch (error) {
    throw new Error(`TCP-MD5 passwords need the native addon ${file}, which is not built (${(error as Error).message}). Run: node scripts/ensure-deps.mjs (needs gcc, make, python3).`);
  }
  return addon;
}

/** The listening socket's descriptor (node:net keeps it on the handle; Linux only, as the agent is). */
function serverFd(server: Server): number {
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('cannot find the listening socket descriptor to set TCP-MD5 keys on');
  return fd;
}

/** Opens an outgoing connection; with a password, the addon sets the key before the SYN. */
export function dialMd5(settings: PeerSettings): Socket | Promise<Socket> {
  if (!settings.password) return new Socket().connect({ host: settings.address, port: settings.port, ...(settings.localAddress ? { localAddress: settings.localAddress } : {}) });
  return load().connectMd5(settings.address, settings.port, settings.localAddress ?? '', settings.password, settings.connectRetryTime * 1000)
    .then((fd) => new Socket({ fd, readable: true, writable: true }));
}

/**
 * Sets a peer's key on the listening socket, or removes it (`password` undefined), so that its
 * incoming connections are signed. Peers come and go at runtime: keys follow them.
 */
export function setListenPassword(server: Server, address: string, password: string | undefined): void {
  if (password === undefined) {
    // An empty key deletes it; the addon is only needed (and loaded) once a password was set.
    if (addon) {
      try { addon.setMd5(serverFd(server), address, ''); } catch { /* no key was set for it */ }
    }
    return;
  }
  load().setMd5(serverFd(server), address, password);
}
