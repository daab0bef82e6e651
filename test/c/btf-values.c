/*
 * BTF values (test/btf-values.test.ts): maps whose keys and values use every
 * kind a value can have, for the codec's round trips and for the formatted
 * dump compared with `bpftool -j map dump` of the same maps in the host
 * kernel (floats are in `stats` apart: bpftool 7.1 cannot print them). The XDP program counts frames per flow (a struct key, a struct of
 * two counters as value) and keeps the last frame's details in `last`.
 * Build: node scripts/build-kernel-progs.mjs
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct flow_key {
  __u32 saddr;
  __u32 daddr;
  __u16 sport;
  __u16 dport;
  __u8 proto;
};

struct counters {
  __u64 packets;
  __u64 bytes;
};

enum verdict { V_PASS = 2, V_DROP = 1, V_ABORT = 0, V_NEG = -3 };

typedef __u32 ifindex_t;

/* a one-byte enum: bpftool reads its values signed */
enum __attribute__((packed)) tiny { T_ONE = 1, T_BIG = 200 };

struct detail {
  char name[8];
  enum verdict verdict;
  _Bool seen;
  signed char delta;
  short adjust;
  unsigned int low : 3, mid : 12, : 5, high : 12;
  int neg : 4;
  __u64 big : 40;
  union {
    __u32 word;
    __u8 bytes[4];
  };
  struct {
    __u16 inner_a;
    __u16 inner_b;
  } named;
  const volatile ifindex_t ifindex;
  void *ptr;
  enum tiny tiny;
  char letter;
  __s64 offset;
  unsigned __int128 wide;
  __u32 history[3];
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, struct flow_key);
  __type(value, struct counters);
} flows SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, struct detail);
} last SEC(".maps");

struct measure {
  float ratio;
  double mean;
  __u16 count;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct measure);
} stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, struct counters);
} per_cpu SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8);
  __type(key, enum verdict);
  __type(value, char[16]);
} names SEC(".maps");

/* global data, read only by the program: its maps dump as bpftool shows a DATASEC */
const volatile __u16 port = 80;
const volatile struct { __u8 a; __u32 b; } cfg = { 1, 2 };
__u64 counter = 7;
char tag[8] = "v1";
__u32 seen_total;

SEC("xdp")
int count_flows(struct xdp_md *ctx)
{
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  __u8 *p = data;
  struct flow_key key = {};
  __u32 zero = 0;

  if (p + 34 > (__u8 *)data_end)
    return XDP_PASS;
  if (port == 0 && cfg.a == 9 && counter == 3 && tag[0] == 'x' && seen_total == 5)
    return XDP_DROP;
  key.proto = p[23];
  key.saddr = *(__u32 *)(p + 26);
  key.daddr = *(__u32 *)(p + 30);
  if ((key.proto == 6 || key.proto == 17) && p + 38 <= (__u8 *)data_end) {
    key.sport = (p[34] << 8) | p[35];
    key.dport = (p[36] << 8) | p[37];
  }
  struct counters *c = bpf_map_lookup_elem(&flows, &key);
  if (c) {
    __sync_fetch_and_add(&c->packets, 1);
    __sync_fetch_and_add(&c->bytes, (__u64)(data_end - data));
  } else {
    struct counters init = { 1, (__u64)(data_end - data) };
    bpf_map_update_elem(&flows, &key, &init, BPF_ANY);
  }
  struct counters *pc = bpf_map_lookup_elem(&per_cpu, &zero);
  if (pc) {
    pc->packets += 1;
    pc->bytes += data_end - data;
  }
  struct detail *d = bpf_map_lookup_elem(&last, &zero);
  if (d) {
    d->seen = 1;
    d->verdict = V_PASS;
    d->history[0] = d->history[1];
    d->history[1] = d->history[2];
    d->history[2] = (__u32)(data_end - data);
    d->word = key.saddr;
  }
  struct measure *m = bpf_map_lookup_elem(&stats, &zero);
  if (m)
    m->count += 1;
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
