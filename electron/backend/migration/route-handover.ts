// The hand-over of a node's routes between calico-node and the Gingham agent, make-before-break:
// each route is rewritten in place with the other side's kernel protocol (`ip route replace`
// of the same destination and metric swaps it atomically), so no route is ever missing, and the
// side that starts next finds the routes as its own: the agent's dataplane (protocol 71) and its
// BGP speaker (72, adopted as its previous run's routes until peers have resent theirs), or
// Felix (80, and boot on pods' interfaces, as its main table ownership policy reads them) and
// BIRD (bird, kept through its graceful restart). The other side's own rules then decide what
// stays: a route neither wants is retired by the side that owns it now.
import type { Client } from 'ssh2';
import type { MigrationTarget } from '../../../shared/api/migration-contract.ts';
import { runScriptOk } from '../installer/remote.ts';

/** Kernel route protocols: the agent's dataplane and BGP speaker, Felix's own, the kernel's boot, BIRD's. */
export const routeProtocols = { ginghamDataplane: 71, ginghamBgp: 72, felix: 80, boot: 3, bird: 12 } as const;

interface Rule {
  from: number;
  /** Only routes whose line matches (the device), or every route of the protocol. */
  dev?: string;
  to: number;
}

/** Calico's pods' interfaces and its VXLAN device, as Felix owns routes on them with protocol boot. */
const calicoDevices = String.raw`dev (cali[0-9a-f]{11}|vxlan\.calico)( |$)`;

export function handOverRules(to: MigrationTarget): Rule[] {
  const p = routeProtocols;
  return to === 'gingham'
    ? [
        { from: p.felix, to: p.ginghamDataplane },
        { from: p.boot, dev: calicoDevices, to: p.ginghamDataplane },
        { from: p.bird, to: p.ginghamBgp },
      ]
    : [
        { from: p.ginghamDataplane, dev: String.raw`dev cali[0-9a-f]{11}( |$)`, to: p.boot },
        { from: p.ginghamDataplane, to: p.felix },
        { from: p.ginghamBgp, to: p.bird },
      ];
}

/**
 * One pass over the main table per rule, in order (a route moved by one rule is no longer of the
 * protocol the next rule reads). Flags `ip route show` prints but `ip route replace` refuses are
 * dropped. Prints `moved PROTO COUNT` per rule and `failed LINE` for a route the kernel refused.
 */
export function handOverScript(rules: Rule[]): string {
  const lines = ['set -u', 'S=""; [ "$(id -u)" = 0 ] || S="sudo -n"', 'tmp=$(mktemp); trap \'rm -f "$tmp"\' EXIT'];
  for (const rule of rules) {
    const filter = rule.dev ? ` | grep -E '${rule.dev}'` : '';
    lines.push(
      `ip route show table main proto ${rule.from}${filter} | sed -E 's/ (linkdown|dead|offload|trap|rt_offload|rt_trap|rt_offload_failed|pervasive)//g; s/ +$//' > "$tmp"`,
      'n=0',
      'while IFS= read -r r; do',
      '  [ -n "$r" ] || continue',
      `  if $S ip route replace $r proto ${rule.to} 2>/dev/null; then n=$((n+1)); else echo "failed $r"; fi`,
      'done < "$tmp"',
      `echo "moved ${rule.to} $n"`,
    );
  }
  return lines.join('\n');
}

export interface HandOver {
  /** Routes moved, by the protocol they went to. */
  moved: Record<string, number>;
  failed: string[];
}

export function parseHandOver(text: string): HandOver {
  const moved: Record<string, number> = {};
  const failed: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^moved (\d+) (\d+)$/.exec(line.trim());
    if (m) moved[m[1]!] = (moved[m[1]!] ?? 0) + Number(m[2]);
    else if (line.startsWith('failed ')) failed.push(line.slice(7));
  }
  return { moved, failed };
}

export async function handOverRoutes(client: Client, to: MigrationTarget): Promise<HandOver> {
  const result = parseHandOver(await runScriptOk(client, "handing the node's routes over", handOverScript(handOverRules(to)), [], 60_000));
  if (result.failed.length > 0) throw new Error(`the kernel refused to hand over ${result.failed.length} route(s): ${result.failed.slice(0, 5).join('; ')}`);
  return result;
}
