// gingham-route-writer: programs IPv4 routes over rtnetlink, many per sendmsg, without waiting for
// each acknowledgement as `ip -batch` does (which makes a million routes take minutes).
// Usage: gingham-route-writer TABLE PROTOCOL [IFINDEX]   (IFINDEX > 0: routes are `dev IF onlink`)
// stdin, one per line:  A a.b.c.d LEN g.h.i.j   (add or replace)   |   D a.b.c.d LEN   (delete)
// stderr: one line per route the kernel refused: "error ERRNO-TEXT: A|D a.b.c.d/LEN".
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 256
#define MSG_SPACE 128

struct pending { char op; unsigned dst; unsigned char len; };

static int fd;
static unsigned table, proto, ifindex;
static char buf[BATCH * MSG_SPACE];
static struct pending sent[BATCH];
static unsigned seq_base = 1;

static void add_attr(struct nlmsghdr *n, unsigned short type, const void *data, unsigned short len) {
  struct rtattr *rta = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));
  rta->rta_type = type;
  rta->rta_len = RTA_LENGTH(len);
  memcpy(RTA_DATA(rta), data, len);
  n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static void flush_batch(int count) {
  if (count == 0) return;
  size_t total = 0;
  for (int i = 0; i < count; i++) total += ((struct nlmsghdr *)(buf + i * MSG_SPACE))->nlmsg_len;
  // Messages sit at fixed offsets; pack them contiguously for one sendmsg.
  static char out[BATCH * MSG_SPACE];
  size_t off = 0;
  for (int i = 0; i < count; i++) {
    struct nlmsghdr *n = (struct nlmsghdr *)(buf + i * MSG_SPACE);
    memcpy(out + off, n, n->nlmsg_len);
    off += NLMSG_ALIGN(n->nlmsg_len);
  }
  (void)total;
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
  if (sendto(fd, out, off, 0, (struct sockaddr *)&sa, sizeof sa) < 0) {
    fprintf(stderr, "error sendto: %s\n", strerror(errno));
    exit(1);
  }
  int acked = 0;
  static char rbuf[65536];
  while (acked < count) {
    ssize_t r = recv(fd, rbuf, sizeof rbuf, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "error recv: %s\n", strerror(errno));
      exit(1);
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, (unsigned)r); h = NLMSG_NEXT(h, r)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue;
      struct nlmsgerr *e = NLMSG_DATA(h);
      unsigned idx = h->nlmsg_seq - seq_base;
      if (e->error != 0 && idx < (unsigned)count) {
        struct in_addr a = { .s_addr = htonl(sent[idx].dst) };
        // A delete of a route that is already gone is not worth reporting.
        if (!(sent[idx].op == 'D' && e->error == -ESRCH))
          fprintf(stderr, "error %s: %c %s/%u\n", strerror(-e->error), sent[idx].op, inet_ntoa(a), sent[idx].len);
      }
      acked++;
    }
  }
  seq_base += count;
  fflush(stderr);
}

/** Parses one input line into the batch at slot `count`; false (and a message) when it is bad. */
static int queue_line(const char *line, int count) {
  char op, dst[32], gw[32] = "";
  unsigned len;
  int n = sscanf(line, "%c %31s %u %31s", &op, dst, &len, gw);
  struct in_addr d, g;
  if (n < 3 || (op != 'A' && op != 'D') || inet_pton(AF_INET, dst, &d) != 1 || len > 32 || (op == 'A' && (n < 4 || inet_pton(AF_INET, gw, &g) != 1))) {
    fprintf(stderr, "error bad input line: %s\n", line);
    return 0;
  }
  struct nlmsghdr *h = (struct nlmsghdr *)(buf + count * MSG_SPACE);
  memset(h, 0, MSG_SPACE);
  h->nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
  h->nlmsg_type = op == 'A' ? RTM_NEWROUTE : RTM_DELROUTE;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (op == 'A' ? NLM_F_CREATE | NLM_F_REPLACE : 0);
  h->nlmsg_seq = seq_base + count;
  struct rtmsg *rt = NLMSG_DATA(h);
  rt->rtm_family = AF_INET;
  rt->rtm_dst_len = (unsigned char)len;
  rt->rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
  rt->rtm_protocol = (unsigned char)proto;
  rt->rtm_scope = op == 'A' ? RT_SCOPE_UNIVERSE : RT_SCOPE_NOWHERE;
  rt->rtm_type = op == 'A' ? RTN_UNICAST : RTN_UNSPEC;
  if (ifindex && op == 'A') rt->rtm_flags |= RTNH_F_ONLINK;
  add_attr(h, RTA_DST, &d, 4);
  if (table >= 256) add_attr(h, RTA_TABLE, &table, 4);
  if (op == 'A') {
    add_attr(h, RTA_GATEWAY, &g, 4);
    if (ifindex) add_attr(h, RTA_OIF, &ifindex, 4);
  }
  sent[count].op = op;
  sent[count].dst = ntohl(d.s_addr);
  sent[count].len = (unsigned char)len;
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s TABLE PROTOCOL [IFINDEX]\n", argv[0]);
    return 2;
  }
  table = (unsigned)strtoul(argv[1], NULL, 10);
  proto = (unsigned)strtoul(argv[2], NULL, 10);
  ifindex = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 0;
  fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) { perror("socket(NETLINK_ROUTE)"); return 1; }
  int rcv = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  struct sockaddr_nl local = { .nl_family = AF_NETLINK };
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) { perror("bind"); return 1; }

  static char in[1 << 16];
  size_t have = 0;
  int count = 0;
  for (;;) {
    ssize_t r = read(0, in + have, sizeof in - have);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    have += (size_t)r;
    char *line = in, *nl;
    while ((nl = memchr(line, '\n', have - (size_t)(line - in))) != NULL) {
      *nl = 0;
      if (queue_line(line, count)) {
        if (++count == BATCH) { flush_batch(count); count = 0; }
      }
      line = nl + 1;
    }
    have -= (size_t)(line - in);
    memmove(in, line, have);
    // The input paused (a read returns what is there): send now, so a trickle is not held back.
    flush_batch(count);
    count = 0;
  }
  flush_batch(count);
  return 0;
}
