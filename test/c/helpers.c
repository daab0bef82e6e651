/*
 * Kernel differential program (test/progs-kernel.test.ts): the helpers a
 * test run can observe. XDP: bpf_redirect's verdict, tail calls through a
 * prog array (filled by the harness: slot 0 xdp_tail_a, slot 1
 * xdp_tail_b, slot 2 empty), a queue and a stack fed per frame, an LPM
 * trie updated and looked up, bpf_get_smp_processor_id. tc: bpf_csum_diff,
 * bpf_l3_csum_replace and bpf_l4_csum_replace over an IPv4/TCP rewrite
 * (the frame after the run shows the checksums), bpf_redirect's TC verdict,
 * bpf_skb_change_tail, bpf_trace_printk's result. Results go to `out`.
 * XDP again: bpf_xdp_get_buff_len, bpf_xdp_load_bytes and
 * bpf_xdp_store_bytes at the frame's start and end (in a fragment for the
 * long frames), across the buffer and its first fragment, one byte too
 * far (-EINVAL, the buffer left alone), past 0xffff (-EFAULT); results
 * summed over the frames in `sums`. tc again: the __sk_buff accesses the
 * kernel rewrites at load (narrow loads inside a field, stores to its u16
 * fields), summed over the frames in `ctxsums`.
 * Build: node scripts/build-kernel-progs.mjs
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 24);
  __type(key, __u32);
  __type(value, __s64);
} out SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, 4);
  __type(key, __u32);
  __type(value, __u32);
} jumps SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_QUEUE);
  __uint(max_entries, 8);
  __type(value, __u32);
} fifo SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_STACK);
  __uint(max_entries, 4);
  __type(value, __u16);
} lifo SEC(".maps");

struct lpm_key { __u32 prefixlen; __u8 addr[4]; };

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 16);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct lpm_key);
  __type(value, __u32);
} routes SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 16);
  __type(key, __u32);
  __type(value, __s64);
} sums SEC(".maps");

static __always_inline void put(__u32 k, __s64 v) { bpf_map_update_elem(&out, &k, &v, BPF_ANY); }
static __always_inline void add(__u32 k, __s64 v) {
  __s64 *p = bpf_map_lookup_elem(&out, &k);
  if (p) *p += v;
}

SEC("xdp") int xdp_tail_a(struct xdp_md *ctx) { add(0, 1); return XDP_PASS; }
SEC("xdp") int xdp_tail_b(struct xdp_md *ctx) { add(1, 1); return XDP_DROP; }

SEC("xdp") int xdp_helpers(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  if (data + 34 > end) {
    add(2, 1);
    return bpf_redirect(7, 0);
  }
  __u8 *b = data;
  __u32 len = end - data;
  put(3, bpf_get_smp_processor_id());
  /* a queue of lengths (the oldest dropped when full), a stack of ethertypes (full: an error) */
  put(4, bpf_map_push_elem(&fifo, &len, BPF_EXIST));
  __u16 type = b[12] << 8 | b[13];
  put(5, bpf_map_push_elem(&lifo, &type, 0));
  /* the source address as a /24 route, then the longest match for the destination */
  struct lpm_key k = { 24, { b[26], b[27], b[28], 0 } };
  bpf_map_update_elem(&routes, &k, &len, BPF_ANY);
  struct lpm_key q = { 32, { b[30], b[31], b[32], b[33] } };
  __u32 *hit = bpf_map_lookup_elem(&routes, &q);
  put(6, hit ? *hit : -1);
  /* redirect with flags the helper refuses */
  if (b[23] == 17) return bpf_redirect(3, 8);
  /* tail calls: TCP to slot 0, frames of 100 bytes or more to slot 1, else the empty slot 2 */
  __u32 slot = b[23] == 6 && len < 100 ? 0 : len >= 100 ? 1 : 2;
  bpf_tail_call(ctx, &jumps, slot);
  add(7, 1);
  return XDP_TX;
}

SEC("tc") int tc_csum(struct __sk_buff *skb) {
  void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
  if (data + 54 > end) {
    char fmt[] = "short %d";
    put(8, bpf_trace_printk(fmt, sizeof(fmt), skb->len));
    return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
  }
  __u8 *b = data;
  if (b[12] != 0x08 || b[13] != 0x00 || b[23] != 6) return TC_ACT_OK;
  /* the old values first: the helpers below invalidate packet pointers */
  __be16 old_ttl = *(__be16 *)(b + 22);
  __be16 old_port = *(__be16 *)(b + 36);
  __be32 old_ip = *(__be32 *)(b + 26);
  /* TTL - 1, the IPv4 checksum fixed with l3_csum_replace */
  __be16 new_ttl = old_ttl - 1; /* the TTL is the first byte in memory: its low byte */
  bpf_skb_store_bytes(skb, 22, &new_ttl, 2, 0);
  put(9, bpf_l3_csum_replace(skb, 24, old_ttl, new_ttl, 2));
  /* destination port -> 8080 with l4_csum_replace on the TCP checksum */
  __be16 new_port = __builtin_bswap16(8080);
  bpf_skb_store_bytes(skb, 36, &new_port, 2, 0);
  put(10, bpf_l4_csum_replace(skb, 50, old_port, new_port, 2));
  /* the source address -> 10.9.9.9: csum_diff, then the pseudo-header in the TCP checksum */
  __be32 new_ip = 0x0909090a;
  __s64 diff = bpf_csum_diff(&old_ip, 4, &new_ip, 4, 0);
  put(11, diff);
  bpf_skb_store_bytes(skb, 26, &new_ip, 4, 0);
  put(12, bpf_l3_csum_replace(skb, 24, 0, diff, 0));
  put(13, bpf_l4_csum_replace(skb, 50, old_ip, new_ip, BPF_F_PSEUDO_HDR | 4));
  /* grow the frame by 6 bytes, then cut 2 */
  put(14, bpf_skb_change_tail(skb, skb->len + 6, 0));
  put(15, bpf_skb_change_tail(skb, skb->len - 2, 0));
  /* 4 zero bytes in front; then the limits, which change nothing */
  put(16, bpf_skb_change_head(skb, 4, 0));
  put(17, bpf_skb_change_tail(skb, 13, 0));
  put(18, bpf_skb_change_tail(skb, 16065, 0));
  put(19, bpf_skb_change_head(skb, 16064 - skb->len + 1, 0));
  put(20, bpf_skb_change_tail(skb, skb->len, 1));
  put(21, skb->len);
  return TC_ACT_PIPE;
}

static __always_inline void sum(__u32 k, __s64 v) {
  __s64 *p = bpf_map_lookup_elem(&sums, &k);
  if (p) *p += v;
}

SEC("xdp") int xdp_bytes(struct xdp_md *ctx) {
  __u32 len = bpf_xdp_get_buff_len(ctx);
  __u64 buf[2];
  sum(0, len);
  /* the first 16 bytes (-EINVAL for the shortest frames) */
  buf[0] = buf[1] = 0x5a5a5a5a5a5a5a5aULL;
  sum(1, bpf_xdp_load_bytes(ctx, 0, buf, 16));
  sum(2, buf[0] ^ buf[1]);
  /* the last 8 bytes: in a fragment when the frame has one */
  buf[0] = 0x5a5a5a5a5a5a5a5aULL;
  sum(3, bpf_xdp_load_bytes(ctx, len - 8, buf, 8));
  sum(4, buf[0]);
  /* one byte past the end: -EINVAL, the buffer as it was */
  buf[0] = 0x1111111111111111ULL;
  sum(5, bpf_xdp_load_bytes(ctx, len - 7, buf, 8));
  sum(6, buf[0]);
  /* an offset above 0xffff: -EFAULT */
  sum(7, bpf_xdp_load_bytes(ctx, 0x10000, buf, 4));
  /* across the buffer's end and the first fragment when there is one */
  if (len > 3530) {
    sum(8, bpf_xdp_load_bytes(ctx, 3512, buf, 16));
    sum(9, buf[0] ^ buf[1]);
  }
  /* the source MAC's last byte, then the frame's last 8 bytes; 8 bytes 4 from the end: -EINVAL */
  __u8 m = len & 0xff;
  sum(10, bpf_xdp_store_bytes(ctx, 11, &m, 1));
  buf[0] = 0x0807060504030201ULL;
  sum(11, bpf_xdp_store_bytes(ctx, len - 8, buf, 8));
  sum(12, bpf_xdp_store_bytes(ctx, len - 4, buf, 8));
  /* across the buffer's end and the first fragment */
  if (len > 3530) sum(13, bpf_xdp_store_bytes(ctx, 3516, buf, 8));
  return XDP_PASS;
}

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 12);
  __type(key, __u32);
  __type(value, __s64);
} ctxsums SEC(".maps");

static __always_inline void csum_(__u32 k, __s64 v) {
  __s64 *p = bpf_map_lookup_elem(&ctxsums, &k);
  if (p) *p += v;
}

/* a narrow load of `type` at byte `at` of field `f` */
#define AT(type, f, at) (*(volatile type *)((volatile char *)&skb->f + (at)))

SEC("tc") int tc_ctx(struct __sk_buff *ctx) {
  volatile struct __sk_buff *skb = ctx;
  csum_(0, AT(__u16, pkt_type, 2));
  csum_(1, AT(__u8, pkt_type, 3));
  csum_(2, AT(__u16, protocol, 2));
  csum_(3, AT(__u8, protocol, 1));
  /* 0xffff and more: ignored (the frames from 656 bytes on) */
  skb->queue_mapping = skb->len * 100;
  csum_(4, AT(__u16, queue_mapping, 2));
  csum_(5, AT(__u8, queue_mapping, 1));
  skb->tc_index = skb->len * 1000;
  csum_(6, AT(__u16, tc_index, 2));
  csum_(7, AT(__u8, tc_index, 2));
  skb->tc_classid = skb->len * 77777;
  csum_(8, skb->tc_classid);
  csum_(9, AT(__u16, len, 2));
  csum_(10, AT(__u16, mark, 2));
  return skb->queue_mapping;
}

char _license[] SEC("license") = "GPL";
