// Running commands and moving files on a node over one SSH connection: a command with its
// stdout, stderr and exit status; a file uploaded with progress under a temporary name and
// renamed into place only when complete, so that a cut connection never leaves half a file
// where a whole one is expected.
import type { Client, SFTPWrapper } from 'ssh2';

export interface ExecResult {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

/** Raised when the SSH connection closes under a command or a transfer. */
export class ConnectionLost extends Error {
  constructor(what: string) {
    super(`the SSH connection closed during ${what}`);
    this.name = 'ConnectionLost';
  }
}

export class RemoteCommandFailed extends Error {
  constructor(
    readonly what: string,
    readonly result: ExecResult,
  ) {
    super(`${what} failed on the node (exit ${result.code ?? result.signal}): ${(result.stderr || result.stdout).trim().split('\n').slice(-5).join(' | ')}`);
    this.name = 'RemoteCommandFailed';
  }
}

/**
 * Runs `script` with `sh -s` (the script on stdin, so no quoting of it); `args` become $1.. .
 * `onOutput` hears stdout as it arrives, for a script that reports its steps.
 */
export function runScript(client: Client, what: string, script: string, args: string[] = [], timeoutMs = 120_000, onOutput?: (text: string) => void): Promise<ExecResult> {
  const command = ['sh', '-s', '--', ...args.map(shellQuote)].join(' ');
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`${what} did not finish within ${timeoutMs / 1000} s`)), timeoutMs);
    const onClose = () => fail(new ConnectionLost(what));
    client.once('close', onClose);
    try {
      client.exec(command, (error, channel) => {
        if (error) {
          client.removeListener('close', onClose);
          fail(/not connected|no response|closed/i.test(error.message) ? new ConnectionLost(what) : error);
          return;
        }
        let stdout = '';
        let stderr = '';
        let code: number | null = null;
        let signal: string | undefined;
        channel.on('data', (d: Buffer) => {
          stdout += d.toString();
          onOutput?.(stdout);
        });
        channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        channel.on('exit', (c: number | null, s?: string) => {
          code = c;
          signal = s;
        });
        channel.on('close', () => {
          client.removeListener('close', onClose);
          if (settled) return;
          if (code === null && signal === undefined) {
            fail(new ConnectionLost(what));
            return;
          }
          settled = true;
          clearTimeout(timer);
          resolve({ code, ...(signal ? { signal } : {}), stdout, stderr });
        });
        channel.end(script);
      });
    } catch (error) {
      client.removeListener('close', onClose);
      fail(new ConnectionLost(what));
      void error;
    }
  });
}

/** runScript that throws unless the script exits 0. */
export async function runScriptOk(client: Client, what: string, script: string, args: string[] = [], timeoutMs?: number, onOutput?: (text: string) => void): Promise<string> {
  const result = await runScript(client, what, script, args, timeoutMs, onOutput);
  if (result.code !== 0) throw new RemoteCommandFailed(what, result);
  return result.stdout;
}

export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function openSftp(client: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new ConnectionLost('opening SFTP'));
    client.once('close', onClose);
    client.sftp((error, sftp) => {
      client.removeListener('close', onClose);
      if (error) reject(error);
      else resolve(sftp);
    });
  });
}

/**
 * Makes `remotePath` and the folders above it that are missing (mkdir -p, over SFTP: no command,
 * and so no shell, started on the node). `mode` is the last folder's, if made here; the others' 0755.
 */
export async function ensureRemoteDir(client: Client, sftp: SFTPWrapper, remotePath: string, mode = 0o755): Promise<void> {
  // Usually there already: one request.
  const there = await sftpCall<boolean>(client, `looking at ${remotePath}`, (done) => sftp.stat(remotePath, (error, stats) => done(undefined, !error && stats.isDirectory())));
  if (there) return;
  const parts = remotePath.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const dir = `/${parts.slice(0, i).join('/')}`;
    await sftpCall<void>(client, `making ${dir}`, (done) =>
      sftp.mkdir(dir, { mode: i === parts.length ? mode : 0o755 }, (error) => {
        if (!error) return done();
        // SFTP says only "failure" when the folder is there: it must be a folder.
        sftp.stat(dir, (statError, stats) => done(statError ?? (stats.isDirectory() ? undefined : error)));
      }),
    );
  }
}

/** mkdir over SFTP: the folder must be new, its parent there. */
export function makeRemoteDir(client: Client, sftp: SFTPWrapper, remotePath: string, mode = 0o755): Promise<void> {
  return sftpCall<void>(client, `making ${remotePath}`, (done) => sftp.mkdir(remotePath, { mode }, (error) => done(error)));
}

/** chmod over SFTP. */
export function chmodRemote(client: Client, sftp: SFTPWrapper, remotePath: string, mode: number): Promise<void> {
  return sftpCall<void>(client, `setting the mode of ${remotePath}`, (done) => sftp.chmod(remotePath, mode, (error) => done(error)));
}

/** Renames `from` to `to` (posix-rename: replaces a file, refuses a folder that is not empty). */
export function renameRemote(client: Client, sftp: SFTPWrapper, from: string, to: string): Promise<void> {
  return sftpCall<void>(client, `renaming ${from}`, (done) => sftp.ext_openssh_rename(from, to, (error) => done(error)));
}

/** One SFTP request, failed with ConnectionLost when the connection closes under it. */
function sftpCall<T>(client: Client, what: string, call: (done: (error?: Error | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const onClose = () => finish(new ConnectionLost(what));
    const finish = (error?: Error | null, value?: T) => {
      if (settled) return;
      settled = true;
      client.removeListener('close', onClose);
      if (error) reject(error);
      else resolve(value as T);
    };
    client.once('close', onClose);
    call(finish);
  });
}

/**
 * Uploads `localPath` to `remotePath` + a temporary suffix, then renames it into place.
 * `onProgress` gets the bytes sent so far.
 */
export function uploadFile(
  client: Client,
  sftp: SFTPWrapper,
  localPath: string,
  remotePath: string,
  mode: number,
  onProgress: (sent: number) => void,
): Promise<void> {
  const partial = `${remotePath}.partial`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (error?: Error) => {
      if (settled) return;
      settled = true;
      client.removeListener('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onClose = () => done(new ConnectionLost(`the upload of ${remotePath}`));
    client.once('close', onClose);
    sftp.fastPut(localPath, partial, { mode, concurrency: 16, chunkSize: 64 * 1024, step: (sent) => onProgress(sent) }, (error) => {
      if (error) {
        done(settled ? undefined : error);
        return;
      }
      // posix-rename@openssh.com replaces an existing file atomically; plain SFTP rename would refuse.
      sftp.ext_openssh_rename(partial, remotePath, (renameError) => done(renameError ?? undefined));
    });
  });
}

/** Writes `content` to `remotePath` (temporary name, then rename), with `mode` from the start. */
export function writeRemoteFile(client: Client, sftp: SFTPWrapper, remotePath: string, content: string, mode: number): Promise<void> {
  const partial = `${remotePath}.partial`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (error?: Error | null) => {
      if (settled) return;
      settled = true;
      client.removeListener('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onClose = () => done(new ConnectionLost(`writing ${remotePath}`));
    client.once('close', onClose);
    sftp.writeFile(partial, content, { mode }, (error) => {
      if (error) return done(error);
      // writeFile's mode applies only to a new file; a leftover partial keeps its old one.
      sftp.chmod(partial, mode, (chmodError) => {
        if (chmodError) return done(chmodError);
        sftp.ext_openssh_rename(partial, remotePath, (renameError) => done(renameError));
      });
    });
  });
}
