// The one shell script the scan runs on a node over SSH (Gingham agent or not: iproute2, ethtool,
// ping): the node's tables, vxlan.calico's neighbour and FDB entries, the tunnel devices'
// offloads, every network namespace's interfaces (wherever the runtime keeps them), the state
// directories' free space, the agent's install and control socket, firewall rules on BGP's port,
// and path-MTU probes with DF set to the other nodes. Sections start with `@@@ NAME`.
import { netnsLookupFunctions } from './netns-lookup-script.ts';

/**
 * Arguments: one per probe, `KIND ADDRESS DEV PEER` (DEV `-`: the route's own device). Each probe
 * sends a full-size ping (the device's MTU) and a small one at once; when only the small one is
 * answered, a ladder of common MTUs finds the largest that passes. All probes run in parallel,
 * one second's wait each, so a scan with probes takes about one to two seconds.
 */
export const scanScript = String.raw`
S=''; [ "$(id -u)" = 0 ] || S='sudo -n'
` + netnsLookupFunctions + String.raw`
sec() { printf '\n@@@ %s\n' "$1"; }
sec clock; date -u +'%s %H:%M:%S'
sec kernel; uname -r
sec routes; ip -json route show 2>&1
sec links; ip -json -d link show 2>&1
sec addrs; ip -json addr show 2>&1
if ip link show vxlan.calico >/dev/null 2>&1; then
  sec vxlan-neigh; ip -json neigh show dev vxlan.calico 2>&1
  sec vxlan-fdb; bridge -json fdb show dev vxlan.calico 2>&1
  sec 'offloads vxlan.calico'; $S ethtool -k vxlan.calico 2>&1
fi
if ip link show tunl0 >/dev/null 2>&1; then sec 'offloads tunl0'; $S ethtool -k tunl0 2>&1; fi
for p in $(all_netns); do sec "netns $p"; $S nsenter --net="$p" ip -json addr show 2>&1; done
sec df; for d in /var/lib/gingham /run/gingham /var/lib/calico /var/run/calico /; do [ -d "$d" ] && df -Pk "$d" 2>/dev/null | tail -n +2; done
sec agent
if [ -e /etc/gingham/agent.yaml ] || [ -e /opt/gingham/bin/gingham-agent ]; then echo installed; fi
if [ -S /run/gingham/agent.sock ]; then echo "socket $(stat -c %Y /run/gingham/agent.sock)"; fi
sec nft-bgp; $S nft list ruleset 2>/dev/null | grep -E '(dport|sport) (179|bgp)([^0-9]|$)' | grep -E 'drop|reject'
tmp=$(mktemp -d)
ping1() { if ping -n -q -c 1 -W 1 -M do -s "$3" "$2" >/dev/null 2>&1; then echo "probe $1 $2 $3 ok"; else echo "probe $1 $2 $3 fail"; fi; }
target() {
  kind=$1; addr=$2; dev=$3; peer=$4
  [ "$dev" = - ] && dev=$(ip -o route get "$addr" 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p')
  mtu=$(cat "/sys/class/net/$dev/mtu" 2>/dev/null) || return 0
  echo "target $kind $addr $dev $mtu $peer"
  full=$((mtu - 28))
  r=$( { ping1 "$kind" "$addr" "$full" & ping1 "$kind" "$addr" 56 & wait; } )
  echo "$r"
  case "$r" in *"$full fail"*) case "$r" in *" 56 ok"*)
    for m in 1480 1450 1400 1350 1300 1280 1200 1000 576; do [ $((m - 28)) -lt "$full" ] && ping1 "$kind" "$addr" $((m - 28)) & done; wait;;
  esac;; esac
}
i=0
for t in "$@"; do i=$((i + 1)); target $t > "$tmp/$i" & done
wait
sec probes; cat "$tmp"/* 2>/dev/null; rm -rf "$tmp"
exit 0
`;
