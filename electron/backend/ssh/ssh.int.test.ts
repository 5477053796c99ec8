// SSH against a real sshd in a network namespace: host key trust on first use, refusal of a
// changed key, a drop reported through keepalives, and a PTY shell with flow control.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleBackend } from '../console-backend.ts';
import type { EventName, EventPayload } from '../../../shared/api/console-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { startSshdNode, type SshdNode } from '../../../lab/testing/sshd-node.ts';

let node: SshdNode;
let configDir: string;
let backend: ConsoleBackend;
const received: Array<{ event: EventName; payload: unknown }> = [];
let client: ReturnType<ConsoleBackend['attach']>;
let nodeId: string;

function waitFor<T>(find: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      const found = find();
      if (found !== undefined) return resolve(found);
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 25);
    };
    poll();
  });
}

function events<E extends EventName>(event: E): Array<EventPayload<E>> {
  return received.filter((r) => r.event === event).map((r) => r.payload as EventPayload<E>);
}

beforeAll(async () => {
  node = await startSshdNode(1);
  configDir = mkdtempSync(join(tmpdir(), 'gcon-config-'));
  backend = new ConsoleBackend({
    configDir,
    // Nothing of this machine's own SSH setup may leak into the test.
    ssh: { home: configDir, sshConfigPath: join(configDir, 'no-ssh-config'), agentSocket: '', keepaliveIntervalMs: 500, keepaliveCountMax: 2, readyTimeoutMs: 5_000 },
    terminalFlow: { highWater: 64 * 1024, lowWater: 16 * 1024 },
  });
  client = backend.attach((event, payload) => received.push({ event, payload }));
  nodeId = (await client.handlers['nodes.add']({ host: node.address, user: node.user, identityFile: node.userKey })).id;
});

afterAll(async () => {
  client?.detach();
  backend?.close();
  await node?.stop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

describe('host key verification', () => {
  it('shows an unknown host key with the fingerprint ssh-keygen prints, and stores it only once trusted', async () => {
    const first = await client.handlers['ssh.connect']({ nodeId });
    expect(first.state).toBe('host-key-unknown');
    if (first.state !== 'host-key-unknown') return;
    expect(first.prompt).toMatchObject({ host: node.address, port: 22, algorithm: 'ssh-ed25519', fingerprint: node.hostKeyFingerprint() });
    expect(() => readFileSync(backend.knownHosts.path, 'utf8')).toThrow(/ENOENT/);

    const trusted = await client.handlers['ssh.trustHostKey']({ promptId: first.prompt.promptId });
    expect(trusted.fingerprint).toBe(node.hostKeyFingerprint());
    expect(readFileSync(backend.knownHosts.path, 'utf8')).toMatch(new RegExp(`^${node.address.replace(/\./g, '\\.')} ssh-ed25519 AAAA`));

    const second = await client.handlers['ssh.connect']({ nodeId });
    expect(second).toEqual({ state: 'connected', algorithm: 'ssh-ed25519', fingerprint: node.hostKeyFingerprint() });
  });

  it('does not accept the same prompt twice', async () => {
    await expect(client.handlers['ssh.trustHostKey']({ promptId: 'not-a-prompt' })).rejects.toMatchObject({ code: 'host-key-prompt-expired' });
  });
});

describe('terminal', () => {
  it('runs a command in a PTY and shows its output', async () => {
    const { terminalId } = await client.handlers['terminal.open']({ nodeId, cols: 120, rows: 30 });
    client.notifications['terminal.input']({ terminalId, data: 'ip -br addr\n' });
    const screen = () => events('terminal.data').filter((e) => e.terminalId === terminalId).map((e) => e.data).join('');
    await waitFor(() => (screen().includes(`${node.address}/30`) ? true : undefined), 'the node address in the terminal');
    // The PTY has the size we asked for.
    client.notifications['terminal.resize']({ terminalId, cols: 100, rows: 40 });
    client.notifications['terminal.input']({ terminalId, data: 'stty size\n' });
    await waitFor(() => (screen().includes('40 100') ? true : undefined), 'the new size');
    await client.handlers['terminal.close']({ terminalId });
    await waitFor(() => events('terminal.exit').find((e) => e.terminalId === terminalId), 'terminal exit');
  });

  it('pauses a flood of output until the renderer acknowledges it, without splitting characters', async () => {
    const { terminalId } = await client.handlers['terminal.open']({ nodeId, cols: 80, rows: 24 });
    const mine = () => events('terminal.data').filter((e) => e.terminalId === terminalId);
    // 3 MB of 3-byte characters (€), far more than the 64 KiB window. The command line itself is
    // echoed by the PTY, so it spells neither € nor the end marker literally.
    client.notifications['terminal.input']({ terminalId, data: "head -c 1000000 /dev/zero | tr '\\0' x | sed 's/x/\\xe2\\x82\\xac/g' | fold -w 60; echo FLOOD-$((6*7))\n" });
    await waitFor(() => (mine().reduce((n, e) => n + e.bytes, 0) >= 64 * 1024 ? true : undefined), 'the first window of output');
    await new Promise((r) => setTimeout(r, 1_000));
    const unackedWhilePaused = mine().reduce((n, e) => n + e.bytes, 0);
    // Paused: what arrived is the window plus at most what was already in flight in one read.
    expect(unackedWhilePaused).toBeLessThanOrEqual(64 * 1024 + 64 * 1024);
    expect(mine().some((e) => e.data.includes('FLOOD-42'))).toBe(false);

    // Now draw (acknowledge) everything as it comes, like xterm.js does.
    let acked = 0;
    let worstBacklog = 0;
    const started = Date.now();
    await waitFor(() => {
      const total = mine().reduce((n, e) => n + e.bytes, 0);
      worstBacklog = Math.max(worstBacklog, total - acked);
      if (total > acked) {
        client.notifications['terminal.ack']({ terminalId, bytes: total - acked });
        acked = total;
      }
      return mine().some((e) => e.data.includes('FLOOD-42')) ? true : undefined;
    }, 'the end of the flood', 60_000);
    const text = mine().map((e) => e.data).join('');
    expect(text).not.toContain('\uFFFD');
    expect((text.match(/€/g) ?? []).length).toBe(1_000_000);
    // Never more unacknowledged output than the window plus one SSH read.
    expect(worstBacklog).toBeLessThanOrEqual(64 * 1024 + 64 * 1024);
    console.log(`flood: ${(Buffer.byteLength(text) / 1e6).toFixed(1)} MB through a 64 KiB window in ${Date.now() - started} ms, worst backlog ${worstBacklog} bytes`);
    await client.handlers['terminal.close']({ terminalId });
  }, 90_000);
});

describe('throughput, beside OpenSSH', () => {
  it("moves a 4 MB flood through a fast renderer at a rate comparable to OpenSSH's own client", async () => {
    const flood = "head -c 4000000 /dev/zero | tr '\\0' x; echo; echo END-$((6*7))";
    // Ours: a renderer that acknowledges each chunk as soon as it arrives.
    const fast = backend.attach((event, payload) => {
      if (event !== 'terminal.data') return;
      const data = payload as EventPayload<'terminal.data'>;
      fastBytes += data.bytes;
      fast.notifications['terminal.ack']({ terminalId: data.terminalId, bytes: data.bytes });
      if (data.data.includes('END-42')) finished?.();
    });
    let fastBytes = 0;
    let finished: (() => void) | undefined;
    const done = new Promise<void>((resolve) => (finished = resolve));
    try {
      const { terminalId } = await fast.handlers['terminal.open']({ nodeId, cols: 200, rows: 50 });
      const started = performance.now();
      fast.notifications['terminal.input']({ terminalId, data: `${flood}\n` });
      await done;
      const ours = performance.now() - started;

      // OpenSSH's client, with a PTY too, trusting the host through the console's own known_hosts:
      // the file is plain OpenSSH format, so StrictHostKeyChecking accepts it.
      const t0 = performance.now();
      const out = execFileSync('ssh', ['-tt', '-i', node.userKey, '-o', `UserKnownHostsFile=${backend.knownHosts.path}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `${node.user}@${node.address}`, flood], { maxBuffer: 64 * 1024 * 1024 });
      const openssh = performance.now() - t0;
      expect(out.toString()).toContain('END-42');
      const mbps = (ms: number) => (4 / (ms / 1000)).toFixed(1);
      console.log(`4 MB through a PTY: console backend ${ours.toFixed(0)} ms (${mbps(ours)} MB/s), OpenSSH ssh -tt ${openssh.toFixed(0)} ms (${mbps(openssh)} MB/s)`);
      expect(fastBytes).toBeGreaterThan(4_000_000);
      // Generous: a shared CI machine is noisy; this catches a stall, not a few percent.
      expect(ours).toBeLessThan(openssh * 10 + 2_000);
      await fast.handlers['terminal.close']({ terminalId });
    } finally {
      fast.detach();
    }
  }, 60_000);
});

describe('connection loss and key change', () => {
  it('reports a dropped connection when keepalives go unanswered', async () => {
    const before = events('ssh.status').length;
    node.setLink(false);
    try {
      const dropped = await waitFor(
        () => events('ssh.status').slice(before).find((s) => s.nodeId === nodeId && s.state === 'disconnected'),
        'the drop to be reported',
        8_000,
      );
      expect(dropped.reason).toMatch(/stopped answering keepalives/);
      // While the node is away, connecting ends in a reason within the handshake timeout, never a spinner.
      const started = Date.now();
      // (Address resolution gives up after about 3 s, "no route"; the handshake timeout is the backstop.)
      await expect(client.handlers['ssh.connect']({ nodeId })).rejects.toMatchObject({
        code: expect.stringMatching(/^ssh-(unreachable|timeout)$/),
        message: expect.stringMatching(/no route to|did not complete the SSH handshake in time/),
      });
      expect(Date.now() - started).toBeLessThan(5_000 + 2_000);
    } finally {
      node.setLink(true);
    }
  });

  it('refuses a changed host key with a warning naming both fingerprints, and keeps the old key', async () => {
    const oldFingerprint = node.hostKeyFingerprint();
    const knownBefore = readFileSync(backend.knownHosts.path, 'utf8');
    await node.restartWithNewHostKey();
    const error = (await client.handlers['ssh.connect']({ nodeId }).catch((e: unknown) => e)) as ConsoleError;
    expect(error).toBeInstanceOf(ConsoleError);
    expect(error.code).toBe('host-key-changed');
    expect(error.message).toMatch(/WARNING: the host key of .* has changed/);
    expect(error.details?.presented).toBe(`ssh-ed25519 ${node.hostKeyFingerprint()}`);
    expect(error.details?.recorded).toBe(`ssh-ed25519 ${oldFingerprint}`);
    expect(readFileSync(backend.knownHosts.path, 'utf8')).toBe(knownBefore);
  });
});
