// Calls a method on an agent's control socket and returns its result, checked against the agent
// contract (an agent of another version that answers differently is named as such).
import { connect } from 'node:net';
import { checkAgentAnswer, type AgentMethod, type AgentMethods, type MethodParams, type MethodResult } from '../../shared/api/agent-contract.ts';
import type { RpcResponse } from './protocol.ts';

export class RpcCallError extends Error {
  constructor(message: string, readonly code?: number) {
    super(message);
    this.name = 'RpcCallError';
  }
}

/**
 * One of the contract's methods. The answer is checked against the method's result schema; a
 * caller of the same build that knows the fuller type (the speaker's own status, say) names it as T.
 */
export function callRpc<M extends AgentMethod>(socketPath: string, method: M, params?: MethodParams<AgentMethods, M>, timeoutMs?: number): Promise<MethodResult<AgentMethods, M>>;
export function callRpc<T>(socketPath: string, method: AgentMethod, params?: unknown, timeoutMs?: number): Promise<T>;
export async function callRpc(socketPath: string, method: AgentMethod, params?: unknown, timeoutMs = 10_000): Promise<unknown> {
  return checkAgentAnswer(method, await callRpcUnchecked(socketPath, method, params, timeoutMs));
}

/** Any method, unchecked: for servers of other method tables (tests of the RPC layer itself). */
export function callRpcUnchecked(socketPath: string, method: string, params?: unknown, timeoutMs = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new RpcCallError(`${socketPath} did not answer ${method} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) + '\n'));
    socket.on('data', (text: string) => {
      buffered += text;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      socket.destroy();
      const response = JSON.parse(buffered.slice(0, newline)) as RpcResponse;
      if ('error' in response) reject(new RpcCallError(response.error.message, response.error.code));
      else resolve(response.result);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = error.code === 'ENOENT' ? 'no such socket: is the speaker running? (start it with `gingham-agent bgp --config FILE`, or pass --control PATH)'
        : error.code === 'EACCES' ? 'permission denied: the control socket is root-only, run this as root'
          : error.code === 'ECONNREFUSED' ? 'nothing is listening on it (the process that made it has exited)' : error.message;
      reject(new RpcCallError(`cannot reach ${socketPath}: ${why}`));
    });
  });
}
