// Secrets out of what goes into a diagnostics bundle: private keys (PEM blocks), bearer and
// ServiceAccount tokens (JWTs, `token:` fields, `Authorization: Bearer`), kubeconfig credentials
// (client-key-data, token, password), BGP passwords (BGPPeer `password` values, BIRD's
// `password "..."`, TCP-MD5 keys), and anything else named like a secret. Each one is replaced by
// `[REDACTED <what>]` and counted, so the bundle can list what it left out.
export interface Redaction {
  what: string;
  count: number;
}

interface Rule {
  what: string;
  pattern: RegExp;
  /** The replacement; `$1` keeps the field's name. */
  replace: string;
}

const rules: Rule[] = [
  { what: 'private key', pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----/g, replace: '[REDACTED private key]' },
  { what: 'JWT (a ServiceAccount or bearer token)', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, replace: '[REDACTED token]' },
  { what: 'bearer token', pattern: /(\bBearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, replace: '$1[REDACTED token]' },
  { what: 'kubeconfig client key', pattern: /(\bclient-key-data["']?\s*[:=]\s*["']?)[A-Za-z0-9+/=]{16,}/g, replace: '$1[REDACTED key]' },
  // token: x, "token": "x", password: x, "password": "x", secret, authKey, md5 keys; YAML, JSON and key=value.
  {
    what: 'token, password or key field',
    pattern: /((?:^|[\s{,"'])(?:token|bearer[-_]?token|password|passwd|secret|client[-_]?secret|auth[-_]?key|md5[-_]?key|tcp[-_]?md5[-_]?key|api[-_]?key|private[-_]?key)["']?\s*[:=]\s*["']?)(?!\[REDACTED)[^\s"',}]{1,}/gim,
    replace: '$1[REDACTED]',
  },
  // BIRD: password "x";
  { what: "BIRD's BGP password", pattern: /(\bpassword\s+")[^"]*(")/g, replace: '$1[REDACTED]$2' },
];

/** `text` with every secret replaced, and what was replaced (by kind, with counts). */
export function redact(text: string): { text: string; redactions: Redaction[] } {
  const redactions: Redaction[] = [];
  let out = text;
  for (const rule of rules) {
    let count = 0;
    out = out.replace(rule.pattern, (...args: unknown[]) => {
      count++;
      const groups = args.slice(1, -2) as (string | undefined)[];
      return rule.replace.replace(/\$(\d)/g, (_, i: string) => groups[Number(i) - 1] ?? '');
    });
    if (count > 0) redactions.push({ what: rule.what, count });
  }
  return { text: out, redactions };
}
