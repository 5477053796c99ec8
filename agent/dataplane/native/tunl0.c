/*
 * gingham-tunl0: tunl0 in user space, for kernels without the ipip module.
 *
 * Opens a TUN device (IFF_TUN | IFF_NO_PI: bare IPv4 packets, each behind a virtio-net header)
 * and a raw IPv4 socket of protocol 4, and pumps packets both ways on two threads:
 *   TUN -> raw socket: the inner packet as read, sent to the route's gateway (the remote node);
 *                      the kernel adds the outer header (source = the node address bound below,
 *                      protocol 4), so the wire format is the kernel ipip device's.
 *   raw socket -> TUN: the outer header stripped, the inner packet handed to the kernel.
 * Packets move in batches (recvmmsg / sendmmsg, a drain of the TUN queue per wake-up) so that
 * per-packet cost stays a syscall or less. Outbound, the TUN device offers TSO: the kernel hands
 * over TCP super-packets of up to 64 KiB, cut here into wire-sized segments. Inbound, consecutive
 * segments of one TCP flow in a batch are joined into one large packet handed to the kernel with
 * a virtio-net GSO header (what GRO does for a NIC), so the node forwards one packet where the
 * wire carried dozens. The wire itself only ever sees ordinary IP-in-IP packets.
 *
 * The TUN device gives only the inner packet, not the route's gateway, so the agent keeps the
 * helper's table of remote block -> node address up to date over stdin:
 *     set N\n  followed by N lines  "a.b.c.d/len gateway\n"   (replaces the whole table)
 * The helper prints "ready\n" once the device exists, and exits when stdin closes or its parent
 * dies, taking tunl0 with it (the device is not persistent).
 *
 * Usage: gingham-tunl0 IFNAME LOCAL_IPV4
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define BATCH 64
#define VNET ((ssize_t)sizeof(struct virtio_net_hdr))
#define TX_BUF (65536 + 16)
#define RX_BUF 65536

struct route {
    uint32_t net;   /* host byte order */
    uint32_t mask;
    int prefix;
    uint32_t gateway; /* network byte order, ready for sockaddr_in */
};

struct table {
    struct route *routes; /* longest prefix first */
    size_t count;
};

static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct table current = {NULL, 0};
static int tun_fd = -1;
static int raw_fd = -1;

static void die(const char *what) {
    fprintf(stderr, "gingham-tunl0: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int lookup(uint32_t dst, uint32_t *gateway) {
    for (size_t i = 0; i < current.count; i++) {
        if ((dst & current.routes[i].mask) == current.routes[i].net) {
            *gateway = current.routes[i].gateway;
            return 1;
        }
    }
    return 0;
}

static uint16_t get16(const unsigned char *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t get32(const unsigned char *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }
static void put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v; }

static uint16_t fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

static uint16_t ip_checksum(const unsigned char *header, size_t length) {
    uint32_t sum = 0;
    for (size_t i = 0; i < length; i += 2) sum += get16(header + i);
    return (uint16_t)~fold(sum);
}

static void put32(unsigned char *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }

/* One's complement sum of big-endian 16-bit words, added to `sum`. */
static uint32_t sum16(const unsigned char *p, size_t length, uint32_t sum) {
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

/* ---- Outbound: TUN -> raw socket, with TCP segmentation in user space ---- */

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80

#define READS 16      /* packets (up to 64 KiB each) read per wake-up */
#define OUT_MAX 256   /* wire packets per sendmmsg round */
#define SEG_BUF 2048  /* one wire-sized segment */

static unsigned char reads[READS][TX_BUF];
static unsigned char segments[OUT_MAX][SEG_BUF];
static struct mmsghdr out_msgs[OUT_MAX];
static struct iovec out_iovs[OUT_MAX];
static struct sockaddr_in out_addrs[OUT_MAX];
static int out_count;
static int segment_count;

static void send_queued(void) {
    int sent = 0;
    while (sent < out_count) {
        int r = sendmmsg(raw_fd, out_msgs + sent, (unsigned)(out_count - sent), 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            /* An unreachable peer or a full queue loses this packet, as a wire would. */
            sent++;
            continue;
        }
        sent += r;
    }
    out_count = 0;
    segment_count = 0;
}

static void queue_packet(unsigned char *packet, size_t length, uint32_t gateway) {
    int n = out_count++;
    memset(&out_addrs[n], 0, sizeof out_addrs[n]);
    out_addrs[n].sin_family = AF_INET;
    out_addrs[n].sin_addr.s_addr = gateway;
    out_iovs[n].iov_base = packet;
    out_iovs[n].iov_len = length;
    memset(&out_msgs[n], 0, sizeof out_msgs[n]);
    out_msgs[n].msg_hdr.msg_name = &out_addrs[n];
    out_msgs[n].msg_hdr.msg_namelen = sizeof out_addrs[n];
    out_msgs[n].msg_hdr.msg_iov = &out_iovs[n];
    out_msgs[n].msg_hdr.msg_iovlen = 1;
}

/* Cuts a TCP super-packet (TSO) into wire segments, as the kernel's GSO would: headers copied,
 * lengths, IP ids, sequence numbers and flags adjusted, both checksums computed. */
static void segment_tcp(unsigned char *ip, size_t length, size_t mss, uint32_t gateway) {
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    if (length < ihl + 20) return;
    size_t header = ihl + (size_t)(ip[ihl + 12] >> 4) * 4;
    if (header > length || mss == 0 || header + mss > SEG_BUF) return;
    size_t payload = length - header;
    size_t needed = (payload + mss - 1) / mss;
    if (out_count + (int)needed > OUT_MAX || segment_count + (int)needed > OUT_MAX) send_queued();
    uint32_t seq = get32(ip + ihl + 4);
    uint16_t id = get16(ip + 4);
    uint8_t flags = ip[ihl + 13];
    for (size_t offset = 0, i = 0; offset < payload; offset += mss, i++) {
        size_t chunk = payload - offset < mss ? payload - offset : mss;
        unsigned char *s = segments[segment_count++];
        memcpy(s, ip, header);
        memcpy(s + header, ip + header + offset, chunk);
        size_t total = header + chunk;
        put16(s + 2, (uint16_t)total);
        put16(s + 4, (uint16_t)(id + i));
        put16(s + 10, 0);
        put16(s + 10, ip_checksum(s, ihl));
        put32(s + ihl + 4, seq + (uint32_t)offset);
        uint8_t f = flags;
        if (offset + chunk < payload) f &= (uint8_t)~(TCP_FIN | TCP_PSH);
        if (i > 0) f &= (uint8_t)~TCP_CWR;
        s[ihl + 13] = f;
        put16(s + ihl + 16, 0);
        uint32_t sum = sum16(s + 12, 8, IPPROTO_TCP + (uint32_t)(total - ihl));
        put16(s + ihl + 16, (uint16_t)~sum16(s + ihl, total - ihl, sum));
        queue_packet(s, total, gateway);
    }
}

/* Finishes a checksum the kernel left to "hardware" (CHECKSUM_PARTIAL). */
static int finish_checksum(unsigned char *ip, size_t length, const struct virtio_net_hdr *h) {
    size_t start = h->csum_start, offset = h->csum_offset;
    if (start + offset + 2 > length) return 0;
    uint16_t sum = (uint16_t)~sum16(ip + start, length - start, 0);
    if (sum == 0 && ip[9] == IPPROTO_UDP) sum = 0xffff;
    put16(ip + start + offset, sum);
    return 1;
}

static void *tun_to_wire(void *arg) {
    (void)arg;
    struct pollfd pfd = {.fd = tun_fd, .events = POLLIN};
    for (;;) {
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR) continue;
            die("poll on the TUN device");
        }
        if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) {
            fprintf(stderr, "gingham-tunl0: the TUN device went away\n");
            exit(2);
        }
        pthread_rwlock_rdlock(&table_lock);
        for (int r = 0; r < READS; r++) {
            ssize_t len = read(tun_fd, reads[r], TX_BUF);
            if (len < 0) {
                if (errno == EAGAIN || errno == EINTR) break;
                pthread_rwlock_unlock(&table_lock);
                die("read from the TUN device");
            }
            if (len < VNET + 20) continue;
            struct virtio_net_hdr h;
            memcpy(&h, reads[r], sizeof h);
            unsigned char *ip = reads[r] + VNET;
            size_t length = (size_t)(len - VNET);
            if ((ip[0] >> 4) != 4) continue; /* IPv4 only */
            uint32_t dst, gateway;
            memcpy(&dst, ip + 16, 4);
            if (!lookup(ntohl(dst), &gateway)) continue; /* no route: drop, as a tunnel without a peer does */
            uint8_t gso = h.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
            if (gso == VIRTIO_NET_HDR_GSO_TCPV4 && ip[9] == IPPROTO_TCP) {
                segment_tcp(ip, length, h.gso_size, gateway);
                continue;
            }
            if (gso != VIRTIO_NET_HDR_GSO_NONE) continue; /* not offered to this device */
            if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !finish_checksum(ip, length, &h)) continue;
            if (out_count == OUT_MAX) send_queued();
            queue_packet(ip, length, gateway);
        }
        pthread_rwlock_unlock(&table_lock);
        send_queued();
    }
    return NULL;
}

/* ---- Inbound: join consecutive segments of a TCP flow (receive offload in user space) ---- */


/* The packet being built: a virtio-net header, then one IPv4/TCP packet of joined segments. */
static struct {
    unsigned char buf[VNET + 65535];
    size_t length; /* of the IP packet */
    int segments;
    size_t header; /* IP + TCP header bytes */
    size_t mss;
    uint32_t next_seq;
    int push;
} joined;

static void write_packet(const unsigned char *packet, size_t length) {
    static const struct virtio_net_hdr plain; /* all zero: a finished packet */
    struct iovec iov[2] = {{(void *)&plain, (size_t)VNET}, {(void *)packet, length}};
    /* EIO: the device is down (the agent has not set it up yet); drop, as a down link does.
     * EBADFD: someone deleted the device; exit so the agent makes a new one. */
    if (writev(tun_fd, iov, 2) < 0 && errno == EBADFD) die("write to the TUN device");
}

static void flush_joined(void) {
    if (joined.segments == 0) return;
    unsigned char *ip = joined.buf + VNET;
    if (joined.segments == 1) {
        write_packet(ip, joined.length); /* untouched, checksums as they came off the wire */
    } else {
        put16(ip + 2, (uint16_t)joined.length);
        put16(ip + 10, 0);
        put16(ip + 10, ip_checksum(ip, 20));
        if (joined.push) ip[33] |= TCP_PSH;
        /* CHECKSUM_PARTIAL: the TCP checksum field holds the pseudo-header sum; the kernel (or
         * the segmentation that follows) finishes it per segment. */
        uint32_t sum = get16(ip + 12) + get16(ip + 14) + get16(ip + 16) + get16(ip + 18) + IPPROTO_TCP + (uint32_t)(joined.length - 20);
        put16(ip + 36, fold(sum));
        struct virtio_net_hdr *h = (struct virtio_net_hdr *)joined.buf;
        memset(h, 0, sizeof *h);
        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        h->hdr_len = (uint16_t)joined.header;
        h->gso_size = (uint16_t)joined.mss;
        h->csum_start = 20;
        h->csum_offset = 16;
        if (write(tun_fd, joined.buf, (size_t)VNET + joined.length) < 0 && errno == EBADFD) die("write to the TUN device");
    }
    joined.segments = 0;
}

/* A plain data segment that may be joined: IPv4 without options or fragments, TCP with ACK
 * (and maybe PSH) only, with payload. Returns the TCP header length, or 0. */
static size_t joinable(const unsigned char *ip, size_t length) {
    if (length < 40 || ip[0] != 0x45 || ip[9] != IPPROTO_TCP || (get16(ip + 6) & 0x3fff) != 0 || get16(ip + 2) != length) return 0;
    size_t tcp = (size_t)(ip[32] >> 4) * 4;
    if (tcp < 20 || 20 + tcp >= length) return 0;
    if ((ip[33] & ~TCP_PSH) != TCP_ACK) return 0;
    return tcp;
}

static void take_inbound(const unsigned char *ip, size_t length) {
    size_t tcp = joinable(ip, length);
    if (tcp == 0) {
        flush_joined();
        write_packet(ip, length);
        return;
    }
    size_t header = 20 + tcp;
    size_t payload = length - header;
    const unsigned char *first = joined.buf + VNET;
    int same = joined.segments > 0 && header == joined.header && payload <= joined.mss &&
               joined.length + payload <= 65535 && joined.segments < 64 &&
               get32(ip + 24) == joined.next_seq &&
               /* addresses, ports, ack, window and options equal; TOS, TTL and DF too */
               memcmp(ip + 12, first + 12, 8) == 0 && memcmp(ip + 20, first + 20, 4) == 0 &&
               memcmp(ip + 28, first + 28, 4) == 0 && memcmp(ip + 34, first + 34, 2) == 0 &&
               memcmp(ip + 40, first + 40, tcp - 20) == 0 && ip[1] == first[1] && ip[8] == first[8] && ip[6] == first[6];
    if (!same) {
        flush_joined();
        memcpy(joined.buf + VNET, ip, length);
        joined.length = length;
        joined.segments = 1;
        joined.header = header;
        joined.mss = payload;
        joined.next_seq = get32(ip + 24) + (uint32_t)payload;
        joined.push = (ip[33] & TCP_PSH) != 0;
    } else {
        memcpy(joined.buf + VNET + joined.length, ip + header, payload);
        joined.length += payload;
        joined.segments++;
        joined.next_seq += (uint32_t)payload;
        joined.push = joined.push || (ip[33] & TCP_PSH) != 0;
    }
    /* A short segment or a push ends a run, as it ends a GRO run. */
    if (payload < joined.mss || joined.push) flush_joined();
}

static void *wire_to_tun(void *arg) {
    (void)arg;
    static unsigned char bufs[BATCH][RX_BUF];
    struct mmsghdr msgs[BATCH];
    struct iovec iovs[BATCH];
    for (int i = 0; i < BATCH; i++) {
        iovs[i].iov_base = bufs[i];
        iovs[i].iov_len = RX_BUF;
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    for (;;) {
        int n = recvmmsg(raw_fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("receive from the raw socket");
        }
        for (int i = 0; i < n; i++) {
            unsigned char *p = bufs[i];
            size_t len = msgs[i].msg_len;
            if (len < 20 || (p[0] >> 4) != 4 || p[9] != IPPROTO_IPIP) continue;
            size_t header = (size_t)(p[0] & 0x0f) * 4;
            if (header < 20 || len < header + 20 || (p[header] >> 4) != 4) continue;
            take_inbound(p + header, len - header);
        }
        flush_joined(); /* never hold a packet past its batch */
    }
    return NULL;
}

static int parse_cidr(const char *text, struct route *route) {
    char address[32];
    int prefix;
    if (sscanf(text, "%31[0-9.]/%d", address, &prefix) != 2 || prefix < 0 || prefix > 32) return 0;
    struct in_addr in;
    if (inet_pton(AF_INET, address, &in) != 1) return 0;
    route->mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
    route->net = ntohl(in.s_addr) & route->mask;
    route->prefix = prefix;
    return 1;
}

static int by_prefix_desc(const void *a, const void *b) {
    return ((const struct route *)b)->prefix - ((const struct route *)a)->prefix;
}

/* Reads "set N" blocks from stdin and swaps the table in; returns when stdin closes. */
static void control_loop(void) {
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        size_t count;
        if (sscanf(line, "set %zu", &count) != 1) {
            fprintf(stderr, "gingham-tunl0: unknown command: %s", line);
            continue;
        }
        struct route *routes = calloc(count ? count : 1, sizeof *routes);
        if (!routes) die("allocate the route table");
        size_t n = 0;
        for (size_t i = 0; i < count; i++) {
            char cidr[64], gateway[32];
            if (!fgets(line, sizeof line, stdin)) exit(0);
            struct in_addr gw;
            if (sscanf(line, "%63s %31s", cidr, gateway) != 2 || !parse_cidr(cidr, &routes[n]) || inet_pton(AF_INET, gateway, &gw) != 1) {
                fprintf(stderr, "gingham-tunl0: bad route line: %s", line);
                continue;
            }
            routes[n++].gateway = gw.s_addr;
        }
        qsort(routes, n, sizeof *routes, by_prefix_desc);
        pthread_rwlock_wrlock(&table_lock);
        struct route *old = current.routes;
        current.routes = routes;
        current.count = n;
        pthread_rwlock_unlock(&table_lock);
        free(old);
        printf("ok %zu\n", n);
        fflush(stdout);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: gingham-tunl0 IFNAME LOCAL_IPV4\n");
        return 64;
    }
    /* Live exactly as long as the agent. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1) return 0;

    struct in_addr local;
    if (inet_pton(AF_INET, argv[2], &local) != 1) {
        fprintf(stderr, "gingham-tunl0: %s is not an IPv4 address\n", argv[2]);
        return 64;
    }

    tun_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (tun_fd < 0) die("open /dev/net/tun (is the tun module available?)");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
    strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    if (ioctl(tun_fd, TUNSETIFF, &ifr) < 0) die("create the TUN device (is another process holding it?)");
    /* A deep queue between the kernel and this helper: a TUN device drops what its ring cannot
     * hold, and TCP takes every drop as congestion. 500 packets is 6 ms at 1 Gbit/s, less than a
     * busy scheduler may keep this process waiting. */
    int ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq qlen;
    memset(&qlen, 0, sizeof qlen);
    memcpy(qlen.ifr_name, ifr.ifr_name, IFNAMSIZ);
    qlen.ifr_qlen = 8192;
    if (ctl < 0 || ioctl(ctl, SIOCSIFTXQLEN, &qlen) < 0) fprintf(stderr, "gingham-tunl0: cannot deepen the TUN queue: %s\n", strerror(errno));
    if (ctl >= 0) close(ctl);
    /* Let the kernel hand over TCP super-packets (TSO) and unfinished checksums: segmenting
     * 64 KiB here costs one read instead of forty-five. */
    if (ioctl(tun_fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) < 0) die("enable offloads on the TUN device");
    int flags = fcntl(tun_fd, F_GETFL);
    if (flags < 0 || fcntl(tun_fd, F_SETFL, flags | O_NONBLOCK) < 0) die("make the TUN device non-blocking");

    raw_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_IPIP);
    if (raw_fd < 0) die("open a raw socket of protocol 4 (needs CAP_NET_RAW)");
    struct sockaddr_in bind_to = {.sin_family = AF_INET, .sin_addr = local};
    if (bind(raw_fd, (struct sockaddr *)&bind_to, sizeof bind_to) < 0) die("bind the raw socket to the node address");
    int size = 8 << 20;
    setsockopt(raw_fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
    setsockopt(raw_fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
    /* Fragment rather than refuse an inner packet that overflows the path, as a tunnel may. */
    int pmtu = IP_PMTUDISC_DONT;
    setsockopt(raw_fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);

    pthread_t tx, rx;
    if (pthread_create(&tx, NULL, tun_to_wire, NULL) != 0 || pthread_create(&rx, NULL, wire_to_tun, NULL) != 0) die("start the pump threads");
    printf("ready\n");
    fflush(stdout);
    control_loop();
    return 0;
}
