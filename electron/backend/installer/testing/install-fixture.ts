// What the installer's integration tests stand on: two agent builds (an "old" and a "new"
// version), real sshd nodes in network namespaces with private /opt, /etc, /var/lib and /run
// folders for Gingham and private CNI folders (as the lab's nodes), and a real API server the nodes' agents reach.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ssh2, { type Client } from 'ssh2';
import { installedDirs } from '../node-scripts.ts';
import { runScript } from '../remote.ts';
import type { SshdNode } from '../../../../lab/testing/sshd-node.ts';

const { Client: SshClient } = ssh2;
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** What the installer writes to, private per node: never this machine's own /opt/cni or /etc/cni. */
export const cniDirs = ['/opt/cni', '/etc/cni'];
export const privateDirs = [...installedDirs, ...cniDirs];

/** Builds the agent into `outDir` with the given version (npm run build:agent, as a user runs it). */
export async function buildAgentArtifact(outDir: string, version: string): Promise<void> {
  await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(repo, 'scripts/build-agent.ts'), '--out', outDir, '--version', version], { cwd: repo, maxBuffer: 1 << 24 });
}

/** An SSH connection to a test node, its host key checked against the node's own. */
export function connectTo(node: SshdNode): Promise<Client> {
  const expected = node.hostKeyFingerprint();
  return new Promise((resolve, reject) => {
    const client = new SshClient();
    client.once('ready', () => resolve(client));
    client.once('error', reject);
    client.connect({
      host: node.address,
      port: node.port,
      username: node.user,
      privateKey: readFileSync(node.userKey),
      readyTimeout: 10_000,
      hostVerifier: (key: Buffer) => `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}` === expected,
    });
  });
}

/** Runs a shell script on the node over a connection of its own. */
export async function onNode(node: SshdNode, script: string): Promise<string> {
  const client = await connectTo(node);
  try {
    const result = await runScript(client, 'a test probe', script);
    return result.stdout;
  } finally {
    client.end();
  }
}
