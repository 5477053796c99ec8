// nat-outgoing: one nftables table of Gingham's own, replaced atomically in one `nft -f` run.
// Masquerade traffic from a natOutgoing pool to destinations outside every pool, as Felix's
// POSTROUTING rule with its two ipsets does.
import { execFile } from 'node:child_process';
import type { DesiredNat } from '../../shared/dataplane-plan/index.ts';

export const natTable = 'gingham';

/** The nftables script that makes the table exactly `nat` (the table is replaced, never merged). */
export function natScript(nat: DesiredNat): string {
  const set = (name: string, cidrs: readonly string[]) =>
    `  set ${name} {\n    type ipv4_addr\n    flags interval\n${cidrs.length ? `    elements = { ${cidrs.join(', ')} }\n` : ''}  }\n`;
  return (
    `table ip ${natTable}\ndelete table ip ${natTable}\n` +
    `table ip ${natTable} {\n` +
    set('masq-pools', nat.masqueradeFrom) +
    set('all-pools', nat.allPools) +
    `  chain nat-outgoing {\n    type nat hook postrouting priority srcnat; policy accept;\n` +
    `    ip saddr @masq-pools ip daddr != @all-pools masquerade\n  }\n}\n`
  );
}

function nft(args: readonly string[], input?: string): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile('nft', args, { encoding: 'utf8' }, (error, stdout, stderr) => resolve({ ok: !error, stdout, stderr }));
    if (input !== undefined) child.stdin?.end(input);
  });
}

export class NatManager {
  /** What `nft list table` printed right after the last apply: any difference later is drift. */
  private applied: { script: string; listing: string } | undefined;

  /** Reconciles the table; returns an error message or undefined. */
  async reconcile(want: DesiredNat | undefined): Promise<string | undefined> {
    const current = await nft(['list', 'table', 'ip', natTable]);
    const listing = current.ok ? current.stdout : '';
    if (!want) {
      this.applied = undefined;
      if (!current.ok) return undefined;
      const removed = await nft(['delete', 'table', 'ip', natTable]);
      return removed.ok ? undefined : `nft could not remove table ip ${natTable}: ${removed.stderr.trim()}`;
    }
    const script = natScript(want);
    if (this.applied && this.applied.script === script && this.applied.listing === listing && current.ok) return undefined;
    const result = await nft(['-f', '-'], script);
    if (!result.ok) return `nft refused the nat-outgoing table: ${result.stderr.trim()} (is nftables installed and the nf_tables module available?)`;
    const after = await nft(['list', 'table', 'ip', natTable]);
    this.applied = { script, listing: after.stdout };
    return undefined;
  }
}
