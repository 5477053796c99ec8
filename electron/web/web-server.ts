// The console backend over HTTP + WebSocket for a browser: the built renderer over HTTP and the
// console API over one WebSocket. Bound to 127.0.0.1 only. A per-launch token, carried in the
// launch URL's fragment and presented on the WebSocket, keeps other local pages and users out; the
// Host and Origin checks stop DNS-rebinding and cross-site pages even if they learn the port.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { createDispatcher, eventFrame } from '../../shared/api/dispatcher.ts';
import type { ConsoleBackend } from '../backend/console-backend.ts';
import { contentTypeOf } from '../backend/content-type.ts';
import { contentSecurityPolicy } from '../../shared/api/content-security-policy.ts';

export interface WebServerOptions {
  backend: ConsoleBackend;
  rendererDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** Default: a fresh random token. */
  token?: string;
  log?: (message: string) => void;
}

export interface WebServer {
  /** The URL to open, token included. */
  url: string;
  origin: string;
  token: string;
  close(): Promise<void>;
}

/** Largest message a client may send: a pasted blob into a terminal, not a denial of service. */
const maxPayload = 2 * 1024 * 1024;

function sameToken(presented: string | null, token: string): boolean {
  if (!presented) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const token = options.token ?? randomBytes(24).toString('base64url');
  const log = options.log ?? (() => undefined);
  let origin = '';
  let allowedHosts = new Set<string>();

  const securityHeaders = (res: ServerResponse) => {
    res.setHeader('Content-Security-Policy', contentSecurityPolicy([origin.replace(/^http/, 'ws')]));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-store');
  };

  const serveFile = (req: IncomingMessage, res: ServerResponse) => {
    securityHeaders(res);
    if (!allowedHosts.has(req.headers.host ?? '')) {
      res.writeHead(421, { 'Content-Type': 'text/plain' }).end('Wrong Host header: open the console at the URL it printed.\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const pathname = decodeURIComponent(new URL(req.url ?? '/', origin).pathname);
    const relative = normalize(pathname === '/' ? '/index.html' : pathname);
    const file = join(options.rendererDir, relative);
    if (!file.startsWith(options.rendererDir + sep)) {
      res.writeHead(404).end();
      return;
    }
    let size: number;
    try {
      const stat = statSync(file);
      if (!stat.isFile()) throw new Error('not a file');
      size = stat.size;
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': contentTypeOf(file), 'Content-Length': size });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  };

  const server = createServer(serveFile);
  const sockets = new WebSocketServer({ noServer: true, maxPayload });

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', origin);
    const refuse = (status: number, why: string) => {
      log(`refused a WebSocket from ${req.headers.origin ?? 'no origin'}: ${why}`);
      socket.end(`HTTP/1.1 ${status} ${why}\r\nConnection: close\r\n\r\n`);
    };
    if (url.pathname !== '/api') return refuse(404, 'Not Found');
    if (!allowedHosts.has(req.headers.host ?? '')) return refuse(421, 'Misdirected Request');
    // A browser always sends Origin on a WebSocket; a page from elsewhere cannot fake ours.
    if (req.headers.origin !== undefined && !allowedHosts.has(req.headers.origin.replace(/^http:\/\//, ''))) return refuse(403, 'Forbidden');
    if (!sameToken(url.searchParams.get('token'), token)) return refuse(401, 'Unauthorized');
    sockets.handleUpgrade(req, socket, head, (ws) => attach(ws));
  });

  function attach(ws: WebSocket) {
    const send = (frame: unknown) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
    };
    const client = options.backend.attach((event, payload) => {
      try {
        send(eventFrame(event, payload));
      } catch (error) {
        log(`dropped an event: ${(error as Error).message}`);
      }
    });
    const dispatcher = createDispatcher(client.handlers, client.notifications);
    ws.on('message', (data, isBinary) => {
      let frame: unknown;
      try {
        if (isBinary) throw new Error('binary frame');
        frame = JSON.parse(data.toString());
      } catch {
        ws.close(1003, 'The console API speaks JSON text frames.');
        return;
      }
      dispatcher.frame(frame).then(
        (response) => {
          if (response) send(response);
        },
        (error: Error) => ws.close(1008, error.message.slice(0, 120)),
      );
    });
    // A protocol error (an oversized or malformed frame) ends this socket only, never the backend.
    ws.on('error', (error) => {
      log(`closed a WebSocket: ${error.message}`);
      ws.terminate();
    });
    ws.on('close', () => client.detach());
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);

  return {
    url: `${origin}/#token=${token}`,
    origin,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of sockets.clients) ws.terminate();
        sockets.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
