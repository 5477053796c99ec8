// Calls the CNI plugin the way a container runtime does: a new process in the node's network
// namespace, CNI_* in its environment, the network configuration on stdin, the result on stdout.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface PluginRun {
  code: number;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
}

export interface PodCall {
  command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION';
  containerId?: string;
  netns?: string;
  ifName?: string;
  namespace?: string;
  pod?: string;
}

export function runPlugin(nodeNetns: string, call: PodCall, config: unknown): Promise<PluginRun> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    CNI_COMMAND: call.command,
    CNI_PATH: '/opt/cni/bin',
    ...(call.containerId ? { CNI_CONTAINERID: call.containerId } : {}),
    ...(call.netns ? { CNI_NETNS: call.netns } : {}),
    CNI_IFNAME: call.ifName ?? 'eth0',
    ...(call.pod ? { CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${call.namespace ?? 'default'};K8S_POD_NAME=${call.pod};K8S_POD_INFRA_CONTAINER_ID=${call.containerId}` } : {}),
  };
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', nodeNetns, process.execPath, '--import', 'tsx', path.join(repo, 'agent/cli/bin.ts'), 'cni'], {
      cwd: repo,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? 1, stdout, stderr, json });
    });
    child.stdin.end(typeof config === 'string' ? config : JSON.stringify(config));
  });
}
