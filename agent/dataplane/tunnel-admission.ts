// Tunnel packets only from the cluster's hosts: an nftables table of Gingham's own, `inet
// gingham-tunnels`, with a set of the cluster's host addresses and an input chain that drops
// IP-in-IP (protocol 4) and VXLAN (UDP 4789) from any other source, as Felix's rules with its
// all-hosts ipset do. Without it any host that can reach a node could put a packet, with any
// inner source, into the pod network. Replaced atomically in one `nft -f` run; removed with the
// tunnels. The user-space tunl0 helper checks the same set on its own (userspace-tunnel.ts).
import { vxlanPort, type DesiredTunnelAdmission } from '../../shared/dataplane-plan/index.ts';
import { runNft } from './kernel/nft.ts';

export const admissionTable = 'gingham-tunnels';

/** The nftables script that makes the table exactly `want` (replaced, never merged). */
export function admissionScript(want: DesiredTunnelAdmission): string {
  const rules = [
    // Counters say how many were dropped (`nft list table inet gingham-tunnels`).
    ...(want.ipip ? ['ip protocol 4 ip saddr != @cluster-hosts counter drop comment "IP-in-IP from outside the cluster"'] : []),
    ...(want.vxlan ? [`udp dport ${vxlanPort} ip saddr != @cluster-hosts counter drop comment "VXLAN from outside the cluster"`] : []),
  ];
  return (
    `table inet ${admissionTable}\ndelete table inet ${admissionTable}\n` +
    `table inet ${admissionTable} {\n` +
    `  set cluster-hosts {\n    type ipv4_addr\n${want.hosts.length ? `    elements = { ${want.hosts.join(', ')} }\n` : ''}  }\n` +
    // Before conntrack's and everyone's filter: a tunnel packet from outside never gets further.
    `  chain tunnel-admission {\n    type filter hook input priority raw; policy accept;\n` +
    rules.map((r) => `    ${r}\n`).join('') +
    `  }\n}\n`
  );
}


/** The table as it stands, without counters (which change with every packet dropped). */
const listTable = () => runNft(['-s', 'list', 'table', 'inet', admissionTable]);

export class TunnelAdmissionManager {
  /** The script last written, and the table as listed just after (compared on a check for drift). */
  private applied: { script: string; listing: Promise<string | undefined> } | undefined;
  private removed = false;

  /**
   * Reconciles the table; returns an error message or undefined. `check: false` trusts that the
   * table is as last applied (nothing reported a change) and only writes when the wanted table differs.
   */
  async reconcile(want: DesiredTunnelAdmission | undefined, options: { check?: boolean } = {}): Promise<string | undefined> {
    const check = options.check ?? true;
    if (!want) {
      if (!check && this.applied === undefined && this.removed) return undefined;
      const current = await listTable();
      this.applied = undefined;
      this.removed = !current.ok;
      if (!current.ok) return undefined;
      const removed = await runNft(['delete', 'table', 'inet', admissionTable]);
      this.removed = removed.ok;
      return removed.ok ? undefined : `nft could not remove table inet ${admissionTable}: ${removed.stderr.trim()}`;
    }
    this.removed = false;
    const script = admissionScript(want);
    if (this.applied?.script === script) {
      if (!check) return undefined;
      const [current, listing] = await Promise.all([listTable(), this.applied.listing]);
      if (current.ok && current.stdout === listing) return undefined;
    }
    // A table other than the one wanted is replaced whatever it holds (the script deletes it
    // first), so it is not read before: one nft process on the way of a mode switch, not three
    // (the pass that makes vxlan.calico spent 160-300 ms here on the loaded lab).
    const result = await runNft(['-f', '-'], script);
    if (!result.ok) {
      this.applied = undefined;
      return `nft refused the tunnel admission table: ${result.stderr.trim()} (is nftables installed and the nf_tables module available?)`;
    }
    // The listing a later check compares with is read beside the next steps, not before them.
    this.applied = { script, listing: listTable().then((l) => (l.ok ? l.stdout : undefined)) };
    return undefined;
  }
}
