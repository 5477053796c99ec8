// The built kubectl, run with a kubeconfig: what tests and `npm run controlplane -- kubectl` use.
import { spawn } from 'node:child_process';
import { ensureBinaries } from './build.ts';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl and collects its output; `input` goes to its stdin (for `apply -f -`). */
export async function kubectl(kubeconfig: string, args: string[], input?: string): Promise<KubectlResult> {
  const { kubectl: binary } = await ensureBinaries();
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['--kubeconfig', kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}
