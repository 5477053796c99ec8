// The lab's sshd: its configuration and the wait until it answers. Used for the lab's nodes
// (node.ts) and for the single sshd nodes of the SSH tests (lab/testing/sshd-node.ts), so that both
// run the same daemon the same way.
import { connect } from 'node:net';
import { processAlive, sleep } from '../sh.ts';

export interface SshdSettings {
  listenAddress: string;
  hostKey: string;
  pidFile: string;
  authorizedKeys: string;
  /** The sftp subsystem: a program's path, or `internal-sftp` (sshd's own). */
  sftp: string;
  /** Further lines, each a keyword and its value. */
  extra?: string[];
}

/** An sshd_config for root logins with a key only, as on a cloud node. */
export function sshdConfig(settings: SshdSettings): string {
  return [
    `ListenAddress ${settings.listenAddress}`,
    'Port 22',
    `HostKey ${settings.hostKey}`,
    `PidFile ${settings.pidFile}`,
    `AuthorizedKeysFile ${settings.authorizedKeys}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The key files live in the lab's (or a test's) state folder, whose owner and modes sshd's checks do not expect.
    'StrictModes no',
    'PrintMotd no',
    'PrintLastLog no',
    `Subsystem sftp ${settings.sftp}`,
    ...(settings.extra ?? []),
    '',
  ].join('\n');
}

/**
 * Waits until `host:port` accepts a TCP connection. With `pid`, gives up as soon as that process
 * (sshd, or what execs it) has ended; `log` says where its words are, for the error.
 */
export async function waitForSshd(host: string, port: number, options: { timeoutMs: number; pid?: number; log: () => string }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port, timeout: 2000 });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (options.pid !== undefined && !processAlive(options.pid)) throw new Error(`sshd on ${host} exited; ${options.log()}`);
    if (Date.now() > deadline) throw new Error(`sshd on ${host} did not answer on port ${port} within ${options.timeoutMs / 1000} s; ${options.log()}`);
    await sleep(200);
  }
}
