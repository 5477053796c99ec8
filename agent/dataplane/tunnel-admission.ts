// Tunnel packets only from the cluster's hosts: an nftables table of Gingham's own, `inet
// gingham-tunnels`, with a set of the cluster's host addresses and an input chain that drops
// IP-in-IP (protocol 4) and VXLAN (UDP 4789) from any other source, as Felix's rules with its
// all-hosts ipset do. Without it any host that can reach a node could put a packet, with any
// inner source, into the pod network. Replaced atomically in one `nft -f` run; removed with the
// tunnels. The user-space tunl0 helper checks the same set on its own (userspace-tunnel.ts).
import { execFile } from 'node:child_process';
import { vxlanPort, type DesiredTunnelAdmission } from '../../shared/dataplane-plan/index.ts';

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

function nft(args: readonly string[], input?: string): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile('nft', args, { encoding: 'utf8' }, (error, stdout, stderr) => resolve({ ok: !error, stdout, stderr }));
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** The table as it stands, without counters (which change with every packet dropped). */
const listTable = () => nft(['-s', 'list', 'table', 'inet', admissionTable]);

export class TunnelAdmissionManager {
  private applied: { script: string; listing: string } | undefined;
  private removed = false;

  /**
   * Reconciles the table; returns an error message or undefined. `check: false` trusts that the
   * table is as last applied (nothing reported a change) and only writes when the wanted table differs.
   */
  async reconcile(want: DesiredTunnelAdmission | undefined, options: { check?: boolean } = {}): Promise<string | undefined> {
    if (!(options.check ?? true)) {
      if (!want && this.applied === undefined && this.removed) return undefined;
      if (want && this.applied?.script === admissionScript(want)) return undefined;
    }
    const current = await listTable();
    if (!want) {
      this.applied = undefined;
      this.removed = !current.ok;
      if (!current.ok) return undefined;
      const removed = await nft(['delete', 'table', 'inet', admissionTable]);
      this.removed = removed.ok;
      return removed.ok ? undefined : `nft could not remove table inet ${admissionTable}: ${removed.stderr.trim()}`;
    }
    this.removed = false;
    const script = admissionScript(want);
    if (this.applied && this.applied.script === script && this.applied.listing === current.stdout && current.ok) return undefined;
    const result = await nft(['-f', '-'], script);
    if (!result.ok) return `nft refused the tunnel admission table: ${result.stderr.trim()} (is nftables installed and the nf_tables module available?)`;
    this.applied = { script, listing: (await listTable()).stdout };
    return undefined;
  }
}
