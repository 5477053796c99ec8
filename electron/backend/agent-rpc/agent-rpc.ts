// The agent's JSON-RPC over SSH: a stream to the agent's root-only unix socket through the SSH
// connection (OpenSSH's direct-streamlocal, what `ssh -L local:/run/gingham/agent.sock` uses),
// one JSON object per line each way. Nothing is started on the node for a call.
import type { Client } from 'ssh2';
import { agentNodeLayout, checkAgentAnswer, type AgentMethod, type AgentMethods, type MethodParams, type MethodResult } from '../../../shared/api/agent-contract.ts';

export const agentControlSocket = agentNodeLayout.control;

export class AgentUnreachable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentUnreachable';
  }
}

export class AgentRpcError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'AgentRpcError';
  }
}

/** Calls one of the agent contract's methods over SSH; the answer is checked against the contract. */
export async function callAgent<M extends AgentMethod>(
  client: Client,
  method: M,
  params?: MethodParams<AgentMethods, M>,
  timeoutMs = 10_000,
  socket = agentControlSocket,
): Promise<MethodResult<AgentMethods, M>> {
  const answer = await callAgentUnchecked(client, method, params, timeoutMs, socket);
  try {
    return checkAgentAnswer(method, answer);
  } catch (error) {
    throw new AgentRpcError((error as Error).message, -32603);
  }
}

function callAgentUnchecked(client: Client, method: string, params: unknown, timeoutMs: number, socket: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (error: Error | undefined, value?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new AgentUnreachable(`the agent did not answer ${method} within ${timeoutMs / 1000} s`)), timeoutMs);
    client.openssh_forwardOutStreamLocal(socket, (error, stream) => {
      if (error) {
        // sshd says "open failed" for a missing socket and for a refused connection alike.
        finish(new AgentUnreachable(`no agent answers on ${socket} (${error.message}): is the agent installed and running?`));
        return;
      }
      let buffered = '';
      stream.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const newline = buffered.indexOf('\n');
        if (newline < 0) return;
        stream.close();
        try {
          const response = JSON.parse(buffered.slice(0, newline)) as { result?: unknown; error?: { code: number; message: string } };
          if (response.error) finish(new AgentRpcError(response.error.message, response.error.code));
          else finish(undefined, response.result);
        } catch (parseError) {
          finish(new AgentUnreachable(`the agent's answer to ${method} is not JSON: ${(parseError as Error).message}`));
        }
      });
      stream.on('close', () => finish(new AgentUnreachable(`the agent closed the connection before answering ${method}`)));
      stream.on('error', (streamError: Error) => finish(new AgentUnreachable(streamError.message)));
      stream.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method, ...(params === undefined ? {} : { params }) }) + '\n');
    });
  });
}
