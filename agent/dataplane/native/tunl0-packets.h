/*
 * The user-space tunl0's packet work, apart from its sockets and threads: cutting TCP
 * super-packets into segments, joining received segments into one, and taking the outer header
 * off a received IP-in-IP packet (with the check that it came from a cluster host). Pure
 * functions over caller-owned buffers, so that the fuzz harness (fuzz/packet-harness.c) calls
 * exactly what the helper runs, under AddressSanitizer.
 */
#ifndef GINGHAM_TUNL0_PACKETS_H
#define GINGHAM_TUNL0_PACKETS_H

#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdint.h>

#define TUNL0_VNET ((size_t)sizeof(struct virtio_net_hdr))
/* The largest IPv4 packet: what a joined packet may grow to. */
#define TUNL0_IP_MAX 65535

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80

uint16_t tunl0_get16(const unsigned char *p);
uint32_t tunl0_get32(const unsigned char *p);
void tunl0_put16(unsigned char *p, uint16_t v);
/* The one's complement sum of big-endian 16-bit words, added to `sum`, folded to 16 bits. */
uint32_t tunl0_sum16(const unsigned char *p, size_t length, uint32_t sum);
uint16_t tunl0_ip_checksum(const unsigned char *header, size_t length);

/*
 * Where segments go. `reserve` returns room for one segment of `size` bytes (the output side
 * sends what it holds first when it is full: any number of segments goes out in several
 * batches); `emit` queues the finished segment. Neither may fail.
 */
struct tunl0_segment_sink {
    unsigned char *(*reserve)(void *ctx, size_t size);
    void (*emit)(void *ctx, unsigned char *segment, size_t length);
    void *ctx;
};

/*
 * Cuts the TCP super-packet `ip` (IPv4, `length` bytes) into segments of at most `mss` payload
 * bytes, as the kernel's GSO would: headers copied, total length, IP id, sequence number and
 * flags set per segment, both checksums computed. Any MSS from 1 up and any payload size.
 * Returns the number of segments emitted, or -1 when the packet is malformed (dropped).
 */
long tunl0_segment_tcp(const unsigned char *ip, size_t length, size_t mss, const struct tunl0_segment_sink *sink);

/*
 * Finishes a checksum the kernel left to "hardware" (CHECKSUM_PARTIAL): csum_start and
 * csum_offset from the virtio-net header. Returns 0 (drop) when they point outside the packet.
 */
int tunl0_finish_checksum(unsigned char *ip, size_t length, size_t csum_start, size_t csum_offset);

/*
 * Receive offload: consecutive segments of one TCP flow joined into one large packet with a
 * virtio-net GSO header, as GRO does for a NIC. Packets that cannot join go out as they are.
 */
struct tunl0_coalescer {
    /* A packet as it came off the wire (no virtio-net header needed). */
    void (*write_plain)(void *ctx, const unsigned char *packet, size_t length);
    /* A virtio-net header followed by the joined IPv4 packet; `length` counts both. */
    void (*write_gso)(void *ctx, const unsigned char *buffer, size_t length);
    void *ctx;
    /* The packet being built: a virtio-net header, then one IPv4/TCP packet of joined segments. */
    unsigned char buf[TUNL0_VNET + TUNL0_IP_MAX];
    size_t length; /* of the IP packet */
    int segments;
    size_t header; /* IP + TCP header bytes */
    size_t mss;
    uint32_t next_seq;
    int push;
};

void tunl0_coalesce(struct tunl0_coalescer *c, const unsigned char *ip, size_t length);
/* Writes the packet being built, if any: at the end of every receive batch. */
void tunl0_coalesce_flush(struct tunl0_coalescer *c);

/* The cluster's host addresses (host byte order, sorted, no duplicates): the only outer sources accepted. */
struct tunl0_hosts {
    uint32_t *addresses;
    size_t count;
};

/* Sorts `addresses` and removes duplicates in place; returns the new count. */
size_t tunl0_hosts_normalize(uint32_t *addresses, size_t count);
int tunl0_hosts_contain(const struct tunl0_hosts *hosts, uint32_t address);

enum tunl0_decap {
    TUNL0_DECAP_OK = 0,
    TUNL0_DECAP_MALFORMED, /* not IPv4 protocol 4 with an IPv4 packet inside */
    TUNL0_DECAP_FOREIGN,   /* from a host outside the cluster */
};

/*
 * Checks the received IP-in-IP packet `p` (`length` bytes, outer header included) and finds its
 * inner packet. On TUNL0_DECAP_OK, *inner and *inner_length lie inside [p, p + length).
 */
enum tunl0_decap tunl0_decapsulate(const unsigned char *p, size_t length, const struct tunl0_hosts *hosts,
                                   const unsigned char **inner, size_t *inner_length);

#endif
