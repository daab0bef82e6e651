/*
 * Kernel differential program (test/progs-kernel.test.ts): the modern maps
 * and data a program keeps across frames. A per-CPU array and an LRU hash
 * count frames (per length bucket and per ethertype), an LRU hash of 4
 * entries keeps the last frames' lengths by sequence number, a ring buffer gets
 * one record per frame (reserve/submit for IPv4, output for the rest,
 * discard for ARP), globals in .rodata, .data and .bss are read and
 * updated, and the atomics (fetch_add, fetch_or, fetch_and, fetch_xor,
 * xchg, cmpxchg, on 32 and 64 bits) keep their results in .bss.
 * Build: node scripts/build-kernel-progs.mjs
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 8);
  __type(key, __u32);
  __type(value, __u64);
} len_buckets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16);
  __type(key, __u16);
  __type(value, __u64);
} by_type SEC(".maps");

/* an LRU hash smaller than the keys it is given: the kernel's eviction order shows */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4);
  __type(key, __u32);
  __type(value, __u32);
} recent SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 16);
  __type(key, __u32);
  __type(value, __u32);
} pc_hash SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} events SEC(".maps");

struct event { __u32 len; __u16 type; __u8 first; __u8 seq; };

const volatile __u32 bucket_shift = 5;       /* .rodata */
const volatile __u64 salt = 0x0102030405060708ULL;
__u32 threshold = 100;                        /* .data */
__u64 frames;                                  /* .bss */
__u64 big_bytes;
__u64 a_or, a_and = ~0ULL, a_xor, a_xchg, a_cmp, a_old[6];
__u32 w_add, w_cmp, w_old[3];
__u8 seq;

SEC("xdp") int xdp_counters(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  if (data + 14 > end) return XDP_ABORTED;
  __u8 *b = data;
  __u32 len = end - data;
  __u16 type = b[12] << 8 | b[13];

  __u32 bucket = len >> bucket_shift;
  if (bucket > 7) bucket = 7;
  __u64 *c = bpf_map_lookup_elem(&len_buckets, &bucket);
  if (c) *c += 1;

  __u64 *t = bpf_map_lookup_elem(&by_type, &type);
  if (t) __sync_fetch_and_add(t, len);
  else { __u64 v = len; bpf_map_update_elem(&by_type, &type, &v, BPF_NOEXIST); }

  __u32 k = len & 0xf, one = 1;
  __u32 *h = bpf_map_lookup_elem(&pc_hash, &k);
  if (h) *h += 1;
  else bpf_map_update_elem(&pc_hash, &k, &one, BPF_ANY);

  __u8 s = seq++;
  __u32 rk = s, rv = len;
  bpf_map_update_elem(&recent, &rk, &rv, BPF_ANY);
  __u32 old = s > 2 ? s - 3 : 0;
  __u32 *seen_old = bpf_map_lookup_elem(&recent, &old);
  if (seen_old) *seen_old += 1;
  if (type == 0x0800) {
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (e) { e->len = len; e->type = type; e->first = b[0]; e->seq = s; bpf_ringbuf_submit(e, 0); }
  } else if (type == 0x0806) {
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (e) { e->len = 0xffff; bpf_ringbuf_discard(e, 0); }
  } else {
    struct event e = { len, type, b[0], s };
    bpf_ringbuf_output(&events, &e, sizeof(e), 0);
  }

  __sync_fetch_and_add(&frames, 1);
  if (len > threshold) { big_bytes += len; threshold += 10; }
  a_old[0] = __sync_fetch_and_or(&a_or, salt << (len & 31));
  a_old[1] = __sync_fetch_and_and(&a_and, ~(1ULL << (len & 63)));
  a_old[2] = __sync_fetch_and_xor(&a_xor, (__u64)len * 0x9e3779b97f4a7c15ULL);
  a_old[3] = __atomic_exchange_n(&a_xchg, (__u64)len, __ATOMIC_SEQ_CST);
  a_old[4] = __sync_val_compare_and_swap(&a_cmp, a_old[3], (__u64)len);
  w_old[0] = __sync_fetch_and_add(&w_add, len);
  w_old[1] = __sync_val_compare_and_swap(&w_cmp, 0, len);
  w_old[2] = __atomic_exchange_n(&w_cmp, w_old[1] + 1, __ATOMIC_SEQ_CST);
  return len > threshold ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
