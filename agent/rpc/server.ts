// The agent's control socket: root-only (mode 0600 in a 0700 directory), so that only root on
// the node can read status or change anything. One socket per process; --control picks the path.
// It serves the methods of a contract (shared/api/agent-contract.ts): a handler is typed by its
// method's schemas, and a call whose params do not match is refused before the handler runs.
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { type Server, type Socket, connect, createServer } from 'node:net';
import path from 'node:path';
import type { z } from 'zod';
import { agentMethods, type AgentMethods, type RpcMethodTable } from '../../shared/api/agent-contract.ts';
import { type RpcHandler, type RpcRequest, type RpcResponse, RpcErrorCode } from './protocol.ts';

/**
 * What a handler must return: the result schema's fields, without its index signature (results
 * are loose objects so that callers tolerate fields they do not know, but a handler returning a
 * plain interface must still provide every field the schema names).
 */
type Known<T> = T extends readonly (infer U)[] ? Known<U>[] : T extends object ? { [K in keyof T as string extends K ? never : K]: Known<T[K]> } : T;
type Handler<T extends RpcMethodTable, M extends keyof T> = (params: z.output<T[M]['params']>) => Known<z.input<T[M]['result']>> | Promise<Known<z.input<T[M]['result']>>>;

export class RpcServer<T extends RpcMethodTable = AgentMethods> {
  private readonly handlers = new Map<string, RpcHandler>();
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly socketPath: string,
    private readonly methods: T = agentMethods as unknown as T,
  ) {}

  register<M extends keyof T & string>(method: M, handler: Handler<T, M>): this {
    this.handlers.set(method, handler as RpcHandler);
    return this;
  }

  async listen(): Promise<void> {
    const dir = path.dirname(this.socketPath);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await removeStaleSocket(this.socketPath);
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Create the socket with no permissions for others from the first moment.
      const oldMask = process.umask(0o177);
      server.listen(this.socketPath, () => {
        process.umask(oldMask);
        resolve();
      });
    });
    await chmod(this.socketPath, 0o600);
    this.server = server;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(this.socketPath, { force: true });
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      buffered += text;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim()) void this.answer(line).then((response) => socket.write(JSON.stringify(response) + '\n'));
      }
    });
  }

  private async answer(line: string): Promise<RpcResponse> {
    let request: RpcRequest;
    try {
      request = JSON.parse(line) as RpcRequest;
    } catch {
      return { jsonrpc: '2.0', id: null, error: { code: RpcErrorCode.ParseError, message: 'the request is not valid JSON' } };
    }
    if (typeof request !== 'object' || request === null || typeof request.method !== 'string') {
      return { jsonrpc: '2.0', id: null, error: { code: RpcErrorCode.InvalidRequest, message: 'expected {jsonrpc, id, method, params}' } };
    }
    const handler = this.handlers.get(request.method);
    const id = typeof request.id === 'number' ? request.id : null;
    if (!handler) {
      return { jsonrpc: '2.0', id, error: { code: RpcErrorCode.MethodNotFound, message: `no method ${request.method}; known: ${[...this.handlers.keys()].join(', ')}` } };
    }
    const params = this.methods[request.method]!.params.safeParse(request.params);
    if (!params.success) {
      const problems = params.error.issues.map((issue) => `${issue.path.join('.') || 'params'}: ${issue.message}`).join('; ');
      return { jsonrpc: '2.0', id, error: { code: RpcErrorCode.InvalidParams, message: `${request.method}: ${problems}` } };
    }
    try {
      return { jsonrpc: '2.0', id, result: await handler(params.data) };
    } catch (error) {
      return { jsonrpc: '2.0', id, error: { code: RpcErrorCode.InternalError, message: (error as Error).message } };
    }
  }
}

/** A socket file left by a process that died is removed; one that answers means a live owner. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  try {
    await stat(socketPath);
  } catch {
    return;
  }
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(socketPath);
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`${socketPath} is in use by a running process: stop it, or pass --control with another path`);
  await rm(socketPath, { force: true });
}
