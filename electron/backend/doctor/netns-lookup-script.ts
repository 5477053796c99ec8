// Finding a pod's network namespace on a node, wherever its runtime keeps it: the names under
// /var/run/netns (containerd, CRI-O, `ip netns`), Docker's /var/run/docker/netns, and any other
// namespace a process holds (/proc/PID/ns/net), each one once (by its inode). A namespace is
// named by a path that `nsenter --net=PATH` enters, so no runtime has to have named it.
// Only namespaces wired to this node count: one of their veths has its peer among the node's own
// veths (the pod's eth0@ifN is the node's caliX@ifM, crosswise), so that a machine whose nodes
// share one process table (the lab, containers) does not hand a node its neighbours' pods.

/**
 * Shell functions for the doctor's node scripts: `all_netns` prints one path per pod network
 * namespace of this node; `netns_of ADDR` prints the path of the one that holds ADDR (or nothing).
 * `$S` is `sudo -n` when not root.
 */
export const netnsLookupFunctions = String.raw`
veth_pairs() { sed -n 's/^\([0-9]*\): [^@:]*@if\([0-9]*\):.*/\1 \2/p'; }
all_netns() {
  self=$(stat -L -c %i /proc/self/ns/net 2>/dev/null)
  wired=$(ip -o link show type veth 2>/dev/null | veth_pairs | awk '{ print $2 " " $1 }')
  [ -n "$wired" ] || return 0
  {
    for f in /var/run/netns/* /run/netns/* /var/run/docker/netns/*; do
      [ -e "$f" ] && printf '%s %s\n' "$($S stat -L -c %i "$f" 2>/dev/null)" "$f"
    done
    $S ls -l /proc/[0-9]*/ns/net 2>/dev/null | sed -n 's|.* \(/proc/[0-9]*/ns/net\) -> net:\[\([0-9]*\)\]$|\2 \1|p'
  } | awk -v self="$self" '$1 != "" && $1 != self && !seen[$1]++ { print $2 }' | while read -r p; do
    if $S nsenter --net="$p" ip -o link show type veth 2>/dev/null | veth_pairs | grep -qxF -e "$wired"; then echo "$p"; fi
  done
}
netns_of() {
  for p in $(all_netns); do
    if $S nsenter --net="$p" ip -o -4 addr show 2>/dev/null | grep -qF " inet $1/"; then echo "$p"; return 0; fi
  done
  return 0
}
`;
