// gingham-route-writer: programs IPv4 routes over rtnetlink, many per sendmsg, without waiting for
// each acknowledgement as `ip -batch` does (which makes a million routes take minutes).
// Usage: gingham-route-writer TABLE PROTOCOL [IFINDEX]   (IFINDEX > 0: routes are `dev IF onlink`)
// stdin: 8-byte records, two 32-bit words in host byte order (kernel-routes.ts and the dataplane's
// kernel/route-writer.ts write them):
//   word 1: IPv4 address (as a number); word 2: bit 31 delete, bits 25-30 prefix length,
//   bit 24 replace (an add that takes the place of the route with the same key, whoever's it is),
//   bits 0-23 next hop index. Prefix length 63 defines next hop `index` as the gateway in word 1
//   (with the default device and flags: IFINDEX, onlink when given). Lengths 62 and 61 then amend
//   that next hop: 62 sets its device (word 1 an interface index, 0 for none), 61 its form
//   (word 1: bits 0-15 MTU, 0 for none; bit 16 onlink; bit 17 scope link; bit 18 blackhole;
//   bit 19 no gateway). Length 60 is a sync: everything before it is sent and answered, then
//   "sync WORD1" is printed on stderr (after every refusal before it).
// stderr: one line per route the kernel refused: "error ERRNO-TEXT: A|D a.b.c.d/LEN".
//
// Only the last request of each batch asks for an acknowledgement: the kernel answers requests
// in order and reports every failure even unasked, so when that one acknowledgement arrives all
// errors of the batch have too. An acknowledgement per route cost about a third of the kernel's
// time for a full table.
//
// Only routes of our protocol are touched, unless a record says replace. A delete names the
// protocol (the kernel then deletes only a route of it). An add is exclusive (NLM_F_EXCL), never
// NLM_F_REPLACE, which would take the place of whatever route has the same key: a connected
// route, the dataplane's proto 71 route, an admin's. For an add the kernel refuses with EEXIST,
// the route there is read (RTM_GETROUTE): one of ours exactly as asked is left as it is (the CNI
// plugin made a pod's /32 between the dataplane's read and its write); one of ours with another
// next hop (a next hop change, our previous run's route kept over a graceful restart) is replaced
// in place, atomically, never deleted first (a delete and add left the prefix without a route for
// a moment: a new pod's packets met its block's blackhole); another protocol's stays, and the
// refusal is reported ("error File exists: A a.b.c.d/LEN ...") and the writer goes on. When the
// read does not show that exact route (gone meanwhile), the add is tried once more, exclusively.
// A replace is for a caller that has just read the route there (the dataplane replacing its own
// route in place, or adopting a pod's /32).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 1024
#define MSG_SPACE 96
#define DELETE 0x80000000u
#define REPLACE 0x01000000u
#define LENGTH_SHIFT 25
#define NEXT_HOP_MASK ((1u << 24) - 1)
#define DEFINE_NEXT_HOP 63
#define NEXT_HOP_DEVICE 62
#define NEXT_HOP_FORM 61
#define SYNC 60
#define MAX_NEXT_HOPS 65536
#define FORM_MTU 0xffffu
#define FORM_ONLINK (1u << 16)
#define FORM_SCOPE_LINK (1u << 17)
#define FORM_BLACKHOLE (1u << 18)
#define FORM_NO_GATEWAY (1u << 19)

/** Where and how a route goes: gateway, device (0: none), form bits (FORM_*). */
struct hop { uint32_t gw; uint32_t oif; uint32_t form; };

/** op: 'A' add, 'P' replace, 'D' delete, 'R' the retried add (the route that refused it gone), 'O' the replace of our own route that refused it. */
struct pending { char op; uint32_t dst; unsigned char len; struct hop hop; };

static int fd;
static unsigned table, proto, ifindex;
static char out[BATCH * MSG_SPACE];
static size_t out_used, last_off;
static struct pending sent[BATCH];
static int count;
static uint32_t seq_base = 1;
static struct hop next_hops[MAX_NEXT_HOPS];
static unsigned char next_hop_known[MAX_NEXT_HOPS];
/** Adds refused with EEXIST in the last batch, to retry after deleting our own route. */
static struct pending retry[BATCH];
static uint32_t retry_index[BATCH];
static int retries;

static void add_attr(struct nlmsghdr *n, unsigned short type, const void *data, unsigned short len) {
  struct rtattr *rta = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));
  rta->rta_type = type;
  rta->rta_len = RTA_LENGTH(len);
  memcpy(RTA_DATA(rta), data, len);
  n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static void report(uint32_t seq, int error) {
  uint32_t idx = seq - seq_base;
  if (error == 0 || idx >= (uint32_t)count) return;
  struct pending *p = &sent[idx];
  // A delete of a route that is already gone is not worth reporting.
  if (p->op == 'D' && error == -ESRCH) return;
  if (p->op == 'A' && error == -EEXIST) {
    retry_index[retries] = idx;
    retry[retries++] = *p;
    return;
  }
  struct in_addr a = { .s_addr = htonl(p->dst) };
  if (p->op == 'R' && error == -EEXIST) {
    fprintf(stderr, "error %s: A %s/%u (a route of another protocol is there: left as it is)\n", strerror(-error), inet_ntoa(a), p->len);
    return;
  }
  fprintf(stderr, "error %s: %c %s/%u\n", strerror(-error), p->op == 'R' || p->op == 'P' || p->op == 'O' ? 'A' : p->op, inet_ntoa(a), p->len);
}

static const struct hop no_hop;
static int queue_request(char op, uint32_t address, unsigned len, const struct hop *hop);

/** A route as the kernel reads it back: its protocol and where and how it goes. */
struct found { unsigned proto; struct hop hop; };

/**
 * Reads the main-table route for exactly ADDRESS/LEN (RTM_GETROUTE with RTM_F_FIB_MATCH: the
 * matching FIB entry, not a resolved path). False when the entry the kernel matches is another
 * prefix or table (the exact one is gone). Called between batches, so the socket has no other
 * answer pending.
 */
static int read_route(uint32_t address, unsigned len, struct found *out) {
  struct { struct nlmsghdr h; struct rtmsg rt; char attrs[64]; } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
  req.h.nlmsg_type = RTM_GETROUTE;
  req.h.nlmsg_flags = NLM_F_REQUEST;
  req.h.nlmsg_seq = seq_base++;
  req.rt.rtm_family = AF_INET;
  req.rt.rtm_dst_len = 32;
  req.rt.rtm_flags = RTM_F_FIB_MATCH;
  uint32_t dst = htonl(address);
  add_attr(&req.h, RTA_DST, &dst, 4);
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
  if (sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof sa) < 0) return 0;
  static char rbuf[1 << 14];
  for (;;) {
    ssize_t r = recv(fd, rbuf, sizeof rbuf, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 0;
    for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, (unsigned)r); h = NLMSG_NEXT(h, r)) {
      if (h->nlmsg_seq != req.h.nlmsg_seq) continue;
      if (h->nlmsg_type != RTM_NEWROUTE) return 0;
      struct rtmsg *rt = NLMSG_DATA(h);
      unsigned rt_table = rt->rtm_table;
      uint32_t rt_dst = 0;
      memset(out, 0, sizeof *out);
      out->proto = rt->rtm_protocol;
      if (rt->rtm_type == RTN_BLACKHOLE) out->hop.form |= FORM_BLACKHOLE;
      if (rt->rtm_scope == RT_SCOPE_LINK) out->hop.form |= FORM_SCOPE_LINK;
      if (rt->rtm_flags & RTNH_F_ONLINK) out->hop.form |= FORM_ONLINK;
      int has_gw = 0;
      int left = (int)RTM_PAYLOAD(h);
      for (struct rtattr *a = RTM_RTA(rt); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
        if (a->rta_type == RTA_DST && RTA_PAYLOAD(a) == 4) memcpy(&rt_dst, RTA_DATA(a), 4);
        else if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) == 4) memcpy(&rt_table, RTA_DATA(a), 4);
        else if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == 4) { uint32_t gw; memcpy(&gw, RTA_DATA(a), 4); out->hop.gw = ntohl(gw); has_gw = 1; }
        else if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4) memcpy(&out->hop.oif, RTA_DATA(a), 4);
        else if (a->rta_type == RTA_METRICS) {
          int mleft = (int)RTA_PAYLOAD(a);
          for (struct rtattr *m = RTA_DATA(a); RTA_OK(m, mleft); m = RTA_NEXT(m, mleft)) {
            if (m->rta_type == RTAX_MTU && RTA_PAYLOAD(m) == 4) { uint32_t mtu; memcpy(&mtu, RTA_DATA(m), 4); out->hop.form |= mtu & FORM_MTU; }
          }
        }
      }
      if (!has_gw) out->hop.form |= FORM_NO_GATEWAY;
      unsigned want_table = table ? table : RT_TABLE_MAIN;
      return rt->rtm_dst_len == len && ntohl(rt_dst) == address && rt_table == want_table;
    }
  }
}

/** Whether the route read back goes where and how `want` says (the forms compared as the kernel keeps them). */
static int same_hop(const struct found *there, const struct hop *want) {
  unsigned relevant = FORM_MTU | FORM_ONLINK | FORM_SCOPE_LINK | FORM_BLACKHOLE;
  if (want->form & FORM_BLACKHOLE) return (there->hop.form & FORM_BLACKHOLE) != 0;
  int want_gw = !(want->form & FORM_NO_GATEWAY);
  int there_gw = !(there->hop.form & FORM_NO_GATEWAY);
  if (want_gw != there_gw || (want_gw && there->hop.gw != want->gw)) return 0;
  if (want->oif && there->hop.oif != want->oif) return 0;
  return (there->hop.form & relevant) == (want->form & relevant);
}

/** Sends the batch (the last request asks for an acknowledgement) and reads the answers up to it. */
static void flush_batch(void) {
  if (count == 0) return;
  ((struct nlmsghdr *)(out + last_off))->nlmsg_flags |= NLM_F_ACK;
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
  if (sendto(fd, out, out_used, 0, (struct sockaddr *)&sa, sizeof sa) < 0) {
    fprintf(stderr, "error sendto: %s\n", strerror(errno));
    exit(1);
  }
  uint32_t last_seq = seq_base + (uint32_t)count - 1;
  static char rbuf[1 << 17];
  for (int done = 0; !done;) {
    ssize_t r = recv(fd, rbuf, sizeof rbuf, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "error recv: %s\n", strerror(errno));
      exit(1);
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, (unsigned)r); h = NLMSG_NEXT(h, r)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue;
      struct nlmsgerr *e = NLMSG_DATA(h);
      report(h->nlmsg_seq, e->error);
      if (h->nlmsg_seq == last_seq) done = 1;
    }
  }
  // A refused add that a later request of the batch superseded (a delete, another next hop) is not retried.
  struct pending again[BATCH];
  int n = 0;
  for (int r = 0; r < retries; r++) {
    int later = 0;
    for (int j = (int)retry_index[r] + 1; j < count && !later; j++) later = sent[j].dst == retry[r].dst && sent[j].len == retry[r].len;
    if (!later) again[n++] = retry[r];
  }
  retries = 0;
  seq_base += (uint32_t)count;
  count = 0;
  out_used = 0;
  fflush(stderr);
  if (n == 0) return;
  // Each refused add: what is there decides (see the top of this file).
  for (int i = 0; i < n; i++) {
    struct found there;
    int known = read_route(again[i].dst, again[i].len, &there);
    struct in_addr a = { .s_addr = htonl(again[i].dst) };
    if (known && there.proto != proto) {
      fprintf(stderr, "error %s: A %s/%u (a route of another protocol is there: left as it is)\n", strerror(EEXIST), inet_ntoa(a), again[i].len);
      continue;
    }
    if (known && same_hop(&there, &again[i].hop)) continue;
    queue_request(known ? 'O' : 'R', again[i].dst, again[i].len, &again[i].hop);
    if (count >= BATCH) flush_batch();
  }
  flush_batch();
}

/** Adds one request to the batch: an exclusive add (A, R), a replace (P, O) or a delete of our protocol's route (D). */
static int queue_request(char op, uint32_t address, unsigned len, const struct hop *hop) {
  int del = op == 'D';
  struct nlmsghdr *h = (struct nlmsghdr *)(out + out_used);
  memset(h, 0, MSG_SPACE);
  h->nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
  h->nlmsg_type = del ? RTM_DELROUTE : RTM_NEWROUTE;
  h->nlmsg_flags = NLM_F_REQUEST | (del ? 0 : op == 'P' || op == 'O' ? NLM_F_CREATE | NLM_F_REPLACE : NLM_F_CREATE | NLM_F_EXCL);
  h->nlmsg_seq = seq_base + (uint32_t)count;
  struct rtmsg *rt = NLMSG_DATA(h);
  rt->rtm_family = AF_INET;
  rt->rtm_dst_len = (unsigned char)len;
  rt->rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
  rt->rtm_protocol = (unsigned char)proto;
  int blackhole = !del && (hop->form & FORM_BLACKHOLE);
  rt->rtm_scope = del ? RT_SCOPE_NOWHERE : (hop->form & FORM_SCOPE_LINK) ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  rt->rtm_type = del ? RTN_UNSPEC : blackhole ? RTN_BLACKHOLE : RTN_UNICAST;
  if (!del && !blackhole && (hop->form & FORM_ONLINK)) rt->rtm_flags |= RTNH_F_ONLINK;
  uint32_t dst = htonl(address);
  add_attr(h, RTA_DST, &dst, 4);
  if (table >= 256) add_attr(h, RTA_TABLE, &table, 4);
  if (!del && !blackhole) {
    uint32_t gw = htonl(hop->gw);
    if (!(hop->form & FORM_NO_GATEWAY)) add_attr(h, RTA_GATEWAY, &gw, 4);
    if (hop->oif) add_attr(h, RTA_OIF, &hop->oif, 4);
    uint32_t mtu = hop->form & FORM_MTU;
    if (mtu) {
      // RTA_METRICS holds RTAX_MTU: a nested attribute of 8 bytes inside one of 4.
      struct rtattr *metrics = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
      metrics->rta_type = RTA_METRICS;
      metrics->rta_len = RTA_LENGTH(RTA_LENGTH(4));
      struct rtattr *m = RTA_DATA(metrics);
      m->rta_type = RTAX_MTU;
      m->rta_len = RTA_LENGTH(4);
      memcpy(RTA_DATA(m), &mtu, 4);
      h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(metrics->rta_len);
    }
  }
  last_off = out_used;
  sent[count].op = op;
  sent[count].dst = address;
  sent[count].len = (unsigned char)len;
  sent[count].hop = del ? no_hop : *hop;
  out_used += NLMSG_ALIGN(h->nlmsg_len);
  count++;
  return 1;
}

/** Adds one record's request to the batch; false (and a message) when the record is bad or defines a next hop. */
static int queue_record(uint32_t address, uint32_t word) {
  unsigned len = (word >> LENGTH_SHIFT) & 63;
  uint32_t index = word & NEXT_HOP_MASK;
  if (len == SYNC) {
    flush_batch();
    fprintf(stderr, "sync %u\n", address);
    fflush(stderr);
    return 0;
  }
  if (len == DEFINE_NEXT_HOP || len == NEXT_HOP_DEVICE || len == NEXT_HOP_FORM) {
    if (index >= MAX_NEXT_HOPS) { fprintf(stderr, "error next hop index %u too large\n", index); return 0; }
    struct hop *hop = &next_hops[index];
    if (len == DEFINE_NEXT_HOP) {
      hop->gw = address;
      hop->oif = ifindex;
      hop->form = ifindex ? FORM_ONLINK : 0;
      next_hop_known[index] = 1;
    } else if (!next_hop_known[index]) {
      fprintf(stderr, "error next hop %u amended before it was defined\n", index);
    } else if (len == NEXT_HOP_DEVICE) {
      hop->oif = address;
    } else {
      hop->form = address;
    }
    return 0;
  }
  int del = (word & DELETE) != 0;
  if (len > 32 || (!del && (index >= MAX_NEXT_HOPS || !next_hop_known[index]))) {
    fprintf(stderr, "error bad record: %08x %08x\n", address, word);
    return 0;
  }
  return queue_request(del ? 'D' : (word & REPLACE) ? 'P' : 'A', address, len, del ? &no_hop : &next_hops[index]);
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
  int rcv = 4 << 20, snd = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
  // Errors name the request by sequence number only: no copy of it in each error message.
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  struct sockaddr_nl local = { .nl_family = AF_NETLINK };
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) { perror("bind"); return 1; }
  // A bigger pipe lets the speaker hand over more per write while the kernel is busy (best effort).
  (void)fcntl(0, F_SETPIPE_SZ, 1 << 20);

  static uint32_t in[1 << 15];
  size_t have = 0; // bytes in `in`
  for (;;) {
    ssize_t r = read(0, (char *)in + have, sizeof in - have);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    have += (size_t)r;
    size_t records = have / 8;
    for (size_t i = 0; i < records; i++) {
      if (queue_record(in[2 * i], in[2 * i + 1]) && count == BATCH) flush_batch();
    }
    size_t left = have - records * 8;
    memmove(in, (char *)in + records * 8, left);
    have = left;
    // The input paused (a read returns what is there): send now, so a trickle is not held back.
    flush_batch();
  }
  flush_batch();
  return 0;
}
