// Web mode's doors: only a page from the console's own origin, holding this launch's token, may
// open the API socket; only the built renderer's files are served; other Host names are refused.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConsoleBackend } from '../backend/console-backend.ts';
import { startWebServer, type WebServer } from './web-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'gcon-web-'));
let server: WebServer;
let backend: ConsoleBackend;

beforeAll(async () => {
  mkdirSync(join(dir, 'renderer'));
  writeFileSync(join(dir, 'renderer', 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(dir, 'secret.txt'), 'not for browsers');
  backend = new ConsoleBackend({ configDir: join(dir, 'config'), version: '9.9.9' });
  server = await startWebServer({ backend, rendererDir: join(dir, 'renderer') });
});
afterAll(async () => {
  await server.close();
  backend.close();
  rmSync(dir, { recursive: true, force: true });
});

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown> }> {
  const url = new URL(server.origin);
  return new Promise((resolve, reject) => {
    request({ host: url.hostname, port: url.port, path, headers }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    })
      .on('error', reject)
      .end();
  });
}

function open(query: string, origin: string | undefined): Promise<{ ws?: WebSocket; status?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${server.origin.replace('http', 'ws')}/api${query}`, origin ? { origin } : {});
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
    ws.once('error', () => resolve({}));
  });
}

describe('web server', () => {
  it('listens on 127.0.0.1 only and puts the token in the URL fragment', () => {
    expect(server.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).toBe(`${server.origin}/#token=${server.token}`);
    expect(server.token.length).toBeGreaterThanOrEqual(32);
  });

  it('serves the renderer under a strict CSP', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self';/);
    expect(page.headers['content-security-policy']).not.toMatch(/unsafe-eval/);
  });

  it('serves nothing outside the renderer folder', async () => {
    expect((await get('/../secret.txt')).status).toBe(404);
    expect((await get('/%2e%2e/secret.txt')).status).toBe(404);
  });

  it('refuses requests for another Host name (DNS rebinding)', async () => {
    expect((await get('/', { Host: 'attacker.example' })).status).toBe(421);
  });

  it('refuses the API without the token, with a wrong one, or from another origin', async () => {
    expect((await open('', server.origin)).status).toBe(401);
    expect((await open('?token=wrong', server.origin)).status).toBe(401);
    expect((await open(`?token=${server.token}`, 'http://attacker.example')).status).toBe(403);
  });

  it('closes a socket that sends an oversized message, and keeps serving others', async () => {
    const { ws } = await open(`?token=${encodeURIComponent(server.token)}`, server.origin);
    const closed = new Promise<number>((resolve) => ws!.once('close', (code) => resolve(code)));
    ws!.send('x'.repeat(3 * 1024 * 1024));
    expect(await closed).toBe(1009); // "message too big"
    const again = await open(`?token=${encodeURIComponent(server.token)}`, server.origin);
    expect(again.ws).toBeDefined();
    again.ws!.close();
  });

  it('answers a request from its own origin with the token, validated by the contract', async () => {
    const { ws } = await open(`?token=${encodeURIComponent(server.token)}`, server.origin);
    expect(ws).toBeDefined();
    const answers: unknown[] = [];
    ws!.on('message', (data) => answers.push(JSON.parse(data.toString())));
    ws!.send(JSON.stringify({ kind: 'request', id: 1, method: 'app.info', params: {} }));
    ws!.send(JSON.stringify({ kind: 'request', id: 2, method: 'nodes.add', params: { host: 'bad host' } }));
    await expect.poll(() => answers.length).toBe(2);
    expect(answers).toContainEqual({ kind: 'response', id: 1, ok: true, result: { version: '9.9.9', knownHostsPath: join(dir, 'config', 'known_hosts'), platform: process.platform } });
    expect(answers).toContainEqual(expect.objectContaining({ id: 2, ok: false, error: expect.objectContaining({ code: 'invalid-request' }) }));
    ws!.close();
  });
});
