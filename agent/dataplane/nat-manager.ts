// nat-outgoing: one nftables table of Gingham's own, replaced atomically in one `nft -f` run.
// Masquerade traffic from a natOutgoing pool to destinations outside every pool, as Felix's
// POSTROUTING rule with its two ipsets does.
import type { DesiredNat } from '../../shared/dataplane-plan/index.ts';
import { runNft } from './kernel/nft.ts';

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


export class NatManager {
  /** What `nft list table` printed right after the last apply: any difference later is drift. */
  private applied: { script: string; listing: string } | undefined;
  /** The table is known to be absent (checked or removed since the last apply). */
  private removed = false;

  /**
   * Reconciles the table; returns an error message or undefined. `check: false` trusts that the
   * table is as last applied (nothing reported a change) and only writes when the wanted table
   * differs: a pass then spawns no `nft` at all.
   */
  async reconcile(want: DesiredNat | undefined, options: { check?: boolean } = {}): Promise<string | undefined> {
    if (!(options.check ?? true)) {
      if (!want && this.applied === undefined && this.removed) return undefined;
      if (want && this.applied?.script === natScript(want)) return undefined;
    }
    const current = await runNft(['list', 'table', 'ip', natTable]);
    const listing = current.ok ? current.stdout : '';
    if (!want) {
      this.applied = undefined;
      this.removed = !current.ok;
      if (!current.ok) return undefined;
      const removed = await runNft(['delete', 'table', 'ip', natTable]);
      this.removed = removed.ok;
      return removed.ok ? undefined : `nft could not remove table ip ${natTable}: ${removed.stderr.trim()}`;
    }
    this.removed = false;
    const script = natScript(want);
    if (this.applied && this.applied.script === script && this.applied.listing === listing && current.ok) return undefined;
    const result = await runNft(['-f', '-'], script);
    if (!result.ok) return `nft refused the nat-outgoing table: ${result.stderr.trim()} (is nftables installed and the nf_tables module available?)`;
    const after = await runNft(['list', 'table', 'ip', natTable]);
    this.applied = { script, listing: after.stdout };
    return undefined;
  }
}
