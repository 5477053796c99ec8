/* The user-space tunl0's packet work: see tunl0-packets.h. Every length here comes from a
 * packet, which a remote pod or a host outside the cluster may have shaped: each read and write
 * is checked against the buffer it lands in, not against what a header claims. */
#include "tunl0-packets.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

uint16_t tunl0_get16(const unsigned char *p) { return (uint16_t)((p[0] << 8) | p[1]); }
uint32_t tunl0_get32(const unsigned char *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }
void tunl0_put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v; }
static void put32(unsigned char *p, uint32_t v) { tunl0_put16(p, (uint16_t)(v >> 16)); tunl0_put16(p + 2, (uint16_t)v); }

static uint16_t fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

uint32_t tunl0_sum16(const unsigned char *p, size_t length, uint32_t sum) {
    uint64_t wide = sum;
    while (length >= 4) {
        wide += ((uint32_t)p[0] << 8 | p[1]) + ((uint32_t)p[2] << 8 | p[3]);
        p += 4;
        length -= 4;
    }
    if (length >= 2) {
        wide += (uint32_t)p[0] << 8 | p[1];
        p += 2;
        length -= 2;
    }
    if (length) wide += (uint32_t)p[0] << 8;
    while (wide >> 32) wide = (wide & 0xffffffffu) + (wide >> 32);
    return fold((uint32_t)(wide & 0xffff) + (uint32_t)(wide >> 16));
}

uint16_t tunl0_ip_checksum(const unsigned char *header, size_t length) {
    return (uint16_t)~tunl0_sum16(header, length, 0);
}

/* ---- Outbound: TCP segmentation ---- */

long tunl0_segment_tcp(const unsigned char *ip, size_t length, size_t mss, const struct tunl0_segment_sink *sink) {
    if (length < 40 || (ip[0] >> 4) != 4 || mss == 0) return -1;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    if (ihl < 20 || length < ihl + 20) return -1;
    size_t tcp = (size_t)(ip[ihl + 12] >> 4) * 4;
    size_t header = ihl + tcp;
    /* Every field written below (IP length, id, checksum; TCP sequence, flags, checksum) lies
     * inside `header`, which each segment copies whole. */
    if (tcp < 20 || header > length || header > TUNL0_IP_MAX) return -1;
    size_t payload = length - header;
    uint32_t seq = tunl0_get32(ip + ihl + 4);
    uint16_t id = tunl0_get16(ip + 4);
    uint8_t flags = ip[ihl + 13];
    long count = 0;
    size_t offset = 0;
    do {
        size_t chunk = payload - offset < mss ? payload - offset : mss;
        if (chunk > TUNL0_IP_MAX - header) chunk = TUNL0_IP_MAX - header; /* an MSS past what IPv4 can carry */
        size_t total = header + chunk;
        unsigned char *s = sink->reserve(sink->ctx, total);
        memcpy(s, ip, header);
        memcpy(s + header, ip + header + offset, chunk);
        tunl0_put16(s + 2, (uint16_t)total);
        tunl0_put16(s + 4, (uint16_t)(id + (uint16_t)count));
        tunl0_put16(s + 10, 0);
        tunl0_put16(s + 10, tunl0_ip_checksum(s, ihl));
        put32(s + ihl + 4, seq + (uint32_t)offset);
        uint8_t f = flags;
        if (offset + chunk < payload) f &= (uint8_t)~(TCP_FIN | TCP_PSH);
        if (count > 0) f &= (uint8_t)~TCP_CWR;
        s[ihl + 13] = f;
        tunl0_put16(s + ihl + 16, 0);
        uint32_t sum = tunl0_sum16(s + 12, 8, IPPROTO_TCP + (uint32_t)(total - ihl));
        tunl0_put16(s + ihl + 16, (uint16_t)~tunl0_sum16(s + ihl, total - ihl, sum));
        sink->emit(sink->ctx, s, total);
        offset += chunk;
        count++;
    } while (offset < payload);
    return count;
}

int tunl0_finish_checksum(unsigned char *ip, size_t length, size_t start, size_t offset) {
    if (length < 20 || start > length || offset > length || start + offset + 2 > length) return 0;
    uint16_t sum = (uint16_t)~tunl0_sum16(ip + start, length - start, 0);
    if (sum == 0 && ip[9] == IPPROTO_UDP) sum = 0xffff;
    tunl0_put16(ip + start + offset, sum);
    return 1;
}

/* ---- Inbound: receive offload ---- */

void tunl0_coalesce_flush(struct tunl0_coalescer *c) {
    if (c->segments == 0) return;
    unsigned char *ip = c->buf + TUNL0_VNET;
    if (c->segments == 1) {
        c->write_plain(c->ctx, ip, c->length); /* untouched, checksums as they came off the wire */
    } else {
        tunl0_put16(ip + 2, (uint16_t)c->length);
        tunl0_put16(ip + 10, 0);
        tunl0_put16(ip + 10, tunl0_ip_checksum(ip, 20));
        if (c->push) ip[33] |= TCP_PSH;
        /* CHECKSUM_PARTIAL: the TCP checksum field holds the pseudo-header sum; the kernel (or
         * the segmentation that follows) finishes it per segment. */
        uint32_t sum = tunl0_get16(ip + 12) + tunl0_get16(ip + 14) + tunl0_get16(ip + 16) + tunl0_get16(ip + 18) + IPPROTO_TCP + (uint32_t)(c->length - 20);
        tunl0_put16(ip + 36, fold(sum));
        struct virtio_net_hdr h;
        memset(&h, 0, sizeof h);
        h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        h.hdr_len = (uint16_t)c->header;
        h.gso_size = (uint16_t)c->mss;
        h.csum_start = 20;
        h.csum_offset = 16;
        memcpy(c->buf, &h, sizeof h);
        c->write_gso(c->ctx, c->buf, TUNL0_VNET + c->length);
    }
    c->segments = 0;
}

/* A plain data segment that may be joined: IPv4 without options or fragments, TCP with ACK
 * (and maybe PSH) only, with payload, its length field the packet's, and both checksums right.
 * The joined packet goes to the kernel as CHECKSUM_PARTIAL, which the pod's TCP trusts: as GRO
 * does, a segment is joined only once its checksums are verified, and one that fails goes on
 * alone, for TCP to drop. Returns the TCP header length, or 0. */
static size_t joinable(const unsigned char *ip, size_t length) {
    if (length < 40 || length > TUNL0_IP_MAX || ip[0] != 0x45 || ip[9] != IPPROTO_TCP || (tunl0_get16(ip + 6) & 0x3fff) != 0 || tunl0_get16(ip + 2) != length) return 0;
    size_t tcp = (size_t)(ip[32] >> 4) * 4;
    if (tcp < 20 || 20 + tcp >= length) return 0;
    if ((ip[33] & ~TCP_PSH) != TCP_ACK) return 0;
    if (tunl0_sum16(ip, 20, 0) != 0xffff) return 0;
    uint32_t pseudo = tunl0_sum16(ip + 12, 8, IPPROTO_TCP + (uint32_t)(length - 20));
    if (tunl0_sum16(ip + 20, length - 20, pseudo) != 0xffff) return 0;
    return tcp;
}

void tunl0_coalesce(struct tunl0_coalescer *c, const unsigned char *ip, size_t length) {
    size_t tcp = joinable(ip, length);
    if (tcp == 0) {
        tunl0_coalesce_flush(c);
        c->write_plain(c->ctx, ip, length);
        return;
    }
    size_t header = 20 + tcp;
    size_t payload = length - header;
    const unsigned char *first = c->buf + TUNL0_VNET;
    int same = c->segments > 0 && header == c->header && payload <= c->mss &&
               c->length + payload <= TUNL0_IP_MAX && c->segments < 64 &&
               tunl0_get32(ip + 24) == c->next_seq &&
               /* addresses, ports, ack, window and options equal; TOS, TTL and DF too */
               memcmp(ip + 12, first + 12, 8) == 0 && memcmp(ip + 20, first + 20, 4) == 0 &&
               memcmp(ip + 28, first + 28, 4) == 0 && memcmp(ip + 34, first + 34, 2) == 0 &&
               memcmp(ip + 40, first + 40, tcp - 20) == 0 && ip[1] == first[1] && ip[8] == first[8] && ip[6] == first[6];
    if (!same) {
        tunl0_coalesce_flush(c);
        memcpy(c->buf + TUNL0_VNET, ip, length);
        c->length = length;
        c->segments = 1;
        c->header = header;
        c->mss = payload;
        c->next_seq = tunl0_get32(ip + 24) + (uint32_t)payload;
        c->push = (ip[33] & TCP_PSH) != 0;
    } else {
        memcpy(c->buf + TUNL0_VNET + c->length, ip + header, payload);
        c->length += payload;
        c->segments++;
        c->next_seq += (uint32_t)payload;
        c->push = c->push || (ip[33] & TCP_PSH) != 0;
    }
    /* A short segment or a push ends a run, as it ends a GRO run. */
    if (payload < c->mss || c->push) tunl0_coalesce_flush(c);
}

/* ---- Inbound: the outer header, and who sent it ---- */

static int by_address(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

size_t tunl0_hosts_normalize(uint32_t *addresses, size_t count) {
    if (count == 0) return 0;
    qsort(addresses, count, sizeof *addresses, by_address);
    size_t n = 1;
    for (size_t i = 1; i < count; i++)
        if (addresses[i] != addresses[n - 1]) addresses[n++] = addresses[i];
    return n;
}

int tunl0_hosts_contain(const struct tunl0_hosts *hosts, uint32_t address) {
    size_t lo = 0, hi = hosts->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (hosts->addresses[mid] == address) return 1;
        if (hosts->addresses[mid] < address) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

enum tunl0_decap tunl0_decapsulate(const unsigned char *p, size_t length, const struct tunl0_hosts *hosts,
                                   const unsigned char **inner, size_t *inner_length) {
    if (length < 20 || (p[0] >> 4) != 4 || p[9] != IPPROTO_IPIP) return TUNL0_DECAP_MALFORMED;
    size_t header = (size_t)(p[0] & 0x0f) * 4;
    if (header < 20 || length < header + 20 || (p[header] >> 4) != 4) return TUNL0_DECAP_MALFORMED;
    /* Felix's rule: IP-in-IP only from the cluster's hosts (its all-hosts ipset). Anyone else
     * could put any packet, with any source, into the pod network. */
    if (!tunl0_hosts_contain(hosts, tunl0_get32(p + 12))) return TUNL0_DECAP_FOREIGN;
    *inner = p + header;
    *inner_length = length - header;
    return TUNL0_DECAP_OK;
}
