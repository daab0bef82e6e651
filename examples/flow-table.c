/*
 * A flow table keyed by the 5-tuple: packets and bytes per IPv4 TCP/UDP flow
 * in a hash map, inserted with BPF_NOEXIST on first sight, then updated in
 * place. Build: clang -O2 -target bpf -c examples/flow-table.c -o examples/flow-table.o
 */
#include "bpf-helpers.h"

struct flow {
  unsigned int saddr;
  unsigned int daddr;
  unsigned short sport;
  unsigned short dport;
  unsigned char proto;
  unsigned char pad[3];
};

struct counters {
  unsigned long long packets;
  unsigned long long bytes;
};

SEC("maps") struct bpf_map_def flows = { .type = BPF_MAP_TYPE_HASH, .key_size = sizeof(struct flow), .value_size = sizeof(struct counters), .max_entries = 1024 };

SEC("socket1") int flow_table(struct skb_ctx *skb) {
  if (load_half(skb, 12) != 0x0800) return 0;
  unsigned int proto = load_byte(skb, 23);
  if (proto != 6 && proto != 17) return 0;
  unsigned int ihl = (load_byte(skb, 14) & 0xf) * 4;
  struct flow key = {};
  key.saddr = load_word(skb, 26);
  key.daddr = load_word(skb, 30);
  key.sport = load_half(skb, 14 + ihl);
  key.dport = load_half(skb, 14 + ihl + 2);
  key.proto = proto;
  struct counters *c = bpf_map_lookup_elem(&flows, &key);
  if (!c) {
    struct counters first = { 1, skb->len };
    bpf_map_update_elem(&flows, &key, &first, BPF_NOEXIST);
    return 0;
  }
  __sync_fetch_and_add(&c->packets, 1);
  __sync_fetch_and_add(&c->bytes, skb->len);
  return 0;
}

SEC("license") char _license[] = "GPL";
