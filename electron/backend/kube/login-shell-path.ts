// A desktop app started from the dock or a launcher does not inherit the PATH that the user's
// shell profile builds, so kubeconfig exec plugins (aws, gke-gcloud-auth-plugin, kubelogin ...)
// are "not found" although they run fine in a terminal (Lens #2290, Headlamp #1885). The fix, as
// those apps learned, is to ask the user's login shell for its PATH once and use it.
import { spawnSync } from 'node:child_process';
import { delimiter } from 'node:path';

const marker = '__GINGHAM_ENV__';

/** The PATH the user's login shell sets up, or undefined when the shell cannot tell within the timeout. */
export function loginShellPath(shell = process.env.SHELL, env: NodeJS.ProcessEnv = process.env, timeoutMs = 5_000): string | undefined {
  if (!shell || process.platform === 'win32') return undefined;
  // -i as well as -l: many users set PATH in .bashrc/.zshrc, which only interactive shells read.
  // `env` prints PATH the same way whatever the shell (fish keeps it as a list otherwise).
  const result = spawnSync(shell, ['-l', '-i', '-c', `echo ${marker}; env; echo ${marker}`], {
    env,
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  if (result.error || typeof result.stdout !== 'string') return undefined;
  const section = result.stdout.split(marker)[1];
  const line = section?.split('\n').find((l) => l.startsWith('PATH='));
  return line?.slice('PATH='.length) || undefined;
}

/** The login shell's entries first, then those only the current process has; no duplicates. */
export function mergePaths(login: string | undefined, current: string | undefined): string {
  const parts = [...(login ?? '').split(delimiter), ...(current ?? '').split(delimiter)].filter((p) => p !== '');
  return [...new Set(parts)].join(delimiter);
}
