// A console backend connected to a fresh sshd node (lab/testing/sshd-node.ts), without a browser:
// what bench/capture-latency.ts measures the capture path on, up to the backend's events to the
// renderer. Here because the benchmarks reach the backend only through the e2e harness (layering).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventName } from '../shared/api/console-contract.ts';
import { ConsoleBackend, type ConsoleBackendOptions } from '../electron/backend/console-backend.ts';
import { startSshdNode, type SshdNode } from '../lab/testing/sshd-node.ts';
import { connectNode } from '../electron/backend/ssh/testing/connect-node.ts';

export interface CaptureBackend {
  node: SshdNode;
  nodeId: string;
  client: ReturnType<ConsoleBackend['attach']>;
  close(): Promise<void>;
}

/** `slot`, `prefix` and `subnet` as startSshdNode takes them; `onEvent` sees every event the renderer would. */
export async function connectedCaptureBackend(
  sshd: { slot: number; prefix: string; subnet: string },
  capture: ConsoleBackendOptions['capture'],
  onEvent: (event: EventName, payload: unknown) => void,
): Promise<CaptureBackend> {
  const node = await startSshdNode(sshd.slot, { prefix: sshd.prefix, subnet: sshd.subnet });
  const configDir = mkdtempSync(join(tmpdir(), `${sshd.prefix}-config-`));
  const backend = new ConsoleBackend({
    configDir,
    ssh: { home: configDir, sshConfigPath: join(configDir, 'no-ssh-config'), agentSocket: '', keepaliveIntervalMs: 5000, keepaliveCountMax: 3, readyTimeoutMs: 10_000 },
    ...(capture ? { capture } : {}),
  });
  const client = backend.attach(onEvent);
  const close = async () => {
    client.detach();
    backend.close();
    await node.stop();
    rmSync(configDir, { recursive: true, force: true });
  };
  try {
    const nodeId = await connectNode(client, 'capture-node', node);
    return { node, nodeId, client, close };
  } catch (error) {
    await close();
    throw error;
  }
}
