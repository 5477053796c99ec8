/*
 * The kernel fast path of gingham-tunl0 (see tunl0-bpf.h): both programs written here as BPF
 * instructions, so that the helper needs no compiler for BPF and no library to load them; the
 * kernel's verifier checks every packet access before it runs a single one.
 */
#define _GNU_SOURCE
#include "tunl0-bpf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Newer than the uapi headers Debian 12 ships (6.1); the values are the kernel's ABI. */
#define TCX_INGRESS 46 /* BPF_TCX_INGRESS, Linux 6.6 */
#define TCX_EGRESS 47  /* BPF_TCX_EGRESS */
#define ADJ_ROOM_DECAP_L3_IPV4 (1 << 7) /* BPF_F_ADJ_ROOM_DECAP_L3_IPV4, Linux 6.3 */
#define TCX_NEXT (-1) /* not ours: the next program, then the stack (and so the pump) */
#define TCX_DROP 2
/* Outer header + inner TCP super-packet must fit IPv4's 16-bit length. */
#define ENCAP_MAX (65535 - 20)

enum { COUNT_ENCAPSULATED, COUNT_DECAPSULATED };

static long sys_bpf(int cmd, union bpf_attr *attr) {
    return syscall(__NR_bpf, cmd, attr, sizeof *attr);
}

/* ---- A program being written: instructions, and jumps that wait for their label ---- */

enum label { L_NEXT, L_DROP, L_COUNTED, L_LABELS };

struct prog {
    struct bpf_insn insn[160];
    int count;
    int label[L_LABELS];
    struct { int at; enum label to; } fixup[40];
    int fixups;
};

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

static void emit(struct prog *p, struct bpf_insn insn) {
    if (p->count < (int)(sizeof p->insn / sizeof p->insn[0])) p->insn[p->count] = insn;
    p->count++; /* an overflow shows in finish() */
}
static void mov(struct prog *p, int dst, int32_t imm) { emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)); }
static void movr(struct prog *p, int dst, int src) { emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)); }
static void alu(struct prog *p, int op, int dst, int32_t imm) { emit(p, INSN(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm)); }
static void alur(struct prog *p, int op, int dst, int src) { emit(p, INSN(BPF_ALU64 | op | BPF_X, dst, src, 0, 0)); }
static void ldx(struct prog *p, int size, int dst, int src, int16_t off) { emit(p, INSN(BPF_LDX | size | BPF_MEM, dst, src, off, 0)); }
static void stx(struct prog *p, int size, int dst, int16_t off, int src) { emit(p, INSN(BPF_STX | size | BPF_MEM, dst, src, off, 0)); }
static void st(struct prog *p, int size, int dst, int16_t off, int32_t imm) { emit(p, INSN(BPF_ST | size | BPF_MEM, dst, 0, off, imm)); }
static void call(struct prog *p, int helper) { emit(p, INSN(BPF_JMP | BPF_CALL, 0, 0, 0, helper)); }
static void leave(struct prog *p) { emit(p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)); }
static void place(struct prog *p, enum label l) { p->label[l] = p->count; }

static void jump_to(struct prog *p, struct bpf_insn insn, enum label to) {
    if (p->fixups < (int)(sizeof p->fixup / sizeof p->fixup[0])) p->fixup[p->fixups] = (typeof(p->fixup[0])){p->count, to};
    p->fixups++;
    emit(p, insn);
}
/* if (dst OP imm) goto to: 64-bit compare */
static void jmp(struct prog *p, int op, int dst, int32_t imm, enum label to) { jump_to(p, INSN(BPF_JMP | op | BPF_K, dst, 0, 0, imm), to); }
/* the same on the low 32 bits (an IPv4 address loaded as a word) */
static void jmp32(struct prog *p, int op, int dst, int32_t imm, enum label to) { jump_to(p, INSN(BPF_JMP32 | op | BPF_K, dst, 0, 0, imm), to); }
static void jmpr(struct prog *p, int op, int dst, int src, enum label to) { jump_to(p, INSN(BPF_JMP | op | BPF_X, dst, src, 0, 0), to); }

static void load_map(struct prog *p, int dst, int fd) {
    emit(p, INSN(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, fd));
    emit(p, INSN(0, 0, 0, 0, 0));
}

/* r0 = the value for the key at fp+key (NULL when there is none); r1-r5 are the call's. */
static void lookup(struct prog *p, int map, int16_t key) {
    load_map(p, BPF_REG_1, map);
    movr(p, BPF_REG_2, BPF_REG_10);
    alu(p, BPF_ADD, BPF_REG_2, key);
    call(p, BPF_FUNC_map_lookup_elem);
}

/* r0 = the one slot of an array map (its key, 0, at fp-40). */
static void lookup_slot(struct prog *p, int map) {
    st(p, BPF_W, BPF_REG_10, -40, 0);
    lookup(p, map, -40);
}

/* counters[0].field += 1 (atomically: both CPUs may count at once). */
static void count(struct prog *p, int counters, int field) {
    lookup_slot(p, counters);
    jmp(p, BPF_JEQ, BPF_REG_0, 0, L_COUNTED);
    mov(p, BPF_REG_1, 1);
    emit(p, INSN(BPF_STX | BPF_DW | BPF_ATOMIC, BPF_REG_0, BPF_REG_1, (int16_t)(field * 8), BPF_ADD));
    place(p, L_COUNTED);
}

static void verdicts(struct prog *p) {
    place(p, L_NEXT);
    mov(p, BPF_REG_0, TCX_NEXT);
    leave(p);
    place(p, L_DROP);
    mov(p, BPF_REG_0, TCX_DROP);
    leave(p);
}

static int finish(struct prog *p) {
    if (p->count > (int)(sizeof p->insn / sizeof p->insn[0]) || p->fixups > (int)(sizeof p->fixup / sizeof p->fixup[0])) return -1;
    for (int i = 0; i < p->fixups; i++) p->insn[p->fixup[i].at].off = (int16_t)(p->label[p->fixup[i].to] - p->fixup[i].at - 1);
    return 0;
}

#define SKB(field) ((int16_t)offsetof(struct __sk_buff, field))
enum { R0 = BPF_REG_0, R1, R2, R3, R4, R5, R6, R7, R8, R9, FP };

/* r3-r5 for a helper that takes the outer header on the stack: its address, 20 bytes, 0. */
static void header_args(struct prog *p) {
    movr(p, R3, FP);
    alu(p, BPF_ADD, R3, -32);
    mov(p, R4, 20);
    mov(p, R5, 0);
}

/*
 * tunl0 egress. The packet starts at its IPv4 header (TUN is a layer-3 device). The outer header
 * is built on the stack at fp-32 .. fp-13 while the inner one can still be read; the route key at
 * fp-8: {32, destination}.
 */
static void write_encap(struct prog *p, int routes, int counters, int config, uint32_t local, int underlay) {
    movr(p, R6, R1);
    /* While a capture watches tunl0, every packet goes through the device (see tunl0_bpf_watched). */
    lookup_slot(p, config);
    jmp(p, BPF_JEQ, R0, 0, L_NEXT);
    ldx(p, BPF_W, R1, R0, 0);
    jmp(p, BPF_JNE, R1, 0, L_NEXT);
    ldx(p, BPF_W, R2, R6, SKB(data));
    ldx(p, BPF_W, R3, R6, SKB(data_end));
    movr(p, R4, R2);
    alu(p, BPF_ADD, R4, 20);
    jmpr(p, BPF_JGT, R4, R3, L_NEXT);
    ldx(p, BPF_W, R1, R6, SKB(len));
    jmp(p, BPF_JGT, R1, ENCAP_MAX, L_NEXT);
    ldx(p, BPF_B, R1, R2, 0);
    jmp(p, BPF_JNE, R1, 0x45, L_NEXT); /* IP options: the pump */

    st(p, BPF_B, FP, -32, 0x45);
    ldx(p, BPF_B, R1, R2, 1);
    stx(p, BPF_B, FP, -31, R1); /* the inner TOS, as the kernel's ipip device copies it */
    st(p, BPF_H, FP, -30, 0);   /* length, once the room is made */
    ldx(p, BPF_H, R1, R2, 4);
    stx(p, BPF_H, FP, -28, R1); /* the inner ID: GSO counts up from it, GRO wants that */
    st(p, BPF_H, FP, -26, 0);   /* no DF: fragment rather than refuse, as the pump does */
    st(p, BPF_B, FP, -24, 64);
    st(p, BPF_B, FP, -23, 4); /* IPPROTO_IPIP */
    st(p, BPF_H, FP, -22, 0);
    st(p, BPF_W, FP, -20, (int32_t)local);

    st(p, BPF_W, FP, -8, 32);
    ldx(p, BPF_W, R1, R2, 16);
    stx(p, BPF_W, FP, -4, R1);
    lookup(p, routes, -8);
    jmp(p, BPF_JEQ, R0, 0, L_NEXT); /* no next hop: the pump counts it */
    ldx(p, BPF_W, R1, R0, 0);
    stx(p, BPF_W, FP, -16, R1);

    movr(p, R1, R6);
    mov(p, R2, 20);
    mov(p, R3, BPF_ADJ_ROOM_MAC);
    mov(p, R4, BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4);
    call(p, BPF_FUNC_skb_adjust_room);
    jmp(p, BPF_JNE, R0, 0, L_DROP);

    ldx(p, BPF_W, R1, R6, SKB(len));
    emit(p, INSN(BPF_ALU | BPF_END | BPF_TO_BE, R1, 0, 0, 16));
    stx(p, BPF_H, FP, -30, R1);
    mov(p, R1, 0);
    mov(p, R2, 0);
    header_args(p);
    call(p, BPF_FUNC_csum_diff);
    movr(p, R1, R0); /* fold the 32-bit sum to 16 bits, twice, and invert */
    alu(p, BPF_RSH, R1, 16);
    alu(p, BPF_AND, R0, 0xffff);
    alur(p, BPF_ADD, R0, R1);
    movr(p, R1, R0);
    alu(p, BPF_RSH, R1, 16);
    alur(p, BPF_ADD, R0, R1);
    alu(p, BPF_XOR, R0, 0xffff);
    alu(p, BPF_AND, R0, 0xffff);
    stx(p, BPF_H, FP, -22, R0);

    movr(p, R1, R6);
    mov(p, R2, 0);
    header_args(p);
    call(p, BPF_FUNC_skb_store_bytes);
    jmp(p, BPF_JNE, R0, 0, L_DROP);
    /* Room for an Ethernet header in front (zeros, which bpf_redirect_neigh takes off again and
     * writes for real): it redirects only packets that carry one, and TUN's carry none. */
    movr(p, R1, R6);
    mov(p, R2, 14);
    mov(p, R3, 0);
    call(p, BPF_FUNC_skb_change_head);
    jmp(p, BPF_JNE, R0, 0, L_DROP);

    count(p, counters, COUNT_ENCAPSULATED);
    /* The kernel's FIB picks the next hop for the outer destination, and the neighbour table
     * its MAC: the node itself on its subnet, the subnet's router beyond. */
    mov(p, R1, underlay);
    mov(p, R2, 0);
    mov(p, R3, 0);
    mov(p, R4, 0);
    call(p, BPF_FUNC_redirect_neigh);
    leave(p);
    verdicts(p);
}

/*
 * Underlay ingress. The packet starts at its Ethernet header. Only unfragmented IP-in-IP without
 * options, to this node's address, from a host in the set, with an IPv4 packet inside; the source
 * key at fp-4.
 */
static void write_decap(struct prog *p, int hosts, int counters, uint32_t local, int tun) {
    movr(p, R6, R1);
    ldx(p, BPF_W, R2, R6, SKB(data));
    ldx(p, BPF_W, R3, R6, SKB(data_end));
    movr(p, R4, R2);
    alu(p, BPF_ADD, R4, 14 + 20 + 20);
    jmpr(p, BPF_JGT, R4, R3, L_NEXT);
    ldx(p, BPF_H, R1, R2, 12);
    jmp(p, BPF_JNE, R1, 0x0008, L_NEXT); /* ETH_P_IP, as the wire has it */
    ldx(p, BPF_B, R1, R2, 14);
    jmp(p, BPF_JNE, R1, 0x45, L_NEXT);
    ldx(p, BPF_B, R1, R2, 14 + 9);
    jmp(p, BPF_JNE, R1, 4, L_NEXT);
    ldx(p, BPF_H, R1, R2, 14 + 6);
    alu(p, BPF_AND, R1, 0xff3f); /* MF and the offset, DF aside: fragments go to the stack */
    jmp(p, BPF_JNE, R1, 0, L_NEXT);
    ldx(p, BPF_W, R1, R2, 14 + 16);
    jmp32(p, BPF_JNE, R1, (int32_t)local, L_NEXT);
    ldx(p, BPF_B, R1, R2, 14 + 20);
    alu(p, BPF_AND, R1, 0xf0);
    jmp(p, BPF_JNE, R1, 0x40, L_NEXT);
    ldx(p, BPF_W, R1, R2, 14 + 12);
    stx(p, BPF_W, FP, -4, R1);
    lookup(p, hosts, -4);
    jmp(p, BPF_JEQ, R0, 0, L_NEXT); /* not a cluster host: the pump counts and drops it */

    movr(p, R1, R6);
    mov(p, R2, -20);
    mov(p, R3, BPF_ADJ_ROOM_MAC);
    mov(p, R4, BPF_F_ADJ_ROOM_FIXED_GSO | ADJ_ROOM_DECAP_L3_IPV4);
    call(p, BPF_FUNC_skb_adjust_room);
    jmp(p, BPF_JNE, R0, 0, L_DROP);
    count(p, counters, COUNT_DECAPSULATED);
    /* Received on tunl0, as from the kernel's ipip device: its routes, rp_filter and rules apply. */
    mov(p, R1, tun);
    mov(p, R2, BPF_F_INGRESS);
    call(p, BPF_FUNC_redirect);
    leave(p);
    verdicts(p);
}

/* ---- Loading ---- */

static int make_map(struct tunl0_bpf *b, const char *name, int type, int key, int value, int entries, int flags) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = (uint32_t)type;
    a.key_size = (uint32_t)key;
    a.value_size = (uint32_t)value;
    a.max_entries = (uint32_t)entries;
    a.map_flags = (uint32_t)flags;
    snprintf(a.map_name, sizeof a.map_name, "%s", name);
    int fd = (int)sys_bpf(BPF_MAP_CREATE, &a);
    if (fd < 0) snprintf(b->error, sizeof b->error, "create the BPF map %s: %s", name, strerror(errno));
    return fd;
}

static int load(struct tunl0_bpf *b, struct prog *p, const char *name) {
    if (finish(p) < 0) {
        snprintf(b->error, sizeof b->error, "the program %s is longer than its buffer", name);
        return -1;
    }
    static char log[1 << 16];
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_SCHED_CLS;
    a.insns = (uint64_t)(uintptr_t)p->insn;
    a.insn_cnt = (uint32_t)p->count;
    a.license = (uint64_t)(uintptr_t)"Apache-2.0"; /* no GPL-only helper is used */
    snprintf(a.prog_name, sizeof a.prog_name, "%s", name);
    int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
    if (fd >= 0) return fd;
    /* Again with the verifier's log, to say why. */
    a.log_buf = (uint64_t)(uintptr_t)log;
    a.log_size = sizeof log;
    a.log_level = 1;
    log[0] = 0;
    fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
    if (fd >= 0) return fd;
    size_t n = strlen(log);
    const char *tail = n > 160 ? log + n - 160 : log;
    snprintf(b->error, sizeof b->error, "load %s: %s; %s", name, strerror(errno), tail);
    for (char *c = b->error; *c; c++)
        if (*c == '\n') *c = ' ';
    return -1;
}

static int attach(struct tunl0_bpf *b, int prog, int ifindex, int type, const char *what) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.link_create.prog_fd = (uint32_t)prog;
    a.link_create.target_ifindex = (uint32_t)ifindex;
    a.link_create.attach_type = (uint32_t)type;
    int fd = (int)sys_bpf(BPF_LINK_CREATE, &a);
    if (fd < 0) snprintf(b->error, sizeof b->error, "attach to %s (tcx, Linux 6.6 and later): %s", what, strerror(errno));
    return fd;
}

static int counters_map = -1;
static int config_map = -1; /* [0]: 1 while tunl0's outgoing packets must take the device (tunl0_bpf_watched) */

static int start(struct tunl0_bpf *b, int tun_ifindex, int underlay_ifindex, uint32_t local);

int tunl0_bpf_start(struct tunl0_bpf *b, int tun_ifindex, int underlay_ifindex, uint32_t local) {
    if (start(b, tun_ifindex, underlay_ifindex, local) == 0) return 0;
    /* Nothing half-made stays: the pump works alone. */
    int *fds[] = {&b->routes_map, &b->hosts_map, &counters_map, &config_map, &b->links[0], &b->links[1]};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (*fds[i] >= 0) close(*fds[i]), *fds[i] = -1;
    return -1;
}

static int start(struct tunl0_bpf *b, int tun_ifindex, int underlay_ifindex, uint32_t local) {
    memset(b, 0, sizeof *b);
    b->routes_map = b->hosts_map = b->links[0] = b->links[1] = -1;
    b->routes_map = make_map(b, "tunl0_routes", BPF_MAP_TYPE_LPM_TRIE, 8, 4, 1 << 20, BPF_F_NO_PREALLOC);
    if (b->routes_map < 0) return -1;
    b->hosts_map = make_map(b, "tunl0_hosts", BPF_MAP_TYPE_HASH, 4, 4, 1 << 20, BPF_F_NO_PREALLOC);
    if (b->hosts_map < 0) return -1;
    counters_map = make_map(b, "tunl0_counts", BPF_MAP_TYPE_ARRAY, 4, 16, 1, 0);
    if (counters_map < 0) return -1;
    config_map = make_map(b, "tunl0_config", BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
    if (config_map < 0) return -1;
    static struct prog encap, decap;
    write_encap(&encap, b->routes_map, counters_map, config_map, local, underlay_ifindex);
    write_decap(&decap, b->hosts_map, counters_map, local, tun_ifindex);
    int out = load(b, &encap, "tunl0_encap");
    if (out < 0) return -1;
    int in = load(b, &decap, "tunl0_decap");
    if (in < 0) {
        close(out);
        return -1;
    }
    /* Decapsulation first: a route in the map before the peer can take the packets is harmless,
     * the other order would send what the far end cannot take yet. Both are live only once the
     * agent has given the tables. */
    b->links[0] = attach(b, in, underlay_ifindex, TCX_INGRESS, "the underlay's ingress");
    if (b->links[0] >= 0) b->links[1] = attach(b, out, tun_ifindex, TCX_EGRESS, "tunl0's egress");
    close(out); /* the links hold the programs */
    close(in);
    return b->links[0] >= 0 && b->links[1] >= 0 ? 0 : -1;
}

void tunl0_bpf_counts(unsigned long *encapsulated, unsigned long *decapsulated) {
    uint64_t values[2] = {0, 0};
    uint32_t key = 0;
    *encapsulated = *decapsulated = 0;
    if (counters_map < 0) return;
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)counters_map;
    a.key = (uint64_t)(uintptr_t)&key;
    a.value = (uint64_t)(uintptr_t)values;
    if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a) == 0) {
        *encapsulated = (unsigned long)values[COUNT_ENCAPSULATED];
        *decapsulated = (unsigned long)values[COUNT_DECAPSULATED];
    }
}

void tunl0_bpf_watched(int watched) {
    uint32_t key = 0, value = watched ? 1 : 0;
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)config_map;
    a.key = (uint64_t)(uintptr_t)&key;
    a.value = (uint64_t)(uintptr_t)&value;
    a.flags = BPF_ANY;
    if (config_map >= 0) sys_bpf(BPF_MAP_UPDATE_ELEM, &a);
}

/* ---- Tables ---- */

static int update(int map, const void *key, const void *value) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)map;
    a.key = (uint64_t)(uintptr_t)key;
    a.value = (uint64_t)(uintptr_t)value;
    a.flags = BPF_ANY;
    return (int)sys_bpf(BPF_MAP_UPDATE_ELEM, &a);
}

/* Deletes every key of `map` for which `keep` says no: the new entries are in before the old go. */
static void prune(int map, size_t key_size, int (*keep)(const void *key, const void *ctx), const void *ctx) {
    unsigned char key[8], next[8];
    size_t cap = 256, n = 0;
    unsigned char *doomed = malloc(cap * key_size);
    if (!doomed) return;
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)map;
    a.key = 0; /* the first key */
    a.next_key = (uint64_t)(uintptr_t)next;
    while (sys_bpf(BPF_MAP_GET_NEXT_KEY, &a) == 0) {
        if (!keep(next, ctx)) {
            if (n == cap) {
                unsigned char *grown = realloc(doomed, (cap *= 2) * key_size);
                if (!grown) break;
                doomed = grown;
            }
            memcpy(doomed + n++ * key_size, next, key_size);
        }
        memcpy(key, next, key_size);
        a.key = (uint64_t)(uintptr_t)key;
    }
    for (size_t i = 0; i < n; i++) {
        memset(&a, 0, sizeof a);
        a.map_fd = (uint32_t)map;
        a.key = (uint64_t)(uintptr_t)(doomed + i * key_size);
        sys_bpf(BPF_MAP_DELETE_ELEM, &a);
    }
    free(doomed);
}

struct route_key {
    uint32_t prefix;
    uint32_t net; /* network byte order */
};

static int by_key(const void *a, const void *b) {
    const struct route_key *x = a, *y = b;
    if (x->prefix != y->prefix) return x->prefix < y->prefix ? -1 : 1;
    return x->net == y->net ? 0 : (x->net < y->net ? -1 : 1);
}

struct route_set {
    struct route_key *keys; /* sorted by by_key */
    size_t count;
};

static int route_wanted(const void *key, const void *ctx) {
    const struct route_set *s = ctx;
    return bsearch(key, s->keys, s->count, sizeof *s->keys, by_key) != NULL;
}

int tunl0_bpf_set_routes(struct tunl0_bpf *b, const uint32_t *nets, const int *prefixes, const uint32_t *gateways, size_t count) {
    int failed = 0;
    for (size_t i = 0; i < count; i++) {
        struct route_key key = {(uint32_t)prefixes[i], nets[i]};
        if (update(b->routes_map, &key, &gateways[i]) < 0) failed = -1;
    }
    struct route_set set = {calloc(count ? count : 1, sizeof(struct route_key)), count};
    if (!set.keys) return -1; /* the old routes stay beside the new: nothing is lost */
    for (size_t i = 0; i < count; i++) set.keys[i] = (struct route_key){(uint32_t)prefixes[i], nets[i]};
    qsort(set.keys, count, sizeof *set.keys, by_key);
    prune(b->routes_map, sizeof(struct route_key), route_wanted, &set);
    free(set.keys);
    return failed;
}

struct host_set {
    const uint32_t *addresses; /* host byte order, sorted */
    size_t count;
};

static int host_wanted(const void *key, const void *ctx) {
    uint32_t address;
    memcpy(&address, key, 4);
    const struct host_set *s = ctx;
    uint32_t wanted = ntohl(address);
    size_t lo = 0, hi = s->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->addresses[mid] == wanted) return 1;
        if (s->addresses[mid] < wanted) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

int tunl0_bpf_set_hosts(struct tunl0_bpf *b, const uint32_t *addresses, size_t count) {
    int failed = 0;
    const uint32_t one = 1;
    for (size_t i = 0; i < count; i++) {
        uint32_t key = htonl(addresses[i]);
        if (update(b->hosts_map, &key, &one) < 0) failed = -1;
    }
    struct host_set set = {addresses, count};
    prune(b->hosts_map, 4, host_wanted, &set);
    return failed;
}
