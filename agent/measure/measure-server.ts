// The measuring server (measure-protocol.ts), run in a pod's namespace (or the host's) by
// `gingham-agent measure serve`. It stops after `lifetimeMs`, so a console that goes away while
// measuring leaves nothing running on the node, and sooner once it has served and then sat idle
// for `idleMs` (the client's tests follow each other with no gap).
import { createServer, type Server, type Socket } from 'node:net';
import { requestResponseMode, streamMode, type StreamReport } from './measure-protocol.ts';

function serveStream(socket: Socket, first: Buffer): void {
  let bytes = first.length;
  const started = process.hrtime.bigint();
  socket.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  socket.on('end', () => {
    const report: StreamReport = { bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
    socket.end(JSON.stringify(report));
  });
}

function serveRequestResponse(socket: Socket, first: Buffer): void {
  socket.setNoDelay(true);
  // One answer byte per request byte, whatever the chunking.
  const answer = (chunk: Buffer) => socket.write(Buffer.alloc(chunk.length, 1));
  if (first.length > 0) answer(first);
  socket.on('data', answer);
  socket.on('end', () => socket.end());
}

export function startMeasureServer(host: string, port: number, lifetimeMs: number, idleMs = lifetimeMs): Promise<Server> {
  let open = 0;
  let idle: NodeJS.Timeout | undefined;
  const server = createServer((socket) => {
    open++;
    if (idle) clearTimeout(idle);
    socket.on('close', () => {
      if (--open === 0) idle = setTimeout(() => server.close(), idleMs).unref();
    });
    socket.on('error', () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      const rest = chunk.subarray(1);
      if (chunk[0] === streamMode) serveStream(socket, rest);
      else if (chunk[0] === requestResponseMode) serveRequestResponse(socket, rest);
      else socket.destroy();
    });
  });
  const timer = setTimeout(() => server.close(), lifetimeMs);
  timer.unref();
  server.on('close', () => {
    clearTimeout(timer);
    if (idle) clearTimeout(idle);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
