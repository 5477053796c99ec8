// What a diagnostics bundle holds and says about itself: its files, the nodes it was taken from
// (those asked for, and one healthy node to compare with), what was redacted where, and the
// index page (index.html) an expert opens first.
import { z } from 'zod';
import type { ScanResult } from './scan-result.ts';

/** A file of the archive, its size after redaction, and what it holds (the command that made it). */
export const BundleFile = z.object({ path: z.string(), bytes: z.number(), about: z.string() });

export const BundleRedaction = z.object({ file: z.string(), what: z.string(), count: z.number() });
export type BundleRedaction = z.infer<typeof BundleRedaction>;

export const BundleResult = z.object({
  fileName: z.string(),
  /** The .tar.gz, base64 (the console's download; the CLI writes the file instead). */
  base64: z.string(),
  files: z.array(BundleFile),
  redactions: z.array(BundleRedaction),
  nodes: z.array(z.string()),
  /** The node taken for comparison: the one with the fewest scan findings among the others. */
  healthyNode: z.string().optional(),
  /** What could not be collected. */
  gaps: z.array(z.string()),
});
export type BundleResult = z.infer<typeof BundleResult>;

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export interface IndexFacts {
  createdAt: string;
  context: string;
  nodes: string[];
  healthyNode?: string;
  scan?: ScanResult;
  files: { path: string; bytes: number; about: string }[];
  redactions: BundleRedaction[];
  gaps: string[];
}

/** index.html: what the bundle is, the scan's findings, each file with what it holds, the redactions. */
export function indexPage(f: IndexFacts): string {
  const findings = f.scan?.findings ?? [];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gingham diagnostics ${escape(f.context)} ${escape(f.createdAt)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}td,th{text-align:left;padding:.2em .6em;vertical-align:top}code{font-size:12px}.error{color:#a00}.warning{color:#a60}</style></head>
<body>
<h1>Gingham diagnostics bundle</h1>
<p>Cluster context <code>${escape(f.context)}</code>, taken ${escape(f.createdAt)} from ${f.nodes.map((n) => `<code>${escape(n)}</code>`).join(', ')}${f.healthyNode ? `, and <code>${escape(f.healthyNode)}</code> (healthy, for comparison)` : ''}.</p>
<h2>Scan: ${findings.length} finding(s)</h2>
${findings.length === 0 ? '<p>Nothing found.</p>' : `<table><tr><th>severity</th><th>node</th><th>code</th><th>finding</th></tr>${findings.map((x) => `<tr class="${x.severity}"><td>${x.severity}</td><td>${escape(x.node)}</td><td><code>${escape(x.code)}</code></td><td>${escape(x.message)}</td></tr>`).join('')}</table>`}
<h2>Files</h2>
<table><tr><th>file</th><th>bytes</th><th>holds</th></tr>${f.files.map((x) => `<tr><td><a href="${escape(x.path)}"><code>${escape(x.path)}</code></a></td><td>${x.bytes}</td><td>${escape(x.about)}</td></tr>`).join('')}</table>
<h2>Redacted</h2>
${f.redactions.length === 0 ? '<p>Nothing needed redacting.</p>' : `<table><tr><th>file</th><th>what</th><th>count</th></tr>${f.redactions.map((r) => `<tr><td><code>${escape(r.file)}</code></td><td>${escape(r.what)}</td><td>${r.count}</td></tr>`).join('')}</table>`}
<p>Secrets (private keys, tokens, kubeconfig credentials, BGP passwords) are replaced by <code>[REDACTED ...]</code>; Kubernetes Secrets are never read.</p>
${f.gaps.length > 0 ? `<h2>Not collected</h2><ul>${f.gaps.map((g) => `<li>${escape(g)}</li>`).join('')}</ul>` : ''}
</body></html>
`;
}
