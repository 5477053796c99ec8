// The one shell script the doctor runs on a node over SSH (Gingham agent or not: plain iproute2),
// for one local address (a pod on the node) and one remote address (the other end): the node's
// tables, the pod's own namespace, and the kernel's forwarding decisions both ways, asked with
// `ip route get ... iif DEV` so that the kernel answers as it will forward (rp_filter included).
// The pod's namespace is found wherever its runtime keeps it (netns-lookup-script.ts).
// Each section starts with a line `@@@ NAME`; stderr is folded in so that a refusal is evidence too.
import { netnsLookupFunctions } from './netns-lookup-script.ts';

export const sectionMarker = '@@@ ';

/** $1 local address, $2 remote address, $3 the remote's node address (or empty), $4 a TCP port (or empty). */
export const nodeEvidenceScript = String.raw`
L="$1"; R="$2"; P="$3"; PORT="$4"
S=''; [ "$(id -u)" = 0 ] || S='sudo -n'
` + netnsLookupFunctions + String.raw`
sec() { printf '\n@@@ %s\n' "$1"; }
sec routes; ip -json route show 2>&1
sec links; ip -json -d link show 2>&1
sec addrs; ip -json addr show 2>&1
sec neigh; ip -json neigh show 2>&1
if ip link show vxlan.calico >/dev/null 2>&1; then sec fdb; bridge -json fdb show dev vxlan.calico 2>&1; fi
ns=$(netns_of "$L")
sec podns; echo "$ns"
if [ -n "$ns" ]; then
  inns() { $S nsenter --net="$ns" "$@"; }
  sec pod-links; inns ip -json link show 2>&1
  sec pod-addrs; inns ip -json addr show 2>&1
  sec pod-routes; inns ip -json route show 2>&1
  sec pod-get; inns ip -json route get "$R" 2>&1
  if [ -n "$PORT" ]; then sec pod-listen; inns ss -Hltn 2>&1; fi
fi
sec local-get; ip -json route get "$L" 2>&1
dev=$(ip -o route get "$L" 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p')
sec local-dev; echo "$dev"
if [ -n "$dev" ]; then sec forward; ip -json route get "$R" from "$L" iif "$dev" 2>&1; fi
if [ -n "$P" ]; then
  sec peer-get; ip -json route get "$P" 2>&1
  pdev=$(ip -o route get "$P" 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p')
else
  pdev=''
fi
for d in tunl0 vxlan.calico $pdev; do
  if ip link show "$d" >/dev/null 2>&1; then sec "arrive $d"; ip -json route get "$L" from "$R" iif "$d" 2>&1; fi
done
exit 0
`;

/** The script's output as sections, by name. */
export function parseSections(output: string): Record<string, string> {
  const sections: Record<string, string> = {};
  let name: string | undefined;
  let lines: string[] = [];
  const close = () => {
    if (name !== undefined) sections[name] = lines.join('\n').trim();
  };
  for (const line of output.split('\n')) {
    if (line.startsWith(sectionMarker)) {
      close();
      name = line.slice(sectionMarker.length).trim();
      lines = [];
    } else if (name !== undefined) {
      lines.push(line);
    }
  }
  close();
  return sections;
}
