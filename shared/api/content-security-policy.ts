// The page's Content-Security-Policy, for both web mode (an HTTP header) and Electron (a response
// header on the app's own pages). Scripts only from the app itself, no eval, no inline scripts, no
// plugins, no framing, no form posts anywhere; network only back to the app's own origin.
// Inline styles stay allowed: xterm.js and React set element styles at run time.
export function contentSecurityPolicy(connectSrc: string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src ${["'self'", ...connectSrc].join(' ')}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}
