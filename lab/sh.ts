// Running the system's tools (ip, nft, nsenter, ssh-keygen, ...) for the lab: output collected,
// failures turned into errors that name the command and quote its stderr.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface RunOptions {
  input?: string;
  /** Resolve with '' instead of throwing: for cleanup of things that may not exist. */
  allowFail?: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { maxBuffer: 1 << 28, timeout: options.timeoutMs ?? 120_000, ...(options.env ? { env: options.env } : {}) },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        if (options.allowFail) return resolve('');
        reject(new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
      },
    );
    // A command may exit without reading its input: that is not an error of ours.
    child.stdin?.on('error', () => {});
    child.stdin?.end(options.input ?? '');
  });
}

/** `run`, waiting for the command: for steps whose callers cannot wait (a test's synchronous checks). */
export function runSync(command: string, args: readonly string[], options: RunOptions = {}): string {
  try {
    return execFileSync(command, args, {
      encoding: 'utf8',
      input: options.input ?? '',
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 1 << 28,
      timeout: options.timeoutMs ?? 120_000,
      ...(options.env ? { env: options.env } : {}),
    });
  } catch (error) {
    if (options.allowFail) return '';
    const e = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** The same, never throwing: exit code and both streams. */
export function runResult(command: string, args: readonly string[], options: RunOptions = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(options.env ? { env: options.env } : {}) });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + error.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** True while the process runs; a zombie (ended, its parent not yet told) counts as ended. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Network namespaces that exist now (`ip netns list`), by name. */
export async function namespaces(): Promise<Set<string>> {
  const listed = await run('ip', ['netns', 'list'], { allowFail: true });
  return new Set(listed.split('\n').map((line) => line.split(' ')[0] ?? '').filter(Boolean));
}

/** Ends every process in a network namespace (TERM, then KILL after `graceMs`), then deletes it. */
export async function removeNamespace(netns: string, graceMs = 1500): Promise<void> {
  const pidsOf = async () => (await run('ip', ['netns', 'pids', netns], { allowFail: true })).split('\n').filter(Boolean).map(Number);
  let pids = await pidsOf();
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.length > 0 && Date.now() < deadline) {
    await sleep(100);
    pids = pids.filter(processAlive);
  }
  for (const pid of await pidsOf()) signal(pid, 'SIGKILL');
  await run('ip', ['netns', 'del', netns], { allowFail: true });
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
