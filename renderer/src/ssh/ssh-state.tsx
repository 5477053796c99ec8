// The SSH nodes and their connections, shared by the Nodes and Terminal sections. Connecting runs
// the whole flow: an unknown host key is shown to the user, who decides; a changed key is refused
// with the backend's warning; every outcome ends in a state the UI shows (never a spinner forever).
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { HostKeyPrompt, RequestParams, SshNode } from '../../../shared/api/console-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import { HostKeyDialog } from './HostKeyDialog.tsx';

export type NodeConnection =
  | { state: 'idle' }
  | { state: 'connecting' }
  | { state: 'connected'; fingerprint?: string }
  | { state: 'disconnected'; reason: string }
  | { state: 'failed'; message: string; code: string; details?: Record<string, string> };

interface SshState {
  nodes: SshNode[];
  loadError?: string;
  connection(nodeId: string): NodeConnection;
  add(fields: RequestParams<'nodes.add'>): Promise<SshNode>;
  remove(nodeId: string): Promise<void>;
  /** Connects, asking the user about an unknown host key; resolves true when connected. */
  connect(node: SshNode): Promise<boolean>;
  disconnect(nodeId: string): Promise<void>;
}

const SshContext = createContext<SshState | undefined>(undefined);

export function useSsh(): SshState {
  const state = useContext(SshContext);
  if (!state) throw new Error('useSsh outside SshProvider');
  return state;
}

export function SshProvider({ children }: { children: ReactNode }) {
  const client = useClient();
  const [nodes, setNodes] = useState<SshNode[]>([]);
  const [loadError, setLoadError] = useState<string | undefined>();
  const [connections, setConnections] = useState<Record<string, NodeConnection>>({});
  const [prompt, setPrompt] = useState<{ node: SshNode; prompt: HostKeyPrompt } | undefined>();
  const decide = useRef<((trust: boolean) => void) | undefined>(undefined);
  const [knownHostsPath, setKnownHostsPath] = useState<string | undefined>();

  const setConnection = useCallback((nodeId: string, connection: NodeConnection) => {
    setConnections((all) => ({ ...all, [nodeId]: connection }));
  }, []);

  useEffect(() => {
    client.request('app.info', {}).then(
      (info) => setKnownHostsPath(info.knownHostsPath),
      () => undefined, // only used to say where a trusted key goes
    );
    client.request('nodes.list', {}).then(
      (r) => setNodes(r.nodes),
      (e: unknown) => setLoadError(isTransportLoss(e) ? undefined : messageOf(e)),
    );
    return client.on('ssh.status', (status) => {
      setConnection(status.nodeId, status.state === 'connected' ? { state: 'connected' } : { state: 'disconnected', reason: status.reason ?? 'Disconnected.' });
    });
  }, [client, setConnection]);

  const askUser = useCallback(
    (node: SshNode, hostKey: HostKeyPrompt) =>
      new Promise<boolean>((resolve) => {
        decide.current = resolve;
        setPrompt({ node, prompt: hostKey });
      }),
    [],
  );

  const connect = useCallback(
    async (node: SshNode): Promise<boolean> => {
      setConnection(node.id, { state: 'connecting' });
      try {
        // At most one question per hop (a bastion, then the node), never an endless loop.
        for (let attempt = 0; attempt < 4; attempt++) {
          const result = await client.request('ssh.connect', { nodeId: node.id });
          if (result.state === 'connected') {
            setConnection(node.id, { state: 'connected', fingerprint: result.fingerprint });
            return true;
          }
          if (!(await askUser(node, result.prompt))) {
            setConnection(node.id, { state: 'failed', code: 'host-key-rejected', message: 'You did not trust the host key, so the console did not connect.' });
            return false;
          }
          await client.request('ssh.trustHostKey', { promptId: result.prompt.promptId });
        }
        setConnection(node.id, { state: 'failed', code: 'internal', message: 'The node kept presenting unknown host keys.' });
        return false;
      } catch (error) {
        const e = error instanceof ConsoleError ? error : new ConsoleError('internal', messageOf(error));
        setConnection(node.id, { state: 'failed', code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) });
        return false;
      }
    },
    [client, askUser, setConnection],
  );

  const state = useMemo<SshState>(
    () => ({
      nodes,
      ...(loadError ? { loadError } : {}),
      connection: (nodeId) => connections[nodeId] ?? { state: 'idle' },
      add: async (fields) => {
        const node = await client.request('nodes.add', fields);
        setNodes((all) => [...all, node]);
        return node;
      },
      remove: async (nodeId) => {
        await client.request('nodes.remove', { nodeId });
        setNodes((all) => all.filter((n) => n.id !== nodeId));
      },
      connect,
      disconnect: async (nodeId) => {
        await client.request('ssh.disconnect', { nodeId });
        setConnection(nodeId, { state: 'idle' }); // the user's own doing: not an alert
      },
    }),
    [nodes, loadError, connections, client, connect, setConnection],
  );

  const answer = (trust: boolean) => {
    setPrompt(undefined);
    decide.current?.(trust);
    decide.current = undefined;
  };

  return (
    <SshContext.Provider value={state}>
      {children}
      {prompt && <HostKeyDialog nodeName={prompt.node.name} prompt={prompt.prompt} knownHostsPath={knownHostsPath} onAnswer={answer} />}
    </SshContext.Provider>
  );
}
