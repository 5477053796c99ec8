// The agent's control socket: root-only (mode 0600 in a 0700 directory), so that only root on
// the node can read status or change anything. One socket per process; --control picks the path.
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { type Server, type Socket, connect, createServer } from 'node:net';
import path from 'node:path';
import { type RpcHandler, type RpcRequest, type RpcResponse, RpcErrorCode } from './protocol.ts';

export class RpcServer {
  private readonly handlers = new Map<string, RpcHandler>();
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(readonly socketPath: string) {}

  register(method: string, handler: RpcHandler): this {
    this.handlers.set(method, handler);
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
    try {
      return { jsonrpc: '2.0', id, result: await handler(request.params) };
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
