// The app's pages are served from the privileged scheme gingham://app rather than file://, so
// that they have a real origin, get the strict CSP as a response header, and cannot read
// arbitrary files by relative path.
import { readFile } from 'node:fs/promises';
import { join, normalize, sep } from 'node:path';
import { protocol } from 'electron';
import { contentSecurityPolicy } from '../../shared/api/content-security-policy.ts';
import { contentTypeOf } from '../backend/content-type.ts';

export const appScheme = 'gingham';
export const appOrigin = `${appScheme}://app`;

/** Must run before app is ready. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: appScheme, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

/** Serves the built renderer from `rendererDir`; must run once the app is ready. */
export function serveRenderer(rendererDir: string): void {
  protocol.handle(appScheme, async (request) => {
    const url = new URL(request.url);
    const file = join(rendererDir, normalize(url.pathname === '/' ? '/index.html' : decodeURIComponent(url.pathname)));
    if (url.host !== 'app' || !file.startsWith(rendererDir + sep)) return new Response('Not found', { status: 404 });
    try {
      return new Response(await readFile(file), {
        headers: {
          'Content-Type': contentTypeOf(file),
          'Content-Security-Policy': contentSecurityPolicy([]),
          'X-Content-Type-Options': 'nosniff',
        },
      });
    } catch {
      return new Response('Not found', { status: 404 });
    }
  });
}
