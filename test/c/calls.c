/*
 * Kernel differential program for what the loader links (test/calls.test.ts,
 * test/progs-kernel.test.ts): bpf-to-bpf calls to static __noinline
 * functions in .text (one touching a map and global data, one called from
 * three programs, a chain three deep), a global function (the kernel
 * verifies it on its own from BTF; tsbpf in the caller's context), bpf_loop
 * and bpf_for_each_map_elem with C callbacks, a tail call through a prog
 * array filled statically with __array(values, ...), and an array and a
 * hash of maps whose inner maps are named statically the same way. Each
 * XDP/tc program leaves its results in `out`; the inner maps change too.
 * The maps of maps are used by xdp_inner alone.
 * Build: node scripts/build-kernel-progs.mjs
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct bpf_map;

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 16);
  __type(key, __u32);
  __type(value, __u64);
} out SEC(".maps");

struct inner {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 4);
  __type(key, __u32);
  __type(value, __u32);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, 3);
  __type(key, __u32);
  __array(values, struct inner);
} by_index SEC(".maps") = { .values = { [0] = &inner_a, [2] = &inner_b } };

struct {
  __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
  __uint(max_entries, 8);
  __type(key, __u32);
  __array(values, struct inner);
} by_key SEC(".maps") = { .values = { [1] = &inner_b, [5] = &inner_a } };

int xdp_tail(struct xdp_md *ctx);

struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __array(values, int (void *));
} jumps SEC(".maps") = { .values = { [1] = (void *)&xdp_tail } };

__u64 calls;       /* .bss: every bump() */
__u32 salt = 7;    /* .data: mixed into mix() */

/* static, in .text: a map and global data from an appended function */
static __noinline __u64 bump(__u32 k, __u64 v) {
  __u64 *p = bpf_map_lookup_elem(&out, &k);
  if (p) *p += v;
  calls++;
  return v;
}

/* three deep: level1 -> level2 -> level3 */
static __noinline __u32 level3(__u32 x) { return x * 5 + 1; }
static __noinline __u32 level2(__u32 x) { return level3(x ^ 0x55) + 2; }
static __noinline __u32 level1(__u32 x) { return level2(x + 3) * 3; }

/* global: the kernel verifies it apart, from its BTF prototype */
__noinline int mix(__u32 a, __u32 b) {
  return (a * 31 + b) ^ salt;
}

/*
 * The callbacks add to unbounded sums in their caller's stack: the
 * verifier widens such imprecise numbers after a callback's run, else
 * their states would never converge at the helper call.
 */
struct loop_ctx { __u32 n; __u64 sum; };

static int loop_step(__u32 i, struct loop_ctx *c) {
  c->sum += i * 3 + 1;
  return i + 1 >= c->n;
}

struct each_ctx { __u32 add; __u64 sum; };

static __u64 each_elem(struct bpf_map *map, __u32 *key, __u32 *val, struct each_ctx *c) {
  c->sum += *val * 10 + *key;
  *val = (*val + c->add) & 0xff;
  return *key >= 2;
}

/* a map of maps: the inner map at `at`, then its element `k` incremented */
static __always_inline void touch(void *outer, __u32 at, __u32 k) {
  void *m = bpf_map_lookup_elem(outer, &at);
  if (!m) { bump(12, 1); return; }
  __u32 *v = bpf_map_lookup_elem(m, &k);
  if (v) *v += at + 1;
}

SEC("xdp") int xdp_calls(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  __u32 len = end - data;
  __u8 b = 0;
  if (data + 14 <= end) b = ((__u8 *)data)[13];
  bump(0, 1);
  bump(1, level1(len));
  bump(2, mix(len, b));
  struct loop_ctx lc = { .n = (len & 7) + 1, .sum = 0 };
  bump(3, bpf_loop(16, loop_step, &lc, 0));
  bump(4, lc.sum);
  return len & 1 ? XDP_PASS : XDP_DROP;
}

SEC("xdp") int xdp_each(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  __u8 b = 0;
  if (data + 14 <= end) b = ((__u8 *)data)[13];
  struct each_ctx ec = { .add = b & 3, .sum = 0 };
  bump(5, bpf_for_each_map_elem(&inner_a, each_elem, &ec, 0));
  bump(6, ec.sum);
  return XDP_PASS;
}

/* the maps of maps, apart: a lookup in the outer map gives the inner map, which the second lookup takes */
SEC("xdp") int xdp_inner(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  __u32 len = end - data;
  __u8 b = 0;
  if (data + 14 <= end) b = ((__u8 *)data)[13];
  touch(&by_index, len % 3, b & 3);
  touch(&by_key, len % 7, len & 3);
  return bump(13, level3(len)) & 1 ? XDP_PASS : XDP_DROP;
}

SEC("xdp") int xdp_tail(struct xdp_md *ctx) {
  bump(7, 1);
  return XDP_TX;
}

SEC("xdp") int xdp_jump(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  __u32 len = end - data;
  bump(8, mix(len, 1) & 0xff);
  bpf_tail_call(ctx, &jumps, len & 1);
  bump(9, 1);
  return XDP_PASS;
}

SEC("tc") int tc_calls(struct __sk_buff *skb) {
  bump(10, level1(skb->len));
  bump(11, mix(skb->protocol, skb->len));
  return skb->len > 100 ? TC_ACT_SHOT : TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
