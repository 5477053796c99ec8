/*
 * gingham-tunl0: tunl0 in user space, for kernels without the ipip module.
 *
 * Opens a TUN device (IFF_TUN | IFF_NO_PI, so it carries bare IPv4 packets) and a raw IPv4 socket
 * of protocol 4, and pumps packets both ways on two threads:
 *   TUN -> raw socket: the inner packet as read, sent to the route's gateway (the remote node);
 *                      the kernel adds the outer header (source = the node address bound below,
 *                      protocol 4), so the wire format is the kernel ipip device's.
 *   raw socket -> TUN: the outer header stripped, the inner packet handed to the kernel.
 * Packets move in batches (recvmmsg / sendmmsg, a drain of the TUN queue per wake-up) so that
 * per-packet cost stays a syscall or less.
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
#include <unistd.h>

#define BATCH 64
#define TX_BUF 65536
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

static void *tun_to_wire(void *arg) {
    (void)arg;
    static unsigned char bufs[BATCH][TX_BUF];
    struct mmsghdr msgs[BATCH];
    struct iovec iovs[BATCH];
    struct sockaddr_in addrs[BATCH];
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
        int n = 0;
        pthread_rwlock_rdlock(&table_lock);
        while (n < BATCH) {
            ssize_t len = read(tun_fd, bufs[n], TX_BUF);
            if (len < 0) {
                if (errno == EAGAIN || errno == EINTR) break;
                pthread_rwlock_unlock(&table_lock);
                die("read from the TUN device");
            }
            if (len < 20 || (bufs[n][0] >> 4) != 4) continue; /* IPv4 only */
            uint32_t dst;
            memcpy(&dst, bufs[n] + 16, 4);
            uint32_t gateway;
            if (!lookup(ntohl(dst), &gateway)) continue; /* no route: drop, as a tunnel without a peer does */
            memset(&addrs[n], 0, sizeof addrs[n]);
            addrs[n].sin_family = AF_INET;
            addrs[n].sin_addr.s_addr = gateway;
            iovs[n].iov_base = bufs[n];
            iovs[n].iov_len = (size_t)len;
            memset(&msgs[n], 0, sizeof msgs[n]);
            msgs[n].msg_hdr.msg_name = &addrs[n];
            msgs[n].msg_hdr.msg_namelen = sizeof addrs[n];
            msgs[n].msg_hdr.msg_iov = &iovs[n];
            msgs[n].msg_hdr.msg_iovlen = 1;
            n++;
        }
        pthread_rwlock_unlock(&table_lock);
        int sent = 0;
        while (sent < n) {
            int r = sendmmsg(raw_fd, msgs + sent, (unsigned)(n - sent), 0);
            if (r < 0) {
                if (errno == EINTR) continue;
                /* An unreachable peer or a full queue loses this packet, as a wire would. */
                sent++;
                continue;
            }
            sent += r;
        }
    }
    return NULL;
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
            /* EIO: the device is down (the agent has not set it up yet); drop, as a down link does.
             * EBADFD: someone deleted the device; exit so the agent makes a new one. */
            if (write(tun_fd, p + header, len - header) < 0 && errno == EBADFD) die("write to the TUN device");
        }
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
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
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
