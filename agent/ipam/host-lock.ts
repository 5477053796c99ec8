// One IPAM writer per node at a time, across processes, as Calico's CNI plugin does with its
// host-wide lock file (/var/run/calico/ipam.lock): without it, two CNI processes that both find
// the node's blocks full both claim a new block. The lock is the kernel's flock(2) on a file
// under /run/gingham, so a process that dies releases it with its file descriptors.
//
// Node has no flock(), so `flock -x 3` (util-linux) takes it on a descriptor this process opened
// and hands it over: flock locks belong to the open file description, which this process keeps
// open after the helper exits, and closing it releases the lock. Callers in one process queue
// behind each other first, so the file lock is taken once per critical section.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';

const queues = new Map<string, Promise<unknown>>();

export function defaultLockFile(nodeName: string): string {
  return path.join(process.env.GINGHAM_RUN_DIR ?? '/run/gingham', `ipam-${nodeName}.lock`);
}

/** Runs `work` while holding the node's IPAM lock; waits at most `timeoutMs` for it. */
export function withHostLock<T>(file: string, work: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const previous = queues.get(file) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(async () => {
    const fd = await acquire(file, timeoutMs);
    try {
      return await work();
    } finally {
      closeSync(fd);
    }
  });
  const tail = run.catch(() => undefined);
  queues.set(file, tail);
  void tail.then(() => {
    if (queues.get(file) === tail) queues.delete(file);
  });
  return run;
}

function acquire(file: string, timeoutMs: number): Promise<number> {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const fd = openSync(file, 'a', 0o600);
  return new Promise((resolve, reject) => {
    const seconds = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
    const child = spawn('flock', ['-x', '-w', seconds, '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => {
      closeSync(fd);
      reject(new Error(`cannot take the IPAM lock ${file}: ${error.message} (flock from util-linux is needed)`));
    });
    child.on('close', (code) => {
      if (code === 0) {
        resolve(fd);
        return;
      }
      closeSync(fd);
      reject(new Error(`another IPAM operation on this node held ${file} for ${seconds} s${stderr.trim() ? `: ${stderr.trim()}` : ''}`));
    });
  });
}
