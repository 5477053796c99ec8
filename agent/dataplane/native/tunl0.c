/*
 * gingham-tunl0: tunl0 in user space, for kernels without the ipip module.
 *
 * Opens a TUN device (IFF_TUN | IFF_NO_PI: bare IPv4 packets, each behind a virtio-net header)
 * and a raw IPv4 socket of protocol 4, and pumps packets both ways on two threads:
 *   TUN -> raw socket: the inner packet as read, sent to the route's gateway (the remote node);
 *                      the kernel adds the outer header (source = the node address bound below,
 *                      protocol 4), so the wire format is the kernel ipip device's.
 *   raw socket -> TUN: from a cluster host only, the outer header stripped, the inner packet
 *                      handed to the kernel.
 * Packets move in batches (recvmmsg / sendmmsg, a drain of the TUN queue per wake-up) so that
 * per-packet cost stays a syscall or less. Outbound, the TUN device offers TSO: the kernel hands
 * over TCP super-packets of up to 64 KiB, cut here into wire-sized segments (any MSS, in as many
 * send batches as it takes). Inbound, consecutive segments of one TCP flow in a batch are joined
 * into one large packet handed to the kernel with a virtio-net GSO header (what GRO does for a
 * NIC). The packet work itself is in tunl0-packets.c, fuzzed by fuzz/packet-harness.c.
 *
 * Where the kernel has BPF and tcx links (Linux 6.6+), the packets that matter never come up here:
 * tunl0-bpf.c encapsulates at tunl0's egress and decapsulates at the underlay's ingress in the
 * kernel, as the ipip device would, with the same tables; what it leaves (no route, IP options,
 * fragments, hosts outside the set) still comes to the pump below, which then works as described.
 *
 * The TUN device gives only the inner packet, not the route's gateway, so the agent keeps the
 * helper's tables up to date, in lines of text:
 *     set N      + N lines "a.b.c.d/len gateway"   the routes (replaces the whole table)
 *     hosts N    + N lines "a.b.c.d"               the cluster's host addresses: IP-in-IP from
 *                                                  any other source is dropped (and counted);
 *                                                  until the first `hosts`, everything is
 *     stats      -> "stats decapsulated D foreign F malformed M unrouted U encapsulated-fast E
 *                    decapsulated-fast DF fastpath bpf|off" (D counts both paths)
 *     hello      -> "gingham-tunl0 IFNAME LOCAL PID"
 *     quit       -> "bye", then the helper exits and tunl0 goes with it
 * Each table command is answered "ok COUNT" (or "error ...").
 *
 * Two ways to run:
 *   gingham-tunl0 IFNAME LOCAL_IPV4
 *       commands on stdin, replies on stdout; lives exactly as long as its parent and its stdin.
 *   gingham-tunl0 IFNAME LOCAL_IPV4 --control SOCKET [--log FILE]
 *       the agent's way: commands on a unix socket (mode 0600, root's peers only). The helper
 *       outlives the agent that started it (own session, no parent-death signal), keeps
 *       forwarding with its last tables, and a restarted agent connects again and takes over:
 *       a restart loses no packet. `quit` ends it. It prints "ready" on stdout once the device
 *       and the socket exist, then writes its messages to FILE (or nowhere).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
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
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tunl0-bpf.h"
#include "tunl0-packets.h"

#define BATCH 64
#define VNET ((ssize_t)TUNL0_VNET)
#define TX_BUF (65536 + 16)
#define RX_BUF 65536
/* A table this long is a mistake, not a cluster: refuse it rather than allocate gigabytes. */
#define TABLE_MAX (1u << 20)

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
static pthread_rwlock_t hosts_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct tunl0_hosts hosts = {NULL, 0};
static int tun_fd = -1;
static int raw_fd = -1;
static const char *ifname_arg;
static const char *local_arg;
static const char *control_path;

static _Atomic unsigned long decapsulated, foreign, malformed, unrouted;

/* The kernel fast path (tunl0-bpf.c), when this kernel can take it; the pump below does the rest. */
static struct tunl0_bpf fast;
static int fast_on;

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

/* ---- Outbound: TUN -> raw socket ---- */

#define READS 16          /* packets (up to 64 KiB each) read per wake-up */
#define OUT_MAX 256       /* wire packets per sendmmsg round */
#define ARENA (1u << 20)  /* segments waiting to be sent; a full arena is sent first */

static unsigned char reads[READS][TX_BUF];
static unsigned char arena[ARENA];
static size_t arena_used;
static struct mmsghdr out_msgs[OUT_MAX];
static struct iovec out_iovs[OUT_MAX];
static struct sockaddr_in out_addrs[OUT_MAX];
static int out_count;

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
    arena_used = 0;
}

static void queue_packet(unsigned char *packet, size_t length, uint32_t gateway) {
    if (out_count == OUT_MAX) send_queued();
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

/* Room for one segment in the arena; what is queued goes out first when either is full. */
static unsigned char *reserve_segment(void *ctx, size_t size) {
    (void)ctx;
    if (out_count == OUT_MAX || arena_used + size > ARENA) send_queued();
    unsigned char *p = arena + arena_used;
    arena_used += size;
    return p;
}

static void emit_segment(void *ctx, unsigned char *segment, size_t length) {
    queue_packet(segment, length, *(const uint32_t *)ctx);
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
            if (!lookup(ntohl(dst), &gateway)) {
                /* No next hop: drop, as a tunnel without a peer does; counted, and said once a
                 * second at most, since a packet the kernel routed here is one a pod sent. */
                unsigned long n = ++unrouted;
                static time_t said;
                time_t now = time(NULL);
                if (now != said) {
                    said = now;
                    char text[INET_ADDRSTRLEN];
                    inet_ntop(AF_INET, &dst, text, sizeof text);
                    fprintf(stderr, "gingham-tunl0: no next hop for %s: dropped (%lu so far)\n", text, n);
                }
                continue;
            }
            uint8_t gso = h.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
            if (gso == VIRTIO_NET_HDR_GSO_TCPV4 && ip[9] == IPPROTO_TCP) {
                struct tunl0_segment_sink sink = {reserve_segment, emit_segment, &gateway};
                tunl0_segment_tcp(ip, length, h.gso_size, &sink);
                continue;
            }
            if (gso != VIRTIO_NET_HDR_GSO_NONE) continue; /* not offered to this device */
            if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !tunl0_finish_checksum(ip, length, h.csum_start, h.csum_offset)) continue;
            queue_packet(ip, length, gateway);
        }
        pthread_rwlock_unlock(&table_lock);
        send_queued();
    }
    return NULL;
}

/* ---- Inbound: raw socket -> TUN ---- */

static void write_plain(void *ctx, const unsigned char *packet, size_t length) {
    (void)ctx;
    static const struct virtio_net_hdr plain; /* all zero: a finished packet */
    struct iovec iov[2] = {{(void *)&plain, (size_t)VNET}, {(void *)packet, length}};
    /* EIO: the device is down (the agent has not set it up yet); drop, as a down link does.
     * EBADFD: someone deleted the device; exit so the agent makes a new one. */
    if (writev(tun_fd, iov, 2) < 0 && errno == EBADFD) die("write to the TUN device");
}

static void write_gso(void *ctx, const unsigned char *buffer, size_t length) {
    (void)ctx;
    if (write(tun_fd, buffer, length) < 0 && errno == EBADFD) die("write to the TUN device");
}

static struct tunl0_coalescer joined = {.write_plain = write_plain, .write_gso = write_gso};

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
        pthread_rwlock_rdlock(&hosts_lock);
        for (int i = 0; i < n; i++) {
            const unsigned char *inner;
            size_t inner_length;
            size_t len = msgs[i].msg_len > RX_BUF ? RX_BUF : msgs[i].msg_len;
            switch (tunl0_decapsulate(bufs[i], len, &hosts, &inner, &inner_length)) {
            case TUNL0_DECAP_OK:
                decapsulated++;
                tunl0_coalesce(&joined, inner, inner_length);
                break;
            case TUNL0_DECAP_FOREIGN:
                foreign++;
                break;
            case TUNL0_DECAP_MALFORMED:
                malformed++;
                break;
            }
        }
        pthread_rwlock_unlock(&hosts_lock);
        tunl0_coalesce_flush(&joined); /* never hold a packet past its batch */
    }
    return NULL;
}

/* ---- Captures, and the underlay going ---- */

static int tun_ifindex = -1;
static int underlay_index = -1;
static uint32_t local_address; /* network byte order */
static int underlay_ifindex(uint32_t local);

/* Whether an AF_PACKET socket in this namespace is bound to tunl0, or to every interface as
 * `tcpdump -i any` binds (/proc/net/packet: this namespace's list). */
static int capture_on_tunl0(void) {
    FILE *f = fopen("/proc/net/packet", "r");
    if (!f) return 0;
    char line[256];
    int first = 1, found = 0;
    while (fgets(line, sizeof line, f)) {
        if (first) {
            first = 0; /* the heading */
            continue;
        }
        unsigned long long sk;
        int refs, type, iface;
        unsigned proto;
        if (sscanf(line, "%llx %d %d %x %d", &sk, &refs, &type, &proto, &iface) == 5 && (iface == 0 || iface == tun_ifindex)) found = 1;
    }
    fclose(f);
    return found;
}

/*
 * Every 50 ms: while a capture watches tunl0, or once the interface the programs were attached to
 * no longer holds the node's address (deleted and made again: the links went with it), tunl0's
 * outgoing packets go through the device and the pump (tunl0_bpf_watched), so that the capture
 * sees them and none is sent to a device that is gone. A capture's first 50 ms may miss some.
 */
static void *watch_captures(void *arg) {
    (void)arg;
    int watched = 0, gone = 0;
    for (unsigned tick = 0;; tick++) {
        int now = capture_on_tunl0();
        if (!gone && tick % 20 == 0 && underlay_ifindex(local_address) != underlay_index) {
            gone = 1;
            fprintf(stderr, "gingham-tunl0: the underlay interface the fast path was attached to is gone: the pump carries every packet from now on\n");
        }
        if ((now || gone) != watched) {
            watched = now || gone;
            tunl0_bpf_watched(watched);
            if (!gone)
                fprintf(stderr, "gingham-tunl0: %s\n", watched ? "a packet capture watches tunl0: its outgoing packets go through the device (and the pump) while it runs"
                                                                 : "no packet capture watches tunl0 any more: the fast path takes its outgoing packets again");
        }
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return NULL;
}

/* ---- Commands ---- */

static int parse_cidr(const char *text, struct route *route) {
    char address[32];
    int prefix;
    char rest;
    if (sscanf(text, "%31[0-9.]/%d%c", address, &prefix, &rest) != 2 || prefix < 0 || prefix > 32) return 0;
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

/* One connection's commands: a table command gathers its lines before it takes effect. */
struct session {
    enum { IDLE, ROUTES, HOSTS } pending;
    size_t expected, seen, valid;
    struct route *routes;
    uint32_t *addresses;
    void (*reply)(struct session *, const char *);
    int fd;
    int closing; /* the reply was "bye": exit once it is written */
};

/* The fast path's route map, made the pump's table (called with the table just replaced). */
static void sync_fast_routes(void) {
    pthread_rwlock_rdlock(&table_lock);
    size_t n = current.count;
    uint32_t *nets = calloc(n ? n : 1, sizeof *nets), *gateways = calloc(n ? n : 1, sizeof *gateways);
    int *prefixes = calloc(n ? n : 1, sizeof *prefixes);
    if (nets && gateways && prefixes) {
        for (size_t i = 0; i < n; i++) {
            nets[i] = htonl(current.routes[i].net);
            prefixes[i] = current.routes[i].prefix;
            gateways[i] = current.routes[i].gateway;
        }
    }
    pthread_rwlock_unlock(&table_lock);
    /* A map the kernel refuses leaves those packets to the pump: slower, never lost. */
    if (!nets || !gateways || !prefixes || tunl0_bpf_set_routes(&fast, nets, prefixes, gateways, n) < 0)
        fprintf(stderr, "gingham-tunl0: the fast path's route map is incomplete (%s): the pump carries the rest\n", strerror(errno));
    free(nets);
    free(gateways);
    free(prefixes);
}

static void install_routes(struct session *s) {
    qsort(s->routes, s->valid, sizeof *s->routes, by_prefix_desc);
    pthread_rwlock_wrlock(&table_lock);
    struct route *old = current.routes;
    current.routes = s->routes;
    current.count = s->valid;
    pthread_rwlock_unlock(&table_lock);
    free(old);
    s->routes = NULL;
    if (fast_on) sync_fast_routes();
}

static void install_hosts(struct session *s) {
    size_t n = tunl0_hosts_normalize(s->addresses, s->valid);
    pthread_rwlock_wrlock(&hosts_lock);
    uint32_t *old = hosts.addresses;
    hosts.addresses = s->addresses;
    hosts.count = n;
    pthread_rwlock_unlock(&hosts_lock);
    free(old);
    s->addresses = NULL;
    if (fast_on && tunl0_bpf_set_hosts(&fast, hosts.addresses, n) < 0)
        fprintf(stderr, "gingham-tunl0: the fast path's host set is incomplete (%s): the pump takes the rest\n", strerror(errno));
}

static void finish_table(struct session *s) {
    char reply[64];
    snprintf(reply, sizeof reply, "ok %zu", s->valid);
    if (s->pending == ROUTES) install_routes(s);
    else install_hosts(s);
    s->pending = IDLE;
    s->reply(s, reply);
}

static void end_session(struct session *s) {
    free(s->routes);
    free(s->addresses);
    s->routes = NULL;
    s->addresses = NULL;
    s->pending = IDLE;
}

static void handle_line(struct session *s, char *line) {
    line[strcspn(line, "\r\n")] = 0;
    if (s->pending != IDLE) {
        s->seen++;
        if (s->pending == ROUTES) {
            char cidr[64], gateway[32];
            struct in_addr gw;
            if (sscanf(line, "%63s %31s", cidr, gateway) == 2 && parse_cidr(cidr, &s->routes[s->valid]) && inet_pton(AF_INET, gateway, &gw) == 1) {
                s->routes[s->valid++].gateway = gw.s_addr;
            } else {
                fprintf(stderr, "gingham-tunl0: bad route line (want \"a.b.c.d/len gateway\"): %s\n", line);
            }
        } else {
            struct in_addr address;
            if (inet_pton(AF_INET, line, &address) == 1) s->addresses[s->valid++] = ntohl(address.s_addr);
            else fprintf(stderr, "gingham-tunl0: bad host line (want \"a.b.c.d\"): %s\n", line);
        }
        if (s->seen == s->expected) finish_table(s);
        return;
    }
    size_t count;
    char extra;
    int routes = sscanf(line, "set %zu%c", &count, &extra) == 1;
    int hostlist = !routes && sscanf(line, "hosts %zu%c", &count, &extra) == 1;
    if (routes || hostlist) {
        if (count > TABLE_MAX) {
            char reply[96];
            snprintf(reply, sizeof reply, "error a table of %zu entries is more than %u", count, TABLE_MAX);
            s->reply(s, reply);
            return;
        }
        s->pending = routes ? ROUTES : HOSTS;
        s->expected = count;
        s->seen = s->valid = 0;
        if (routes && !(s->routes = calloc(count ? count : 1, sizeof *s->routes))) die("allocate the route table");
        if (hostlist && !(s->addresses = calloc(count ? count : 1, sizeof *s->addresses))) die("allocate the host set");
        if (count == 0) finish_table(s);
        return;
    }
    if (strcmp(line, "stats") == 0) {
        char reply[224];
        unsigned long fast_out, fast_in;
        tunl0_bpf_counts(&fast_out, &fast_in);
        snprintf(reply, sizeof reply, "stats decapsulated %lu foreign %lu malformed %lu unrouted %lu encapsulated-fast %lu decapsulated-fast %lu fastpath %s",
                 decapsulated + fast_in, foreign, malformed, unrouted, fast_out, fast_in, fast_on ? "bpf" : "off");
        s->reply(s, reply);
    } else if (strcmp(line, "hello") == 0) {
        char reply[160];
        snprintf(reply, sizeof reply, "gingham-tunl0 %s %s %ld", ifname_arg, local_arg, (long)getpid());
        s->reply(s, reply);
    } else if (strcmp(line, "quit") == 0) {
        s->closing = 1;
        s->reply(s, "bye");
    } else {
        char reply[300];
        snprintf(reply, sizeof reply, "error unknown command: %.200s (want set, hosts, stats, hello or quit)", line);
        s->reply(s, reply);
    }
}

/* Ends the helper: the device goes with its file descriptor, the socket path with unlink. */
static void quit(void) {
    if (control_path) unlink(control_path);
    close(tun_fd);
    _exit(0);
}

static void reply_stdout(struct session *s, const char *text) {
    (void)s;
    printf("%s\n", text);
    fflush(stdout);
}

static void stdin_loop(void) {
    struct session s = {.reply = reply_stdout, .fd = -1};
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        handle_line(&s, line);
        if (s.closing) quit();
    }
}

#define CLIENTS 8
#define LINE_MAX_BYTES 512

struct client {
    struct session session;
    char buf[LINE_MAX_BYTES];
    size_t used;
};

static void reply_socket(struct session *s, const char *text) {
    char line[512];
    int n = snprintf(line, sizeof line, "%s\n", text);
    /* A client that stops reading loses its replies, never the helper's forwarding. */
    if (send(s->fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) { /* dropped */ }
}

static int make_control_socket(const char *path) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        fprintf(stderr, "gingham-tunl0: the control socket path is too long: %s\n", path);
        exit(64);
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("open the control socket");
    /* A helper already serving this path owns the tunnel: never take it over. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
        fprintf(stderr, "gingham-tunl0: another helper already serves %s (send it quit first)\n", path);
        exit(3);
    }
    close(fd);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("open the control socket");
    unlink(path);
    mode_t old = umask(077); /* root's only: the socket rewrites the node's tunnel */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind the control socket (does its directory exist?)");
    umask(old);
    if (chmod(path, 0600) < 0) die("restrict the control socket to its owner");
    if (listen(fd, CLIENTS) < 0) die("listen on the control socket");
    return fd;
}

static void socket_loop(int listener) {
    struct client *clients[CLIENTS] = {0};
    for (;;) {
        struct pollfd pfds[CLIENTS + 1];
        int slot[CLIENTS + 1];
        int n = 0;
        pfds[n].fd = listener;
        pfds[n].events = POLLIN;
        slot[n++] = -1;
        for (int i = 0; i < CLIENTS; i++) {
            if (!clients[i]) continue;
            pfds[n].fd = clients[i]->session.fd;
            pfds[n].events = POLLIN;
            slot[n++] = i;
        }
        if (poll(pfds, (nfds_t)n, -1) < 0) {
            if (errno == EINTR) continue;
            die("poll on the control socket");
        }
        for (int k = 1; k < n; k++) {
            if (!pfds[k].revents) continue;
            struct client *c = clients[slot[k]];
            ssize_t got = recv(c->session.fd, c->buf + c->used, sizeof c->buf - c->used - 1, 0);
            if (got <= 0) {
                /* The agent went (a restart, a kill -9): keep forwarding with the last tables. */
                end_session(&c->session);
                close(c->session.fd);
                free(c);
                clients[slot[k]] = NULL;
                continue;
            }
            c->used += (size_t)got;
            char *start = c->buf, *newline;
            while ((newline = memchr(start, '\n', (size_t)(c->buf + c->used - start)))) {
                *newline = 0;
                handle_line(&c->session, start);
                if (c->session.closing) quit();
                start = newline + 1;
            }
            size_t rest = (size_t)(c->buf + c->used - start);
            memmove(c->buf, start, rest);
            c->used = rest;
            if (c->used == sizeof c->buf - 1) {
                c->session.reply(&c->session, "error line too long");
                end_session(&c->session);
                close(c->session.fd);
                free(c);
                clients[slot[k]] = NULL;
            }
        }
        if (pfds[0].revents & POLLIN) {
            int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0) continue;
            struct ucred cred;
            socklen_t len = sizeof cred;
            if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || (cred.uid != 0 && cred.uid != geteuid())) {
                close(fd); /* the file mode should have stopped it already */
                continue;
            }
            int free_slot = -1;
            for (int i = 0; i < CLIENTS; i++)
                if (!clients[i]) {
                    free_slot = i;
                    break;
                }
            struct client *c = free_slot < 0 ? NULL : calloc(1, sizeof *c);
            if (!c) {
                (void)!write(fd, "error too many connections\n", 27);
                close(fd);
                continue;
            }
            c->session.reply = reply_socket;
            c->session.fd = fd;
            clients[free_slot] = c;
            fprintf(stderr, "gingham-tunl0: pid %ld connected\n", (long)cred.pid); /* an agent taking over, for the log */
        }
    }
}

static int interface_index(const char *name) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int index = fd >= 0 && ioctl(fd, SIOCGIFINDEX, &ifr) == 0 ? ifr.ifr_ifindex : -1;
    if (fd >= 0) close(fd);
    return index;
}

/* The interface that holds the node's address: where tunnel packets arrive and leave. */
static int underlay_ifindex(uint32_t local) {
    struct ifaddrs *all;
    if (getifaddrs(&all) < 0) return -1;
    int index = -1;
    for (struct ifaddrs *a = all; a; a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
        if (((struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr == local) {
            index = interface_index(a->ifa_name);
            break;
        }
    }
    freeifaddrs(all);
    return index;
}

int main(int argc, char **argv) {
    const char *log_path = NULL;
    if (argc != 3 && argc != 5 && argc != 7) goto usage;
    for (int i = 3; i < argc; i += 2) {
        if (strcmp(argv[i], "--control") == 0) control_path = argv[i + 1];
        else if (strcmp(argv[i], "--log") == 0) log_path = argv[i + 1];
        else goto usage;
    }
    if (log_path && !control_path) goto usage;
    ifname_arg = argv[1];
    local_arg = argv[2];
    if (!control_path) {
        /* On stdin: live exactly as long as the parent. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() == 1) return 0;
    } else {
        /* On a socket: outlive the agent. Its own session (the spawner may have made one
         * already), and no signal from a closed terminal or pipe. */
        setsid();
        signal(SIGHUP, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
    }

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

    int listener = control_path ? make_control_socket(control_path) : -1;

    /* The kernel fast path, unless this kernel cannot take it (or GINGHAM_TUNL0_FASTPATH=off asks
     * for the pump alone). Said once it is known where messages go. */
    char fast_message[320];
    const char *fast_env = getenv("GINGHAM_TUNL0_FASTPATH");
    int underlay = underlay_ifindex(local.s_addr);
    local_address = local.s_addr;
    underlay_index = underlay;
    if (fast_env && strcmp(fast_env, "off") == 0) {
        snprintf(fast_message, sizeof fast_message, "kernel fast path off (GINGHAM_TUNL0_FASTPATH=off): the pump carries every packet");
    } else if (underlay <= 0) {
        snprintf(fast_message, sizeof fast_message, "kernel fast path off: no interface holds %s", argv[2]);
    } else if (tunl0_bpf_start(&fast, (tun_ifindex = interface_index(ifr.ifr_name)), underlay, local.s_addr) < 0) {
        snprintf(fast_message, sizeof fast_message, "kernel fast path off (%s): the pump carries every packet", fast.error);
    } else {
        fast_on = 1;
        snprintf(fast_message, sizeof fast_message, "kernel fast path on: BPF on %s egress and on the underlay's ingress", ifr.ifr_name);
    }

    pthread_t tx, rx;
    if (pthread_create(&tx, NULL, tun_to_wire, NULL) != 0 || pthread_create(&rx, NULL, wire_to_tun, NULL) != 0) die("start the pump threads");
    pthread_t watcher;
    if (fast_on && pthread_create(&watcher, NULL, watch_captures, NULL) != 0) die("start the capture watcher");
    printf("ready\n");
    fflush(stdout);
    if (!control_path) {
        fprintf(stderr, "gingham-tunl0: %s\n", fast_message);
        stdin_loop();
        return 0;
    }
    /* The agent's pipes may close at any time from now on: messages go to the log. */
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    int log = log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
    if (devnull >= 0) dup2(devnull, 0), dup2(devnull, 1);
    if (log >= 0 || devnull >= 0) dup2(log >= 0 ? log : devnull, 2);
    fprintf(stderr, "gingham-tunl0: %s\n", fast_message);
    socket_loop(listener);
    return 0;

usage:
    fprintf(stderr, "usage: gingham-tunl0 IFNAME LOCAL_IPV4 [--control SOCKET [--log FILE]]\n");
    return 64;
}
