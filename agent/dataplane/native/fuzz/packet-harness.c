/*
 * Fuzz harness for the user-space tunl0's packet work (../tunl0-packets.c), built with
 * -fsanitize=address,undefined by packet-harness.test.ts. Every buffer handed to the code under
 * test is allocated at its exact size, so a read or write one byte past it stops the run.
 *
 *   packet-harness SEED RANDOM_CASES
 *
 * First a systematic sweep: every edge MSS (1 up to past 64 KiB, the MTUs of 1500 and 9001
 * networks and their neighbours), payload lengths around each MSS and up to a 64 KiB
 * super-packet, every IP and TCP header length. Each super-packet is segmented and checked
 * (lengths, both checksums, sequence numbers, flags, the payload itself), the segments joined
 * again by the coalescer, and each joined packet segmented once more, which must give back the
 * very same bytes. Then RANDOM_CASES seeded random inputs, well-formed and not, for the
 * segmenter, the coalescer, the checksum finisher and decapsulation with its host check.
 * Prints "N passed, 0 failed" and exits 0, or names the first case that failed and exits 1.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tunl0-packets.h"

static unsigned long checks;
static const char *current_case = "";

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        checks++;                                                                          \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "FAILED %s: %s: ", current_case, #cond);                       \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fprintf(stderr, "\n0 passed, 1 failed\n");                                     \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

static uint64_t rng;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static size_t below(size_t n) { return n ? (size_t)(next() % n) : 0; }

/* An exactly sized copy: the code under test gets no slack to overflow into. */
static unsigned char *exact(const unsigned char *from, size_t length) {
    unsigned char *p = malloc(length ? length : 1);
    if (length) memcpy(p, from, length);
    return p;
}

/* ---- Packets ---- */

/* An IPv4/TCP packet: `ihl` and `doff` in 32-bit words, options filled with NOPs. */
static size_t build_tcp(unsigned char *p, size_t ihl, size_t doff, size_t payload, uint8_t flags, uint32_t seq) {
    size_t ip_len = ihl * 4, tcp_len = doff * 4, total = ip_len + tcp_len + payload;
    memset(p, 0, ip_len + tcp_len);
    p[0] = (unsigned char)(0x40 | ihl);
    tunl0_put16(p + 2, (uint16_t)(total > 65535 ? 65535 : total));
    tunl0_put16(p + 4, (uint16_t)next());
    p[6] = 0x40; /* DF */
    p[8] = 64;
    p[9] = 6;
    uint32_t src = htonl(0xc0a80141), dst = htonl(0xc0a80381);
    memcpy(p + 12, &src, 4);
    memcpy(p + 16, &dst, 4);
    for (size_t i = 20; i < ip_len; i++) p[i] = 1; /* IP NOP options */
    unsigned char *t = p + ip_len;
    tunl0_put16(t, 40000);
    tunl0_put16(t + 2, 5201);
    t[4] = (unsigned char)(seq >> 24), t[5] = (unsigned char)(seq >> 16), t[6] = (unsigned char)(seq >> 8), t[7] = (unsigned char)seq;
    t[8] = 0x12, t[11] = 0x34; /* ack */
    t[12] = (unsigned char)(doff << 4);
    t[13] = flags;
    tunl0_put16(t + 14, 502);
    for (size_t i = 20; i < tcp_len; i++) t[i] = 1; /* TCP NOP options */
    for (size_t i = 0; i < payload; i++) p[ip_len + tcp_len + i] = (unsigned char)next();
    tunl0_put16(p + 10, tunl0_ip_checksum(p, ip_len));
    return total;
}

/* The one's complement sum as RFC 1071 writes it, word by word in network order: the reference
 * the helper's faster sum is checked against, and what the checks below use. */
static uint32_t ref_sum16(const unsigned char *p, size_t length, uint32_t sum) {
    uint64_t wide = sum;
    for (size_t i = 0; i + 1 < length; i += 2) wide += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (length % 2) wide += (uint32_t)p[length - 1] << 8;
    while (wide >> 16) wide = (wide & 0xffff) + (wide >> 16);
    return (uint32_t)wide;
}

static int ip_checksum_ok(const unsigned char *p, size_t ihl) { return ref_sum16(p, ihl, 0) == 0xffff; }

static int tcp_checksum_ok(const unsigned char *p, size_t length, size_t ihl) {
    uint32_t sum = ref_sum16(p + 12, 8, 6 + (uint32_t)(length - ihl));
    return ref_sum16(p + ihl, length - ihl, sum) == 0xffff;
}

/* ---- Segmenter output ---- */

struct segments {
    unsigned char **p;
    size_t *len;
    size_t count, capacity;
    size_t reserved; /* size of the last reserve, which emit must not exceed */
};

static unsigned char *sink_reserve(void *ctx, size_t size) {
    struct segments *s = ctx;
    s->reserved = size;
    if (s->count == s->capacity) {
        s->capacity = s->capacity ? s->capacity * 2 : 64;
        s->p = realloc(s->p, s->capacity * sizeof *s->p);
        s->len = realloc(s->len, s->capacity * sizeof *s->len);
    }
    return malloc(size);
}

static void sink_emit(void *ctx, unsigned char *segment, size_t length) {
    struct segments *s = ctx;
    CHECK(length <= s->reserved, "emitted %zu bytes into %zu reserved", length, s->reserved);
    s->p[s->count] = segment;
    s->len[s->count++] = length;
}

static void segments_free(struct segments *s) {
    for (size_t i = 0; i < s->count; i++) free(s->p[i]);
    free(s->p);
    free(s->len);
    memset(s, 0, sizeof *s);
}

static long segment(const unsigned char *packet, size_t length, size_t mss, struct segments *out) {
    unsigned char *copy = exact(packet, length);
    struct tunl0_segment_sink sink = {sink_reserve, sink_emit, out};
    long n = tunl0_segment_tcp(copy, length, mss, &sink);
    free(copy);
    return n;
}

/* Checks the segments of `packet` as the wire and the receiver's TCP would. */
static void check_segments(const unsigned char *packet, size_t length, size_t mss, const struct segments *s, long n) {
    size_t ihl = (size_t)(packet[0] & 0x0f) * 4;
    size_t header = ihl + (size_t)(packet[ihl + 12] >> 4) * 4;
    size_t payload = length - header;
    size_t step = mss < 65535 - header ? mss : 65535 - header;
    size_t expected = payload == 0 ? 1 : (payload + step - 1) / step;
    CHECK(n == (long)expected && s->count == expected, "mss %zu, payload %zu: %ld segments, want %zu", mss, payload, n, expected);
    uint32_t seq = tunl0_get32(packet + ihl + 4);
    size_t offset = 0;
    for (size_t i = 0; i < s->count; i++) {
        const unsigned char *g = s->p[i];
        size_t len = s->len[i];
        CHECK(len >= header && len - header <= step, "segment %zu is %zu bytes (mss %zu)", i, len, mss);
        CHECK(tunl0_get16(g + 2) == len, "segment %zu says %u bytes, is %zu", i, tunl0_get16(g + 2), len);
        CHECK(ip_checksum_ok(g, ihl), "segment %zu IP checksum", i);
        CHECK(tcp_checksum_ok(g, len, ihl), "segment %zu TCP checksum", i);
        CHECK(tunl0_get32(g + ihl + 4) == seq + (uint32_t)offset, "segment %zu sequence", i);
        CHECK(tunl0_get16(g + 4) == (uint16_t)(tunl0_get16(packet + 4) + i), "segment %zu IP id", i);
        CHECK(memcmp(g + header, packet + header + offset, len - header) == 0, "segment %zu payload", i);
        uint8_t f = g[ihl + 13], want = packet[ihl + 13];
        if (i + 1 < s->count) want &= (uint8_t)~(TCP_FIN | TCP_PSH);
        if (i > 0) want &= (uint8_t)~TCP_CWR;
        CHECK(f == want, "segment %zu flags %02x, want %02x", i, f, want);
        offset += len - header;
    }
    CHECK(offset == payload, "segments carry %zu of %zu payload bytes", offset, payload);
}

/* ---- Coalescer output ---- */

struct written {
    unsigned char **p;
    size_t *len;
    int *gso;
    size_t count, capacity;
};

static void record(struct written *w, const unsigned char *packet, size_t length, int gso) {
    if (w->count == w->capacity) {
        w->capacity = w->capacity ? w->capacity * 2 : 64;
        w->p = realloc(w->p, w->capacity * sizeof *w->p);
        w->len = realloc(w->len, w->capacity * sizeof *w->len);
        w->gso = realloc(w->gso, w->capacity * sizeof *w->gso);
    }
    w->p[w->count] = exact(packet, length);
    w->len[w->count] = length;
    w->gso[w->count++] = gso;
}

static void wrote_plain(void *ctx, const unsigned char *packet, size_t length) {
    CHECK(length <= TUNL0_IP_MAX + 64, "a plain packet of %zu bytes", length);
    record(ctx, packet, length, 0);
}

static void wrote_gso(void *ctx, const unsigned char *buffer, size_t length) {
    CHECK(length >= TUNL0_VNET + 40 && length <= TUNL0_VNET + TUNL0_IP_MAX, "a joined packet of %zu bytes", length);
    record(ctx, buffer, length, 1);
}

static void written_free(struct written *w) {
    for (size_t i = 0; i < w->count; i++) free(w->p[i]);
    free(w->p);
    free(w->len);
    free(w->gso);
    memset(w, 0, sizeof *w);
}

static struct tunl0_coalescer *new_coalescer(struct written *w) {
    struct tunl0_coalescer *c = calloc(1, sizeof *c);
    c->write_plain = wrote_plain;
    c->write_gso = wrote_gso;
    c->ctx = w;
    return c;
}

/* Receives `s`'s segments (each in an exactly sized buffer) and checks that what the kernel
 * would get carries the same bytes: a joined packet, segmented again at its gso_size, must give
 * back the segments it was made of, byte for byte. Segment `corrupt` (if < count) has a payload
 * byte changed after its checksum was made: it must reach the kernel alone and unchanged. */
static void check_roundtrip(const struct segments *s, size_t corrupt) {
    struct written w = {0};
    struct tunl0_coalescer *c = new_coalescer(&w);
    for (size_t i = 0; i < s->count; i++) {
        unsigned char *copy = exact(s->p[i], s->len[i]);
        tunl0_coalesce(c, copy, s->len[i]);
        free(copy);
        if (below(7) == 0) tunl0_coalesce_flush(c); /* a batch ends here */
    }
    tunl0_coalesce_flush(c);
    size_t at = 0;
    for (size_t k = 0; k < w.count; k++) {
        if (!w.gso[k]) {
            CHECK(at < s->count && w.len[k] == s->len[at] && memcmp(w.p[k], s->p[at], w.len[k]) == 0, "plain packet %zu is not segment %zu", k, at);
            at++;
            continue;
        }
        struct virtio_net_hdr h;
        memcpy(&h, w.p[k], sizeof h);
        const unsigned char *ip = w.p[k] + TUNL0_VNET;
        size_t length = w.len[k] - TUNL0_VNET;
        CHECK(h.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && h.gso_size > 0 && h.csum_start == 20 && h.csum_offset == 16, "joined packet %zu header", k);
        CHECK(tunl0_get16(ip + 2) == length && ip_checksum_ok(ip, 20), "joined packet %zu IP header", k);
        struct segments again = {0};
        long n = segment(ip, length, h.gso_size, &again);
        CHECK(n >= 2, "joined packet %zu segments into %ld", k, n);
        CHECK(corrupt < at || corrupt >= at + again.count, "segment %zu, with a wrong checksum, was joined", corrupt);
        for (size_t j = 0; j < again.count; j++, at++) {
            CHECK(at < s->count && again.len[j] == s->len[at], "joined packet %zu, segment %zu: %zu bytes, want %zu", k, j, again.len[j], at < s->count ? s->len[at] : 0);
            CHECK(memcmp(again.p[j], s->p[at], again.len[j]) == 0, "joined packet %zu, segment %zu differs from what the wire carried", k, j);
        }
        segments_free(&again);
    }
    CHECK(at == s->count, "the kernel got %zu of %zu segments", at, s->count);
    written_free(&w);
    free(c);
}

/* ---- The sweep ---- */

static const size_t edge_mss[] = {
    1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 48, 63, 64, 88, 100, 127, 128, 199, 200, 255, 256, 257,
    511, 512, 536, 1000, 1200, 1380, 1400, 1418, 1420, 1440, 1448, 1460, 1480, 1500,
    2007, 2008, 2009, 2048, 4096, 8000, 8920, 8940, 8941, 8960, 8961, 8981, 9000, 9001,
    16384, 32768, 65000, 65455, 65495, 65535, 65536, 1u << 20,
};

static void sweep_one(size_t ihl, size_t doff, size_t payload, size_t mss, uint8_t flags) {
    size_t header = (ihl + doff) * 4;
    size_t length = header + payload;
    unsigned char *packet = malloc(length);
    build_tcp(packet, ihl, doff, payload, flags, (uint32_t)next());
    struct segments s = {0};
    long n = segment(packet, length, mss, &s);
    check_segments(packet, length, mss, &s, n);
    /* The coalescer joins plain segments only: IP without options, ACK (+PSH) alone. */
    if (ihl == 5 && (flags & (uint8_t)~TCP_PSH) == TCP_ACK) {
        check_roundtrip(&s, SIZE_MAX);
        if (payload > 0 && s.count > 1) {
            size_t corrupt = below(s.count);
            size_t header = (ihl + doff) * 4;
            s.p[corrupt][header + below(s.len[corrupt] - header)] ^= (unsigned char)(1 + below(255));
            check_roundtrip(&s, corrupt);
        }
    }
    segments_free(&s);
    free(packet);
}

static unsigned long sweep(void) {
    unsigned long cases = 0;
    char name[160];
    for (size_t m = 0; m < sizeof edge_mss / sizeof edge_mss[0]; m++) {
        size_t mss = edge_mss[m];
        /* Payloads around the MSS and its multiples, and the largest super-packets TSO makes. */
        size_t payloads[] = {0, 1, mss - 1, mss, mss + 1, 2 * mss - 1, 2 * mss, 2 * mss + 1, 63 * mss, 64 * mss + 1,
                             65495 - 12, 65495, 65536 - 40, 65536 + 16 - 40 - 10};
        for (size_t k = 0; k < sizeof payloads / sizeof payloads[0]; k++) {
            size_t payload = payloads[k];
            if (payload > 65536 + 16 - 40 - 10) continue; /* more than one TUN read can hold */
            snprintf(name, sizeof name, "sweep mss %zu payload %zu", mss, payload);
            current_case = name;
            sweep_one(5, 5, payload, mss, TCP_ACK);
            sweep_one(5, 8, payload, mss, TCP_ACK | TCP_PSH);
            cases += 2;
        }
        /* Every header shape, with a payload of a few segments. */
        for (size_t ihl = 5; ihl <= 15; ihl++) {
            for (size_t doff = 5; doff <= 15; doff += 5) {
                size_t payload = mss < 20000 ? 3 * mss + 7 : 40000;
                if (mss < 16) payload = 300;
                snprintf(name, sizeof name, "sweep mss %zu ihl %zu doff %zu", mss, ihl, doff);
                current_case = name;
                sweep_one(ihl, doff, payload, mss, TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR);
                cases++;
            }
        }
    }
    return cases;
}

/* ---- Random inputs ---- */

static void mutate(unsigned char *p, size_t length) {
    size_t flips = below(4);
    for (size_t i = 0; i < flips && length; i++) p[below(length)] = (unsigned char)next();
}

static void random_segment(void) {
    unsigned char packet[65536 + 16];
    size_t length;
    if (below(2)) {
        size_t ihl = 5 + below(11), doff = 5 + below(11);
        size_t payload = below(4) == 0 ? below(65536 - 120) : below(3000);
        length = build_tcp(packet, ihl, doff, payload, (uint8_t)(TCP_ACK | (next() & 0xff)), (uint32_t)next());
        size_t mss = below(3) == 0 ? 1 + below(64) : 1 + below(9100);
        struct segments s = {0};
        long n = segment(packet, length, mss, &s);
        check_segments(packet, length, mss, &s, n);
        segments_free(&s);
    }
    /* Whatever the TUN device might hand over: headers that lie, lengths short of them. */
    length = below(4) == 0 ? below(80) : below(sizeof packet);
    for (size_t i = 0; i < length; i++) packet[i] = (unsigned char)next();
    if (length && below(2)) packet[0] = (unsigned char)(0x40 | (packet[0] & 0x0f));
    struct segments s = {0};
    long n = segment(packet, length, next() % 70000, &s);
    CHECK(n == -1 || (size_t)n == s.count, "%ld segments reported, %zu emitted", n, s.count);
    segments_free(&s);
}

static void random_coalesce(void) {
    struct written w = {0};
    struct tunl0_coalescer *c = new_coalescer(&w);
    uint32_t seq[3] = {(uint32_t)next(), (uint32_t)next(), (uint32_t)next()};
    size_t mss = 1 + below(below(2) ? 1460 : 8960);
    size_t packets = 1 + below(200);
    unsigned char *packet = malloc(65536);
    for (size_t i = 0; i < packets; i++) {
        size_t flow = below(3), length;
        if (below(8) == 0) {
            length = below(8) == 0 ? below(65536) : below(100);
            for (size_t j = 0; j < length; j++) packet[j] = (unsigned char)next();
        } else {
            size_t payload = below(5) == 0 ? below(mss + 1) : mss;
            length = build_tcp(packet, 5, below(4) ? 5 : 8, payload, below(10) ? TCP_ACK : (uint8_t)next(), seq[flow]);
            packet[15] = (unsigned char)flow; /* three flows, three sources */
            tunl0_put16(packet + 10, 0);
            tunl0_put16(packet + 10, tunl0_ip_checksum(packet, 20));
            if (below(20) == 0) seq[flow] += (uint32_t)below(3000); /* a gap: a lost segment */
            seq[flow] += (uint32_t)payload;
            if (below(6) == 0) mutate(packet, length);
        }
        unsigned char *copy = exact(packet, length);
        tunl0_coalesce(c, copy, length);
        free(copy);
        if (below(16) == 0) tunl0_coalesce_flush(c);
    }
    tunl0_coalesce_flush(c);
    free(packet);
    written_free(&w);
    free(c);
}

static void random_checksum(void) {
    size_t length = below(3) == 0 ? below(64) : below(9100);
    unsigned char *p = malloc(length ? length : 1);
    for (size_t i = 0; i < length; i++) p[i] = (unsigned char)next();
    size_t start = below(3) == 0 ? (size_t)next() : below(length + 4);
    size_t offset = below(3) == 0 ? (size_t)next() : below(40);
    /* The field holds the pseudo-header's sum, as the kernel leaves it: the finished field and
     * that sum together make the region's sum all ones. */
    uint16_t partial = start < length && offset < length && start + offset + 2 <= length ? tunl0_get16(p + start + offset) : 0;
    if (tunl0_finish_checksum(p, length, start, offset)) {
        CHECK(start + offset + 2 <= length, "finished a checksum outside the packet");
        uint16_t field = tunl0_get16(p + start + offset);
        uint32_t sum = ref_sum16(p + start, length - start, partial);
        /* Only a field at an even offset is a word of the sum (TCP's is at 16, UDP's at 6). */
        if (offset % 2 == 0) CHECK(sum == 0xffff || sum == 0 || (p[9] == 17 && field == 0xffff), "a wrong checksum: the region sums to %04x", sum);
    }
    free(p);
}

static void random_sum(void) {
    size_t length = below(2) ? below(70) : below(65536);
    unsigned char *p = malloc(length ? length : 1);
    for (size_t i = 0; i < length; i++) p[i] = below(4) ? (unsigned char)next() : 0xff;
    uint32_t start = below(2) ? (uint32_t)below(0x10000) : (uint32_t)below(0x20000);
    uint32_t fast = tunl0_sum16(p, length, start), ref = ref_sum16(p, length, start);
    /* 0x0000 and 0xffff are both zero in one's complement; only a sum of zeros gives the first. */
    CHECK(fast == ref || (fast == 0xffff && ref == 0) || (fast == 0 && ref == 0xffff), "sum16 of %zu bytes: %04x, the reference says %04x", length, fast, ref);
    free(p);
}

static void random_decapsulate(void) {
    uint32_t set[16];
    size_t count = below(17);
    for (size_t i = 0; i < count; i++) set[i] = 0x0af00100u + (uint32_t)below(32);
    struct tunl0_hosts hosts = {set, tunl0_hosts_normalize(set, count)};
    for (size_t i = 1; i < hosts.count; i++) CHECK(set[i - 1] < set[i], "the host set is not sorted and unique");
    size_t length = below(4) == 0 ? below(64) : below(65536);
    unsigned char *p = malloc(length ? length : 1);
    for (size_t i = 0; i < length; i++) p[i] = (unsigned char)next();
    if (length >= 20 && below(4)) {
        p[0] = (unsigned char)(0x40 | (below(4) ? 5 : below(16)));
        p[9] = below(4) ? 4 : (unsigned char)next();
        uint32_t src = 0x0af00100u + (uint32_t)below(40);
        p[12] = (unsigned char)(src >> 24), p[13] = (unsigned char)(src >> 16), p[14] = (unsigned char)(src >> 8), p[15] = (unsigned char)src;
        size_t ihl = (size_t)(p[0] & 0x0f) * 4;
        if (length > ihl && below(4)) p[ihl] = (unsigned char)(0x40 | (p[ihl] & 0x0f));
    }
    const unsigned char *inner = NULL;
    size_t inner_length = 0;
    enum tunl0_decap result = tunl0_decapsulate(p, length, &hosts, &inner, &inner_length);
    /* The rule, written again plainly. */
    size_t ihl = length ? (size_t)(p[0] & 0x0f) * 4 : 0;
    int wellformed = length >= 20 && (p[0] >> 4) == 4 && p[9] == 4 && ihl >= 20 && length >= ihl + 20 && (p[ihl] >> 4) == 4;
    int member = 0;
    if (length >= 20) {
        uint32_t src = tunl0_get32(p + 12);
        for (size_t i = 0; i < hosts.count; i++) member |= set[i] == src;
    }
    enum tunl0_decap want = !wellformed ? TUNL0_DECAP_MALFORMED : member ? TUNL0_DECAP_OK : TUNL0_DECAP_FOREIGN;
    CHECK(result == want, "decapsulate said %d, want %d", result, want);
    if (result == TUNL0_DECAP_OK) CHECK(inner == p + ihl && inner_length == length - ihl, "the inner packet is not the rest of the outer one");
    free(p);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: packet-harness SEED RANDOM_CASES\n");
        return 64;
    }
    rng = strtoull(argv[1], NULL, 0) | 1;
    unsigned long random_cases = strtoul(argv[2], NULL, 0);
    unsigned long cases = sweep();
    fprintf(stderr, "sweep: %lu super-packets (%zu edge MSS values, every header shape)\n", cases, sizeof edge_mss / sizeof edge_mss[0]);
    char name[96];
    for (unsigned long i = 0; i < random_cases; i++) {
        snprintf(name, sizeof name, "random case %lu (seed %s)", i, argv[1]);
        current_case = name;
        switch (i % 5) {
        case 0: random_segment(); break;
        case 1: random_coalesce(); break;
        case 2: random_checksum(); break;
        case 3: random_decapsulate(); break;
        case 4: random_sum(); break;
        }
    }
    fprintf(stderr, "random: %lu cases (seed %s)\n", random_cases, argv[1]);
    printf("%lu passed, 0 failed\n", checks);
    return 0;
}
