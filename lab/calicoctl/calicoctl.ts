// Runs the built calicoctl against a cluster as Calico's users do: Kubernetes datastore, a kubeconfig.
import { execFile } from 'node:child_process';
import { ensureCalicoctl } from './build.ts';

export interface CalicoctlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `asAdmins`: without --allow-version-mismatch, as an admin types it, so that calicoctl's check of
 * ClusterInformation's calicoVersion against its own runs too. Test clusters made by hand have no
 * ClusterInformation, so the flag is on by default.
 */
export async function calicoctl(kubeconfig: string, args: string[], options: { asAdmins?: boolean; input?: string } = {}): Promise<CalicoctlResult> {
  const binary = await ensureCalicoctl();
  return new Promise((resolve) => {
    execFile(
      binary,
      options.asAdmins ? args : [...args, '--allow-version-mismatch'],
      { env: { ...process.env, DATASTORE_TYPE: 'kubernetes', KUBECONFIG: kubeconfig }, encoding: 'utf8', timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ).stdin?.end(options.input ?? '');
  });
}
