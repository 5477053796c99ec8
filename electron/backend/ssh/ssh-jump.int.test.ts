// Reaching a node as OpenSSH would: through a bastion named by ProxyJump in ~/.ssh/config, with the
// host key of each hop checked, and with keys from ssh-agent. Real sshd in two namespaces; the
// node's namespace is wired to the bastion's only, so there is no way to it but through the bastion.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleBackend } from '../console-backend.ts';
import { startSshdNode, type SshdNode } from '../../../lab/testing/sshd-node.ts';

let bastion: SshdNode;
let hidden: SshdNode;
let work: string;
let agent: ChildProcess | undefined;
let agentSocket: string;

beforeAll(async () => {
  bastion = await startSshdNode(2);
  hidden = await startSshdNode(3, { behind: bastion });
  work = mkdtempSync(join(tmpdir(), 'gcon-jump-'));
  writeFileSync(
    join(work, 'ssh_config'),
    `Host hidden-node
  HostName ${hidden.address}
  User root
  IdentityFile ${hidden.userKey}
  ProxyJump root@${bastion.address}

Host ${bastion.address}
  IdentityFile ${bastion.userKey}
`,
  );
  agentSocket = join(work, 'agent.sock');
  agent = spawn('ssh-agent', ['-D', '-a', agentSocket], { stdio: 'ignore' });
  for (let i = 0; i < 50 && !existsSync(agentSocket); i++) await new Promise((r) => setTimeout(r, 100));
  execFileSync('ssh-add', [bastion.userKey], { env: { ...process.env, SSH_AUTH_SOCK: agentSocket }, stdio: 'ignore' });
});

afterAll(async () => {
  agent?.kill();
  await hidden?.stop();
  await bastion?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function backendWith(options: { sshConfig?: string; agent?: string }, name: string) {
  const backend = new ConsoleBackend({
    configDir: join(work, name),
    ssh: { home: work, sshConfigPath: options.sshConfig ?? join(work, 'none'), agentSocket: options.agent ?? '' },
  });
  const output: string[] = [];
  const client = backend.attach((event, payload) => {
    if (event === 'terminal.data') output.push((payload as { data: string }).data);
  });
  return { backend, client, output };
}

describe('ProxyJump', () => {
  it('reaches a node only the bastion can reach, asking about each hop\'s host key in turn', async () => {
    const { backend, client, output } = backendWith({ sshConfig: join(work, 'ssh_config') }, 'jump');
    try {
      const { id } = await client.handlers['nodes.add']({ host: 'hidden-node' });
      const first = await client.handlers['ssh.connect']({ nodeId: id });
      expect(first).toMatchObject({ state: 'host-key-unknown', prompt: { host: bastion.address, fingerprint: bastion.hostKeyFingerprint() } });
      if (first.state !== 'host-key-unknown') return;
      await client.handlers['ssh.trustHostKey']({ promptId: first.prompt.promptId });

      const second = await client.handlers['ssh.connect']({ nodeId: id });
      expect(second).toMatchObject({ state: 'host-key-unknown', prompt: { host: hidden.address, fingerprint: hidden.hostKeyFingerprint() } });
      if (second.state !== 'host-key-unknown') return;
      await client.handlers['ssh.trustHostKey']({ promptId: second.prompt.promptId });

      expect(await client.handlers['ssh.connect']({ nodeId: id })).toMatchObject({ state: 'connected', fingerprint: hidden.hostKeyFingerprint() });
      // The shell really is on the hidden node.
      const { terminalId } = await client.handlers['terminal.open']({ nodeId: id, cols: 100, rows: 20 });
      client.notifications['terminal.input']({ terminalId, data: 'ip -br addr\n' });
      await expect.poll(() => output.join(''), { timeout: 10_000 }).toContain(`${hidden.address}/30`);
    } finally {
      client.detach();
      backend.close();
    }
  });

  it('refuses when the bastion cannot reach the node', async () => {
    const { backend, client } = backendWith({ sshConfig: join(work, 'ssh_config') }, 'jump');
    hidden.setLink(false, 'near'); // the bastion's end: it has no other route, so it fails at once
    try {
      const { id } = await client.handlers['nodes.add']({ host: 'hidden-node', name: 'down' });
      await expect(client.handlers['ssh.connect']({ nodeId: id })).rejects.toMatchObject({ code: 'ssh-unreachable', message: expect.stringMatching(/bastion .* could not reach/) });
    } finally {
      hidden.setLink(true, 'near');
      client.detach();
      backend.close();
    }
  });
});

describe('ssh-agent', () => {
  it('authenticates with a key held by the agent when no key file is given', async () => {
    const { backend, client } = backendWith({ agent: agentSocket }, 'agent');
    try {
      const { id } = await client.handlers['nodes.add']({ host: bastion.address, user: 'root' });
      const first = await client.handlers['ssh.connect']({ nodeId: id });
      if (first.state === 'host-key-unknown') await client.handlers['ssh.trustHostKey']({ promptId: first.prompt.promptId });
      expect(await client.handlers['ssh.connect']({ nodeId: id })).toMatchObject({ state: 'connected' });
    } finally {
      client.detach();
      backend.close();
    }
  });

  it('says which keys were refused when neither the agent nor a file has the right one', async () => {
    const { backend, client } = backendWith({}, 'nokey');
    try {
      const { id } = await client.handlers['nodes.add']({ host: bastion.address, user: 'root', identityFile: hidden.userKey });
      const first = await client.handlers['ssh.connect']({ nodeId: id });
      if (first.state === 'host-key-unknown') await client.handlers['ssh.trustHostKey']({ promptId: first.prompt.promptId });
      await expect(client.handlers['ssh.connect']({ nodeId: id })).rejects.toMatchObject({
        code: 'ssh-auth-failed',
        message: expect.stringContaining(`refused ${hidden.userKey}`),
      });
    } finally {
      client.detach();
      backend.close();
    }
  });
});
