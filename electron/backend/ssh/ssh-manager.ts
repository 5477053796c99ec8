// One SSH connection per node, shared by the node's terminals (and later its captures). Keeps the
// host keys waiting for the user's decision and reports every connection that drops.
import { randomUUID } from 'node:crypto';
import type { Client } from 'ssh2';
import type { SshConnectResult } from '../../../shared/api/console-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import type { NodeStore } from '../nodes/node-store.ts';
import { openSsh, type SshConnectOptions, type UnknownHostKey } from './connect.ts';

export interface SshStatus {
  nodeId: string;
  state: 'connected' | 'disconnected';
  reason?: string;
}

interface Connection {
  client: Client;
  hops: Client[];
  algorithm: string;
  fingerprint: string;
  /** Set when we close it ourselves, so that the close is not reported as a drop. */
  closing: boolean;
}

/** How long a shown fingerprint can be accepted: long enough to read and compare it, not forever. */
const promptLifetimeMs = 10 * 60_000;

export class SshManager {
  private readonly connections = new Map<string, Connection>();
  private readonly connecting = new Map<string, Promise<SshConnectResult>>();
  private readonly prompts = new Map<string, { hostKey: UnknownHostKey; expires: number }>();
  private readonly listeners = new Set<(status: SshStatus) => void>();

  constructor(
    private readonly nodes: NodeStore,
    private readonly options: SshConnectOptions,
  ) {}

  onStatus(listener: (status: SshStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private report(status: SshStatus): void {
    for (const listener of this.listeners) listener(status);
  }

  connect(nodeId: string): Promise<SshConnectResult> {
    const existing = this.connections.get(nodeId);
    if (existing) return Promise.resolve({ state: 'connected', algorithm: existing.algorithm, fingerprint: existing.fingerprint });
    let inFlight = this.connecting.get(nodeId);
    if (!inFlight) {
      inFlight = this.open(nodeId).finally(() => this.connecting.delete(nodeId));
      this.connecting.set(nodeId, inFlight);
    }
    return inFlight;
  }

  private async open(nodeId: string): Promise<SshConnectResult> {
    const node = this.nodes.get(nodeId);
    const outcome = await openSsh({ host: node.host, port: node.port, user: node.user, identityFile: node.identityFile }, this.options);
    if (outcome.kind === 'host-key-unknown') {
      const promptId = randomUUID();
      this.prompts.set(promptId, { hostKey: outcome.hostKey, expires: Date.now() + promptLifetimeMs });
      const { host, port, algorithm, fingerprint } = outcome.hostKey;
      return { state: 'host-key-unknown', prompt: { promptId, host, port, algorithm, fingerprint } };
    }
    const connection: Connection = { client: outcome.client, hops: outcome.hops, algorithm: outcome.algorithm, fingerprint: outcome.fingerprint, closing: false };
    this.connections.set(nodeId, connection);
    let lastError: string | undefined;
    outcome.client.on('error', (error: Error) => {
      lastError = /keepalive/i.test(error.message)
        ? `${node.name} stopped answering keepalives: the network or the node is down.`
        : `${node.name}: ${error.message}`;
    });
    outcome.client.once('close', () => {
      this.connections.delete(nodeId);
      for (const hop of connection.hops) hop.end();
      if (!connection.closing) {
        this.report({ nodeId, state: 'disconnected', reason: lastError ?? `${node.name} closed the SSH connection.` });
      }
    });
    this.report({ nodeId, state: 'connected' });
    return { state: 'connected', algorithm: outcome.algorithm, fingerprint: outcome.fingerprint };
  }

  /** Stores the key the user was shown under `promptId`; only that exact key, never one the renderer sends. */
  trust(promptId: string): { knownHostsPath: string; fingerprint: string } {
    const prompt = this.prompts.get(promptId);
    this.prompts.delete(promptId);
    if (!prompt || prompt.expires < Date.now()) {
      throw new ConsoleError('host-key-prompt-expired', 'This host key question has expired. Connect again to see the fingerprint afresh.');
    }
    const { host, port, key, fingerprint } = prompt.hostKey;
    this.options.knownHosts.trust(host, port, key);
    return { knownHostsPath: this.options.knownHosts.path, fingerprint };
  }

  client(nodeId: string): Client {
    const connection = this.connections.get(nodeId);
    if (!connection) throw new ConsoleError('ssh-disconnected', 'The node is not connected. Connect to it first.');
    return connection.client;
  }

  disconnect(nodeId: string): boolean {
    const connection = this.connections.get(nodeId);
    if (!connection) return false;
    connection.closing = true;
    connection.client.end();
    this.connections.delete(nodeId);
    this.report({ nodeId, state: 'disconnected', reason: 'Disconnected by you.' });
    return true;
  }

  disconnectAll(): void {
    for (const nodeId of [...this.connections.keys()]) this.disconnect(nodeId);
  }
}
