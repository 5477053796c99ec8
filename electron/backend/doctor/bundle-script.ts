// The shell script the diagnostics bundle runs on each chosen node over SSH: what a Calico or
// Gingham expert asks for first, each section a file of the bundle (`@@@ FILE`): the kernel's
// tables as JSON (routes of every table, links, addresses, neighbours, FDB, rules), the
// firewall (nftables, and iptables where it is), the sysctls that decide forwarding, the tunnel
// devices' offloads, the agent's configuration and the end of its log (or calico-node's), the
// CNI configuration, and the kernel and free space. Read only; nothing is changed on the node.
// Secrets in what it prints are redacted by the console before anything is written.

/** $1: how many log lines to keep. */
export const bundleScript = String.raw`
LINES="$1"
S=''; [ "$(id -u)" = 0 ] || S='sudo -n'
sec() { printf '\n@@@ %s\n' "$1"; }
sec uname.txt; uname -a; cat /etc/os-release 2>/dev/null | head -3
sec ip-route.json; ip -json route show table all 2>&1
sec ip-link.json; ip -json -d link show 2>&1
sec ip-addr.json; ip -json addr show 2>&1
sec ip-neigh.json; ip -json neigh show 2>&1
sec ip-rule.json; ip -json rule show 2>&1
sec bridge-fdb.json; bridge -json fdb show 2>&1
sec nft-ruleset.txt; $S nft list ruleset 2>&1
if command -v iptables-save >/dev/null 2>&1; then sec iptables-save.txt; $S iptables-save 2>&1 | head -n 5000; fi
sec sysctl.txt; sysctl net.ipv4.ip_forward net.ipv4.conf.all.rp_filter net.ipv4.conf.default.rp_filter net.ipv4.conf.all.forwarding 2>&1; for d in tunl0 vxlan.calico; do [ -e /proc/sys/net/ipv4/conf/$d ] && sysctl net.ipv4.conf.$d.rp_filter 2>&1; done
for d in tunl0 vxlan.calico; do ip link show "$d" >/dev/null 2>&1 && { sec "ethtool-$d.txt"; $S ethtool -k "$d" 2>&1; }; done
sec df.txt; df -Pk 2>&1
if [ -e /etc/gingham/agent.yaml ]; then sec agent.yaml; $S cat /etc/gingham/agent.yaml 2>&1; fi
if [ -e /etc/gingham/kubeconfig ]; then sec agent-kubeconfig.yaml; $S cat /etc/gingham/kubeconfig 2>&1; fi
if [ -e /var/lib/gingham/agent.log ]; then sec agent.log; $S tail -n "$LINES" /var/lib/gingham/agent.log 2>&1
elif command -v journalctl >/dev/null 2>&1 && $S journalctl -u gingham-agent -n 1 --no-pager >/dev/null 2>&1; then sec agent.log; $S journalctl -u gingham-agent -n "$LINES" --no-pager 2>&1; fi
for f in /var/log/calico/bird/current /var/log/calico/felix/current /var/log/calico/confd/current; do
  [ -e "$f" ] && { sec "calico-$(basename "$(dirname "$f")").log"; $S tail -n "$LINES" "$f" 2>&1; }
done
for f in /etc/cni/net.d/*; do [ -f "$f" ] && { sec "cni-$(basename "$f")"; $S cat "$f" 2>&1; }; done
exit 0
`;
