// The kernel through iproute2: reads as `ip -json`, writes as one `ip -batch` (or `bridge -batch`)
// process per batch of changes, never one process per route. `-N` keeps protocols, scopes and
// route types numeric, so that nothing depends on /etc/iproute2 name tables.
import { execFile, spawn } from 'node:child_process';

export type Tool = 'ip' | 'bridge';

/** Runs `ip -N -json ARGS` (or `bridge -json ARGS`) and parses its output. */
export function readJson<T>(tool: Tool, args: readonly string[]): Promise<T> {
  const flags = tool === 'ip' ? ['-N', '-json'] : ['-json'];
  return new Promise((resolve, reject) => {
    execFile(tool, [...flags, ...args], { maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${tool} ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
        return;
      }
      const text = stdout.trim();
      try {
        resolve((text === '' ? [] : JSON.parse(text)) as T);
      } catch (parseError) {
        reject(new Error(`${tool} ${args.join(' ')} printed output that is not JSON: ${String(parseError)}`));
      }
    });
  });
}

/** A line of a batch the kernel refused, with the kernel's reason. */
export interface BatchFailure {
  command: string;
  error: string;
}

/**
 * Feeds `commands` to one `ip -force -batch -` (or `bridge`) process. `-force` lets the kernel
 * apply every line it can; the lines it refused come back with its reasons, for the caller to
 * log and retry on the next reconcile.
 */
export function runBatch(tool: Tool, commands: readonly string[]): Promise<BatchFailure[]> {
  if (commands.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const child = spawn(tool, ['-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => reject(new Error(`cannot run ${tool}: ${error.message} (is iproute2 installed?)`)));
    child.on('close', (code) => {
      if (code === 0) {
        resolve([]);
        return;
      }
      resolve(parseBatchErrors(stderr, commands));
    });
    child.stdin.on('error', () => undefined); // the close handler reports the failure
    child.stdin.end(commands.join('\n') + '\n');
  });
}

/** iproute2 prints each refusal as its error message(s) then `Command failed -:LINE`. */
export function parseBatchErrors(stderr: string, commands: readonly string[]): BatchFailure[] {
  const failures: BatchFailure[] = [];
  let pending: string[] = [];
  for (const line of stderr.split('\n')) {
    const failed = /^Command failed -:(\d+)/.exec(line);
    if (failed) {
      failures.push({ command: commands[Number(failed[1]) - 1] ?? `line ${failed[1]}`, error: pending.join(' ').trim() || 'refused' });
      pending = [];
    } else if (line.trim() !== '') {
      pending.push(line.trim());
    }
  }
  if (failures.length === 0) failures.push({ command: '(batch)', error: stderr.trim() || 'failed' });
  return failures;
}
