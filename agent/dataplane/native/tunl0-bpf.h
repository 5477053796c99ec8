/*
 * The kernel fast path of the user-space tunl0: two small BPF programs, attached with tcx links,
 * that do what the kernel's ipip device would, for kernels that have BPF but no ipip module.
 *   tunl0 egress   a packet routed to tunl0 with a next hop in the route map gets its outer IPv4
 *                  header (protocol 4, from the node's address) and leaves by the underlay
 *                  interface (bpf_redirect_neigh): a 64 KiB TCP super-packet stays one packet,
 *                  marked IPXIP4 for GSO, where the pump has to cut it into wire-sized segments.
 *   underlay ingress  IP-in-IP to the node's address from a host in the host set loses its outer
 *                  header and is received on tunl0, as from the kernel's device.
 * Anything else (no route, IP options, fragments, a host outside the set) goes on to the pump in
 * tunl0.c, which counts and drops it or forwards it the slow way. The links belong to the helper's
 * file descriptors: when it exits, the kernel detaches both programs.
 */
#ifndef TUNL0_BPF_H
#define TUNL0_BPF_H

#include <stddef.h>
#include <stdint.h>

struct tunl0_bpf {
    int routes_map; /* LPM trie: {prefix length, IPv4} -> gateway (network byte order) */
    int hosts_map;  /* hash: IPv4 (network byte order) -> 1 */
    int links[2];
    char error[256]; /* why the fast path is off, when it is */
};

/*
 * Loads and attaches both programs: `tun_ifindex` is tunl0, `underlay_ifindex` the interface that
 * holds `local` (network byte order). Returns 0, or -1 with `error` saying why (no BPF, no tcx:
 * kernels before 6.6, a verifier refusal); the pump works alone then.
 */
int tunl0_bpf_start(struct tunl0_bpf *b, int tun_ifindex, int underlay_ifindex, uint32_t local);

/* Makes the route map hold exactly these routes (networks and gateways in network byte order). */
int tunl0_bpf_set_routes(struct tunl0_bpf *b, const uint32_t *nets, const int *prefixes, const uint32_t *gateways, size_t count);

/* Makes the host map hold exactly these addresses (host byte order, as the pump keeps them). */
int tunl0_bpf_set_hosts(struct tunl0_bpf *b, const uint32_t *addresses, size_t count);

/*
 * Whether a packet capture (tcpdump, Wireshark: an AF_PACKET socket) watches tunl0. A capture sees
 * what passes a device's transmit, and the egress program sends packets on before that: while one
 * watches, tunl0's outgoing packets go through the device and the pump, so that the capture sees
 * them as it would on the kernel's ipip device. Incoming packets are received on tunl0 either way.
 */
void tunl0_bpf_watched(int watched);

/* Packets each program has carried since it was loaded. */
void tunl0_bpf_counts(unsigned long *encapsulated, unsigned long *decapsulated);

#endif
